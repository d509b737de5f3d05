"""Tapes, loss values, no_grad and modes: the PyTorch loop trains on what it says."""

import gc
import json
import pickle
import weakref

import numpy as np
import pytest
import reference as ref

import numbann as nb
from numbann.autograd import tape_of
from numbann.kernels.activations import NAMES


def _digits_split():
    x, t = nb.datasets.load_digits()  # pixels 0..16, as the tutorial feeds them
    return x[:1347], t[:1347], x[1347:], t[1347:]


def _mlp(sizes=(64, 32, 16, 10), seed=0, act=nb.ReLU, dtype=np.float32):
    layers = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nb.Linear(a, b, rng=seed + i, dtype=dtype))
        if i < len(sizes) - 2:
            layers.append(act())
    return nb.Sequential(*layers)


def _ref_layers(model):
    """(W, b, activation name) of each Linear stage, float64 copies, for the NumPy reference."""
    return [(s.layer.weight.data.astype(np.float64), s.layer.bias.data.astype(np.float64),
             NAMES[s.act]) for s in model.stages]


# --- the loss value ------------------------------------------------------------------


def test_a_loss_value_behaves_as_a_float_everywhere(rng):
    model = _mlp((5, 4, 3))
    loss = nb.CrossEntropyLoss()(model(rng.standard_normal((6, 5))), rng.integers(0, 3, 6))
    value = float(loss)
    assert isinstance(loss, float) and isinstance(loss, nb.LossValue)
    assert loss.item() == value and type(loss.item()) is float
    assert loss + 1 == value + 1 and 2 * loss == 2 * value and loss / 2 == value / 2
    assert loss > value - 1 and loss < value + 1 and loss == value
    assert f"{loss:.3f}" == f"{value:.3f}" and str(loss) == str(value)
    assert np.isfinite(loss) and json.dumps({"loss": loss}) == json.dumps({"loss": value})
    assert pickle.loads(pickle.dumps(loss)) == value
    assert np.mean([loss, loss]) == pytest.approx(value)


# --- the tutorial's loop ---------------------------------------------------------------


def _tutorial_loop(model, loss_fn, opt, data, steps):
    x_train, t_train, x_test, t_test = data
    record_train, record_test = [], []
    for _ in range(steps):
        opt.zero_grad()
        y_train = model(x_train)
        y_test = model(x_test)
        loss_train = loss_fn(y_train, t_train)
        loss_test = loss_fn(y_test, t_test)
        record_train.append(loss_train.item())
        record_test.append(loss_test.item())
        loss_train.backward()
        opt.step()
    return np.array(record_train), np.array(record_test)


def _numpy_tutorial_loop(layers, data, steps, lr):
    """The same loop in float64 NumPy: full-batch SGD on softmax cross-entropy."""
    x_train, t_train, x_test, t_test = data
    layers = [(w.copy(), b.copy(), a) for w, b, a in layers]
    rec_train, rec_test = [], []
    for _ in range(steps):
        rec_train.append(ref.softmax_cross_entropy(ref.mlp_forward(x_train, layers), t_train)[0])
        rec_test.append(ref.softmax_cross_entropy(ref.mlp_forward(x_test, layers), t_test)[0])
        grads, _ = ref.mlp_gradients(
            x_train, layers, lambda z: ref.softmax_cross_entropy(z, t_train)[1])
        layers = [(w - lr * dw, b - lr * db, a) for (w, b, a), (dw, db) in zip(layers, grads)]
    return np.array(rec_train), np.array(rec_test)


def test_the_pytorch_tutorial_loop_trains_on_the_training_set_like_numpy():
    """64-32-16-10 ReLU, full-batch SGD lr 0.01, test loss recorded inside the loop."""
    data = _digits_split()
    model = _mlp()
    layers = _ref_layers(model)
    loss_fn = nb.CrossEntropyLoss()
    opt = nb.optim.SGD(model.parameters(), lr=0.01)
    train, test = _tutorial_loop(model, loss_fn, opt, data, 1000)
    ref_train, ref_test = _numpy_tutorial_loop(layers, data, 1000, 0.01)
    # float32 against float64 over 1,000 steps: the trajectories agree to float32 rounding
    np.testing.assert_allclose(train, ref_train, rtol=2e-4)
    np.testing.assert_allclose(test, ref_test, rtol=2e-4)
    assert train[-1] < 0.2 * train[0]
    # trained on the training set, not the test set
    assert test[-1] > train[-1]
    assert model.accuracy(data[2], data[3]) < model.accuracy(data[0], data[1])


