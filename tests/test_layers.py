"""Layers and Sequential: API contract, flat buffers, init, gradients, bad input."""

import copy

import numpy as np
import pytest
import reference as ref

import numbann as nb
from numbann.kernels import activations as act_k
from numbann.kernels import dense as dense_k
from numbann.kernels import losses as loss_k

ACT_LAYERS = [nb.Identity, nb.Sigmoid, nb.Tanh, nb.ReLU, nb.Softmax]


def small_model(dtype=np.float32, seed=0):
    return nb.Sequential(
        nb.Linear(6, 5, rng=seed, dtype=dtype), nb.ReLU(),
        nb.Linear(5, 4, rng=seed + 1, dtype=dtype), nb.Tanh(),
        nb.Linear(4, 3, rng=seed + 2, dtype=dtype),
    )


# --- structure and contract -----------------------------------------------------


def test_repr_len_indexing_and_names():
    model = small_model()
    text = repr(model)
    assert text.splitlines()[0] == "Sequential("
    assert "  (0): Linear(in_features=6, out_features=5, bias=True)" in text
    assert "  (1): ReLU()" in text and text.endswith(")")
    assert len(model) == 5 and isinstance(model[3], nb.Tanh) and list(model)[4] is model[4]
    names = [n for n, _ in model.named_parameters()]
    assert names == ["0.weight", "0.bias", "2.weight", "2.bias", "4.weight", "4.bias"]
    assert list(model.state_dict()) == names
    assert model.in_features == 6 and model.out_features == 3
    assert model.train() is model and model.training and not model.eval().training


def test_parameters_are_views_of_one_flat_buffer():
    model = small_model()
    flat, grads = model.flat_parameters, model.flat_gradients
    assert flat.ndim == 1 and flat.size == 6 * 5 + 5 + 5 * 4 + 4 + 4 * 3 + 3
    offset = 0
    for p in model.parameters():
        assert np.shares_memory(p.data, flat) and np.shares_memory(p.grad, grads)
        np.testing.assert_array_equal(p.data.ravel(), flat[offset:offset + p.size])
        offset += p.size
    w = model[0].weight
    w.data = np.ones((6, 5))  # assignment copies into the view
    assert np.all(flat[:30] == 1) and np.shares_memory(w.data, flat)
    with pytest.raises(ValueError, match=r"shape \(6, 5\).*shape \(5, 6\)"):
        w.data = np.ones((5, 6))
    flat[0] = 42.0
    assert model[0].weight.data[0, 0] == 42.0


def test_layer_values_survive_joining_a_model_and_a_layer_cannot_join_two():
    lin = nb.Linear(3, 2, rng=0)
    before = lin.weight.data.copy()
    model = nb.Sequential(lin)
    np.testing.assert_array_equal(model[0].weight.data, before)
    with pytest.raises(ValueError, match="already belongs to another model"):
        nb.Sequential(lin)
    nb.Sequential(copy.deepcopy(lin))  # a copy is fine


def test_construction_errors():
    with pytest.raises(ValueError, match="expects 4 inputs but layer 0 gives 5"):
        nb.Sequential(nb.Linear(3, 5), nb.ReLU(), nb.Linear(4, 2))
    with pytest.raises(TypeError, match="different dtypes"):
        nb.Sequential(nb.Linear(3, 4), nb.Linear(4, 2, dtype=np.float64))
    with pytest.raises(ValueError, match="at least one"):
        nb.Sequential()
    with pytest.raises(TypeError, match="layer 1 is a str"):
        nb.Sequential(nb.Linear(3, 4), "relu")
    relu = nb.ReLU()
    with pytest.raises(ValueError, match="appears twice"):
        nb.Sequential(nb.Linear(3, 3), relu, nb.Linear(3, 3), relu)
    with pytest.raises(ValueError, match="positive integer"):
        nb.Linear(0, 3)
    with pytest.raises(TypeError, match="float32 or float64"):
        nb.Linear(2, 3, dtype=np.int32)
    with pytest.raises(ValueError, match="unknown init"):
        nb.Linear(2, 3, init="orthogonal")
    with pytest.raises(TypeError, match="rng"):
        nb.Linear(2, 3, rng="seed")


# --- initialisation -----------------------------------------------------------------


def test_default_init_is_pytorch_uniform():
    lin = nb.Linear(400, 300, rng=0)
    bound = 1 / np.sqrt(400)
    for arr in (lin.weight.data, lin.bias.data):
        assert np.abs(arr).max() <= bound
        assert np.abs(arr).max() > 0.95 * bound  # really spread over the interval
    assert lin.weight.data.std() == pytest.approx(bound / np.sqrt(3), rel=0.02)
    assert lin.weight.dtype == np.float32


@pytest.mark.parametrize("init,std", [("he", np.sqrt(2 / 500)), ("xavier", np.sqrt(1 / 500)),
                                      (0.01, 0.01)])
def test_normal_inits(init, std):
    lin = nb.Linear(500, 400, init=init, rng=1)
    assert lin.weight.data.std() == pytest.approx(std, rel=0.02)
    assert abs(lin.weight.data.mean()) < 0.05 * std
    assert np.all(lin.bias.data == 0)


def test_glorot_uniform_bounds():
    lin = nb.Linear(300, 100, init="glorot", rng=2)
    bound = np.sqrt(6 / 400)
    assert np.abs(lin.weight.data).max() <= bound and lin.weight.data.std() == pytest.approx(
        bound / np.sqrt(3), rel=0.03)


def test_seeding_is_reproducible():
    a = small_model(seed=5)
    b = small_model(seed=5)
    np.testing.assert_array_equal(a.flat_parameters, b.flat_parameters)
    nb.manual_seed(7)
    c = nb.Linear(4, 4)
    nb.manual_seed(7)
    d = nb.Linear(4, 4)
    np.testing.assert_array_equal(c.weight.data, d.weight.data)
    e = nb.Linear(4, 4)
    assert not np.array_equal(d.weight.data, e.weight.data)
    gen = np.random.default_rng(3)
    f = nb.Linear(4, 4, rng=gen)
    np.testing.assert_array_equal(
        f.weight.data, nb.Linear(4, 4, rng=np.random.default_rng(3)).weight.data)


# --- forward/backward against the reference ------------------------------------------


def test_forward_matches_reference(rng):
    model = small_model(np.float64)
    x = rng.standard_normal((7, 6))
    layers = [(model[0].weight.data, model[0].bias.data, "relu"),
              (model[2].weight.data, model[2].bias.data, "tanh"),
              (model[4].weight.data, model[4].bias.data, "identity")]
    np.testing.assert_allclose(model(x), ref.mlp_forward(x, layers), rtol=1e-12)
    np.testing.assert_allclose(model(x[0]), ref.mlp_forward(x[:1], layers)[0], rtol=1e-12)
    assert model(x[0]).shape == (3,)


LOSSES = [
    (nb.CrossEntropyLoss(), "labels"),
    (nb.CrossEntropyLoss(), "onehot"),
    (nb.MSELoss(), "real"),
    (nb.MSELoss(reduction="sum"), "real"),
    (nb.SumSquaredError(), "real"),
    (nb.BCEWithLogitsLoss(), "unit"),
]


def _targets(kind, rng, n, c):
    if kind == "labels":
        return rng.integers(0, c, n)
    if kind == "onehot":
        return np.eye(c)[rng.integers(0, c, n)]
    if kind == "unit":
        return rng.uniform(0, 1, (n, c))
    return rng.standard_normal((n, c))


@pytest.mark.parametrize("act", ACT_LAYERS + [nb.Step])
@pytest.mark.parametrize("loss_fn,kind", LOSSES, ids=lambda p: repr(p) if not isinstance(
    p, str) else p)
def test_backprop_equals_numerical_gradient(act, loss_fn, kind, rng):
    model = nb.Sequential(nb.Linear(5, 6, dtype=np.float64, rng=1), act(),
                          nb.Linear(6, 4, dtype=np.float64, rng=2), nb.Sigmoid(),
                          nb.Linear(4, 3, dtype=np.float64, rng=3))
    x = rng.standard_normal((8, 5))
    t = _targets(kind, rng, 8, 3)
    report = nb.gradient_check(model, x, t, loss_fn)
    assert set(report) == {n for n, _ in model.named_parameters()}
    for name, check in report.items():
        assert check.rel < 1e-6, (name, check)
        assert check.max_abs < 1e-7, (name, check)


def test_compiled_numerical_gradient_matches_textbook_loop(rng):
    model = nb.Sequential(nb.Linear(4, 5, dtype=np.float64, rng=4), nb.Sigmoid(),
                          nb.Linear(5, 3, dtype=np.float64, rng=5))
    x = rng.standard_normal((6, 4))
    x[rng.uniform(size=x.shape) < 0.4] = 0.0
    t = rng.integers(0, 3, 6)
    loss_fn = nb.CrossEntropyLoss()
    fast = model.numerical_gradient(x, t, loss_fn)
    # the textbook's loop, perturbing the real parameters in place
    for name, p in model.named_parameters():
        slow = nb.gradient.numerical_gradient(lambda _: loss_fn(model(x), t), p.data)
        np.testing.assert_allclose(fast[name], slow, rtol=1e-7, atol=1e-10)