def test_the_pytorch_tutorial_loop_matches_pytorch():
    torch = pytest.importorskip("torch")
    data = _digits_split()
    model = _mlp()
    layers = _ref_layers(model)
    steps = 1000
    train, test = _tutorial_loop(model, nb.CrossEntropyLoss(),
                                 nb.optim.SGD(model.parameters(), lr=0.01), data, steps)
    torch.manual_seed(0)
    mods = []
    for w, b, act in layers:
        lin = torch.nn.Linear(*w.shape)
        with torch.no_grad():  # numbann's W is (in, out), torch's weight is (out, in)
            lin.weight.copy_(torch.tensor(w.T, dtype=torch.float32))
            lin.bias.copy_(torch.tensor(b, dtype=torch.float32))
        mods += [lin] + ([torch.nn.ReLU()] if act == "relu" else [])
    net = torch.nn.Sequential(*mods)
    loss_func = torch.nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(net.parameters(), lr=0.01)
    x_train, x_test = (torch.tensor(a) for a in (data[0], data[2]))
    t_train, t_test = (torch.tensor(a) for a in (data[1], data[3]))
    rec_train, rec_test = [], []
    for _ in range(steps):
        optimizer.zero_grad()
        y_train = net(x_train)
        y_test = net(x_test)
        loss_train = loss_func(y_train, t_train)
        loss_test = loss_func(y_test, t_test)
        rec_train.append(loss_train.item())
        rec_test.append(loss_test.item())
        loss_train.backward()
        optimizer.step()
    np.testing.assert_allclose(train, rec_train, rtol=2e-4)
    np.testing.assert_allclose(test, rec_test, rtol=2e-4)


# --- one tape per forward ---------------------------------------------------------------