def test_numerical_gradient_fallback_for_non_chain_models(rng):
    model = nb.Sequential(nb.Tanh(), nb.Linear(3, 4, dtype=np.float64, rng=6), nb.ReLU(),
                          nb.Linear(4, 2, dtype=np.float64, rng=7))
    assert model.network_plan() is None
    x = rng.standard_normal((5, 3))
    t = rng.integers(0, 2, 5)
    for check in nb.gradient_check(model, x, t, nb.CrossEntropyLoss()).values():
        assert check.rel < 1e-6


def test_gradients_accumulate_like_pytorch(rng):
    model = small_model(np.float64)
    x, t = rng.standard_normal((4, 6)), rng.integers(0, 3, 4)
    loss_fn = nb.CrossEntropyLoss()
    for _ in range(2):
        loss_fn(model(x), t)
        model.backward(loss_fn.backward())
    twice = model.flat_gradients.copy()
    model.zero_grad()
    assert np.all(model.flat_gradients == 0)
    loss_fn(model(x), t)
    model.backward(loss_fn.backward())
    np.testing.assert_allclose(twice, 2 * model.flat_gradients, rtol=1e-12)


def test_object_path_equals_direct_kernel_calls(rng):
    model = nb.Sequential(nb.Linear(6, 5, rng=0), nb.Sigmoid(), nb.Linear(5, 3, rng=1))
    x = rng.standard_normal((10, 6)).astype(np.float32)
    t = rng.integers(0, 3, 10)
    loss_fn = nb.CrossEntropyLoss()
    opt = nb.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    w1, b1, w2, b2 = (p.data.copy() for p in model.parameters())
    buf = np.zeros(model.flat_parameters.size, np.float32)
    for step in range(3):
        opt.zero_grad()
        loss = loss_fn(model(x), t)
        model.backward(loss_fn.backward())
        opt.step()
        # the same step, by hand, from the kernels
        a1 = np.empty((10, 5), np.float32)
        dense_k.dense_forward(x, w1, b1, act_k.SIGMOID, a1)
        z2 = np.empty((10, 3), np.float32)
        dense_k.dense_forward(a1, w2, b2, act_k.IDENTITY, z2)
        dz2 = np.empty_like(z2)
        kloss = loss_k.loss_labels(loss_k.SOFTMAX_CE, z2, t, 0.1, dz2, True)
        grads = [np.empty_like(a) for a in (w1, b1, w2, b2)]
        da1 = np.empty_like(a1)
        dense_k.dense_backward(a1, w2, z2, dz2, act_k.IDENTITY, np.empty_like(dz2), grads[2],
                               grads[3], da1, True, False)
        dense_k.dense_backward(x, w1, a1, da1, act_k.SIGMOID, np.empty_like(da1), grads[0],
                               grads[1], x, False, False)
        flat = np.concatenate([a.ravel() for a in (w1, b1, w2, b2)])
        from numbann.kernels.optim import sgd_step
        sgd_step(flat, np.concatenate([g.ravel() for g in grads]), buf, 0.1, 0.9, 0.0, False,
                 0.0, step == 0)
        w1, b1, w2, b2 = (flat[:30].reshape(6, 5), flat[30:35], flat[35:50].reshape(5, 3),
                          flat[50:])
        assert loss == kloss
        np.testing.assert_array_equal(model.flat_parameters, flat)


def test_standalone_layers_forward_backward(rng):
    lin = nb.Linear(3, 2, dtype=np.float64, rng=0)
    x = rng.standard_normal((4, 3))
    y = lin(x)
    np.testing.assert_allclose(y, x @ lin.weight.data + lin.bias.data)
    dx = lin.backward(np.ones((4, 2)))
    np.testing.assert_allclose(dx, np.ones((4, 2)) @ lin.weight.data.T)
    np.testing.assert_allclose(lin.bias.grad, [4.0, 4.0])
    sm = nb.Softmax()
    p = sm(x)
    np.testing.assert_allclose(p, ref.activation("softmax", x))
    dy = rng.standard_normal(p.shape)
    np.testing.assert_allclose(sm.backward(dy), ref.activation_grad("softmax", x, dy))
    with pytest.raises(RuntimeError, match="before forward"):
        nb.ReLU().backward(np.ones((2, 2)))
    with pytest.raises(RuntimeError, match="before forward"):
        nb.Linear(2, 2).backward(np.ones((2, 2)))


def test_linear_without_bias(rng):
    model = nb.Sequential(nb.Linear(3, 4, bias=False, dtype=np.float64, rng=0), nb.Tanh(),
                          nb.Linear(4, 2, dtype=np.float64, rng=1))
    assert [n for n, _ in model.named_parameters()] == ["0.weight", "2.weight", "2.bias"]
    assert "bias=False" in repr(model)
    x, t = rng.standard_normal((5, 3)), rng.integers(0, 2, 5)
    for check in nb.gradient_check(model, x, t, nb.CrossEntropyLoss()).values():
        assert check.rel < 1e-6


def test_dtype_conversion(rng):
    model = small_model(np.float32)
    before = model.flat_parameters.copy()
    model.double()
    assert model.dtype == np.float64 and model[0].weight.dtype == np.float64
    np.testing.assert_array_equal(model.flat_parameters, before.astype(np.float64))
    assert np.shares_memory(model[0].weight.data, model.flat_parameters)
    x = rng.standard_normal((3, 6))
    assert model(x).dtype == np.float64
    assert model.float()(x).dtype == np.float32


# --- predict / accuracy ------------------------------------------------------------------


def test_predict_in_batches_equals_one_batch(rng):
    model = small_model()
    x = rng.standard_normal((23, 6)).astype(np.float32)
    np.testing.assert_allclose(model.predict(x, batch_size=5), model.predict(x), rtol=1e-6)
    with pytest.raises(ValueError, match="batch_size"):
        model.predict(x, batch_size=0)


def test_predict_does_not_scan_for_nan_but_forward_does(rng):
    model = small_model()
    x = rng.standard_normal((4, 6)).astype(np.float32)
    x[1, 2] = np.nan
    scores = model.predict(x)  # documented: NaN rows give NaN scores, others are exact
    assert np.isnan(scores[1]).all() and np.isfinite(scores[[0, 2, 3]]).all()
    np.testing.assert_allclose(scores[[0, 2, 3]], model.predict(x[[0, 2, 3]]), rtol=1e-6)
    with pytest.raises(ValueError, match=r"NaN or inf \(first at index \(1, 2\)"):
        model(x)


def test_accuracy_with_labels_and_one_hot(rng):
    model = small_model()
    x = rng.standard_normal((40, 6)).astype(np.float32)
    pred = np.argmax(model.predict(x), axis=1)
    t = pred.copy()
    t[:10] = (t[:10] + 1) % 3
    assert model.accuracy(x, t) == pytest.approx(0.75)
    assert model.accuracy(x, np.eye(3)[t]) == pytest.approx(0.75)
    assert model.accuracy(x, t, batch_size=7) == pytest.approx(0.75)


# --- bad input --------------------------------------------------------------------------------


def test_bad_inputs_give_clear_errors(rng):
    model = small_model()
    loss_fn = nb.CrossEntropyLoss()
    with pytest.raises(ValueError, match=r"shape \(N, 6\).*\(4, 5\)"):
        model(np.zeros((4, 5)))
    with pytest.raises(ValueError, match="empty"):
        model(np.zeros((0, 6)))
    x = rng.standard_normal((4, 6))
    x[2, 3] = np.nan
    with pytest.raises(ValueError, match=r"NaN or inf \(first at index \(2, 3\)"):
        model(x)
    y = model(rng.standard_normal((4, 6)))
    with pytest.raises(ValueError, match=r"4 class labels"):
        loss_fn(y, [0, 1, 2])
    with pytest.raises(ValueError, match=r"label 3 out of range.*\[0, 2\]"):
        loss_fn(y, [0, 1, 2, 3])
    with pytest.raises(ValueError, match="label -1"):
        loss_fn(y, [0, 1, -1, 2])
    with pytest.raises(ValueError, match=r"prediction's shape \(4, 3\)"):
        nb.MSELoss()(y, np.zeros((4, 2)))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        nb.BCEWithLogitsLoss()(y, np.full((4, 3), 2.0))
    with pytest.raises(ValueError, match="NaN"):
        nb.MSELoss()(y, np.full((4, 3), np.nan))
    with pytest.raises(RuntimeError, match="before backward"):
        nb.MSELoss().backward()
    with pytest.raises(RuntimeError, match="before forward"):
        small_model().backward(np.zeros((1, 3)))
    with pytest.raises(ValueError, match="grad_output"):
        model.backward(np.zeros((5, 3)))
    with pytest.raises(TypeError, match="real numeric"):
        model(np.array([["a"] * 6]))


def test_inputs_are_converted_when_that_is_safe(rng):
    model = small_model(np.float32)
    x64 = rng.standard_normal((5, 6))
    out = model(x64)  # float64 data into a float32 model: converted, documented
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, model(x64.astype(np.float32)), rtol=1e-6)
    big = rng.standard_normal((5, 12))
    np.testing.assert_allclose(model(big[:, ::2]), model(np.ascontiguousarray(big[:, ::2])))
    ro = x64.copy()
    ro.flags.writeable = False
    np.testing.assert_allclose(model(ro), out, rtol=1e-6)
    np.testing.assert_allclose(model(np.arange(6)), model(np.arange(6.0)[None])[0])
    assert nb.CrossEntropyLoss()(model(x64), np.array([0, 1, 2, 0, 1], dtype=np.uint8)) > 0