def test_each_loss_back_propagates_its_own_forward_and_gradients_add_up(rng):
    model = _mlp((5, 4, 3), dtype=np.float64)
    layers = _ref_layers(model)
    loss_fn = nb.CrossEntropyLoss()
    xa, xb = rng.standard_normal((6, 5)), rng.standard_normal((4, 5))
    ta, tb = rng.integers(0, 3, 6), rng.integers(0, 3, 4)
    ya, yb = model(xa), model(xb)  # both tapes alive
    la, lb = loss_fn(ya, ta), loss_fn(yb, tb)
    model.zero_grad()
    la.backward()
    ga = {k: v.copy() for k, v in _grads(model).items()}
    lb.backward()  # adds into .grad, as PyTorch does
    for i in range(len(layers)):
        want_a, _ = ref.mlp_gradients(xa, layers, lambda z: ref.softmax_cross_entropy(z, ta)[1])
        want_b, _ = ref.mlp_gradients(xb, layers, lambda z: ref.softmax_cross_entropy(z, tb)[1])
        key = f"{2 * i}.weight"
        np.testing.assert_allclose(ga[key], want_a[i][0], rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(_grads(model)[key], want_a[i][0] + want_b[i][0], rtol=1e-10,
                                   atol=1e-12)


def _grads(model):
    return {name: p.grad for name, p in model.named_parameters()}


def test_a_second_backward_through_one_forward_needs_retain_graph(rng):
    model = _mlp((5, 4, 3))
    loss_fn = nb.CrossEntropyLoss()
    loss = loss_fn(model(rng.standard_normal((6, 5))), rng.integers(0, 3, 6))
    model.zero_grad()
    loss.backward(retain_graph=True)
    once = model.flat_gradients.copy()
    loss.backward()
    np.testing.assert_allclose(model.flat_gradients, 2 * once, rtol=1e-6)
    with pytest.raises(RuntimeError, match="second time"):
        loss.backward()


def test_backward_after_an_optimizer_step_raises(rng):
    model = _mlp((5, 4, 3))
    opt = nb.optim.SGD(model.parameters(), lr=0.1)
    loss_fn = nb.CrossEntropyLoss()
    x, t = rng.standard_normal((6, 5)), rng.integers(0, 3, 6)
    first, second = loss_fn(model(x), t), loss_fn(model(x), t)
    first.backward()
    opt.step()
    with pytest.raises(RuntimeError, match="parameters changed"):
        second.backward()
    model.load_state_dict(model.state_dict())
    loss = loss_fn(model(x), t)
    model.load_state_dict(model.state_dict())  # a load changes the parameters too
    with pytest.raises(RuntimeError, match="parameters changed"):
        loss.backward()


def test_no_grad_keeps_no_tape_and_its_loss_cannot_be_back_propagated(rng):
    model = _mlp((5, 4, 3))
    loss_fn = nb.CrossEntropyLoss()
    x, t = rng.standard_normal((6, 5)), rng.integers(0, 3, 6)
    with_tape = model(x)
    with nb.no_grad():
        assert not nb.is_grad_enabled()
        y = model(x)
        loss = loss_fn(y, t)
        with nb.enable_grad():
            assert nb.is_grad_enabled()
    assert nb.is_grad_enabled()
    with pytest.raises(RuntimeError, match="no_grad"):
        loss_fn.backward()  # the textbook's backward of that last call
    with pytest.raises(RuntimeError, match="no_grad"):
        loss.backward()
    assert tape_of(y) is None and tape_of(with_tape) is not None
    np.testing.assert_array_equal(y, with_tape)
    assert loss == pytest.approx(float(loss_fn(with_tape, t)))
    prediction_loss = loss_fn(model.predict(x), t)
    with pytest.raises(RuntimeError, match="predict"):
        prediction_loss.backward()

    @nb.no_grad()
    def infer(a):
        return model(a)

    assert tape_of(infer(x)) is None


def test_a_tape_is_freed_with_its_output_and_its_losses(rng):
    model = _mlp((5, 4, 3))
    loss_fn = nb.CrossEntropyLoss()
    x, t = rng.standard_normal((6, 5)), rng.integers(0, 3, 6)
    y = model(x)
    model(x)  # a later forward: the model's textbook tape is now that one
    hidden = weakref.ref(tape_of(y).saved[0][1])  # an activation only this tape holds
    loss = loss_fn(y, t)
    loss_fn(model(x), t)  # the loss object's last call is another one
    del y
    gc.collect()
    assert hidden() is not None  # the loss value still needs the tape
    del loss
    gc.collect()
    assert hidden() is None


# --- the textbook API and its guard ------------------------------------------------------


def test_textbook_backward_still_works_and_refuses_a_loss_of_another_forward(rng):
    model = _mlp((5, 4, 3), dtype=np.float64)
    layers = _ref_layers(model)
    loss_fn = nb.CrossEntropyLoss()
    xa, xb = rng.standard_normal((6, 5)), rng.standard_normal((6, 5))
    ta = rng.integers(0, 3, 6)
    ya = model(xa)
    model(xb)
    loss_fn(ya, ta)
    with pytest.raises(RuntimeError, match="another forward"):
        model.backward(loss_fn.backward())
    model.zero_grad()
    loss_fn(model(xa), ta)
    dx = model.backward(loss_fn.backward(), return_input_grad=True)
    grads, want_dx = ref.mlp_gradients(xa, layers, lambda z: ref.softmax_cross_entropy(z, ta)[1])
    np.testing.assert_allclose(dx, want_dx, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(model[0].weight.grad, grads[0][0], rtol=1e-10, atol=1e-12)
    with pytest.raises(ValueError, match="shape"):
        model.backward(np.ones((2, 3)))


def test_a_layer_forward_backward_as_in_chapter_5(rng):
    affine = nb.Linear(4, 3, rng=0, dtype=np.float64)
    relu = nb.ReLU()
    x = rng.standard_normal((5, 4))
    out = relu.forward(affine.forward(x))
    dout = rng.standard_normal(out.shape)
    dx = affine.backward(relu.backward(dout))
    w, b = affine.weight.data, affine.bias.data
    dz = dout * (x @ w + b > 0)
    np.testing.assert_allclose(affine.weight.grad, x.T @ dz, rtol=1e-12)
    np.testing.assert_allclose(dx, dz @ w.T, rtol=1e-12)
    other = nb.Linear(4, 3, rng=1)
    with pytest.raises(RuntimeError, match="before forward"):
        other.backward(np.ones((5, 3)))


def test_a_pytorch_loop_on_a_bare_linear_layer(rng):
    layer = nb.Linear(3, 2, rng=0, dtype=np.float64)
    x, t = rng.standard_normal((4, 3)), rng.standard_normal((4, 2))
    loss = nb.MSELoss()(layer(x), t)
    loss.backward()
    d = 2 * (x @ layer.weight.data + layer.bias.data - t) / t.size
    np.testing.assert_allclose(layer.weight.grad, x.T @ d, rtol=1e-12)


def test_train_and_eval_set_the_mode_of_every_layer():
    model = _mlp((5, 4, 3))
    assert model.training and all(layer.training for layer in model)
    assert model.eval() is model
    assert not model.training and not any(layer.training for layer in model)
    model.train()
    assert model.training and all(layer.training for layer in model)


# --- wrong pairings ----------------------------------------------------------------------


def test_fit_refuses_an_optimizer_of_another_model(rng):
    model, other = _mlp((5, 4, 3)), _mlp((5, 4, 3))
    x, t = rng.standard_normal((20, 5)), rng.integers(0, 3, 20)
    with pytest.raises(ValueError, match="another model"):
        nb.fit(model, nb.CrossEntropyLoss(), nb.optim.SGD(other.parameters(), lr=0.1), x, t,
               epochs=1, verbose=0)


@pytest.mark.parametrize("loss_cls", [nb.MSELoss, nb.SumSquaredError, nb.BCEWithLogitsLoss])
def test_a_target_of_another_shape_is_refused_naming_both_shapes(loss_cls, rng):
    y = rng.uniform(size=(5, 4))
    with pytest.raises(ValueError, match=r"\(5, 4\).*\(5, 4, 1\)"):
        loss_cls()(y, rng.uniform(size=(5, 4, 1)))
    with pytest.raises(ValueError, match=r"\(5, 4\).*\(20,\)"):
        loss_cls()(y, rng.uniform(size=20))
    loss_cls()(y[:, :1], rng.uniform(size=5))  # one output: (N,) targets are the column
