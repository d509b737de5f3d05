"""Batch normalization and dropout: both conventions, every path, against references."""

import copy

import numpy as np
import pytest
import reference as ref

import numbann as nb
from numbann.kernels.norm import keep_bits


def _x(rng, n=8, c=5):
    return rng.standard_normal((n, c)) * 2 + 0.5


# --- PyTorch's BatchNorm1d and Dropout ------------------------------------------------------


@pytest.mark.parametrize("momentum", [0.1, 0.3, None])
@pytest.mark.parametrize("affine", [True, False])
def test_batchnorm1d_equals_torch_in_training_and_eval(momentum, affine, rng):
    torch = pytest.importorskip("torch")
    bn = nb.BatchNorm1d(5, eps=1e-5, momentum=momentum, affine=affine, dtype=np.float64)
    tb = torch.nn.BatchNorm1d(5, eps=1e-5, momentum=momentum, affine=affine).double()
    if affine:
        w, b = rng.uniform(0.5, 1.5, 5), rng.standard_normal(5)
        bn.weight.data, bn.bias.data = w, b
        with torch.no_grad():
            tb.weight.copy_(torch.tensor(w))
            tb.bias.copy_(torch.tensor(b))
    for step in range(3):
        x = _x(rng)
        dy = rng.standard_normal(x.shape)
        xt = torch.tensor(x, requires_grad=True)
        yt = tb(xt)
        yt.backward(torch.tensor(dy))
        y = bn.forward(x)
        np.testing.assert_allclose(y, yt.detach().numpy(), rtol=1e-12, atol=1e-12)
        dx = bn.backward(dy)
        np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(bn.running_mean.data, tb.running_mean.numpy(), rtol=1e-12)
        np.testing.assert_allclose(bn.running_var.data, tb.running_var.numpy(), rtol=1e-12)
        assert bn.num_batches_tracked == int(tb.num_batches_tracked) == step + 1
    if affine:
        np.testing.assert_allclose(bn.weight.grad, tb.weight.grad.numpy(), rtol=1e-10)
        np.testing.assert_allclose(bn.bias.grad, tb.bias.grad.numpy(), rtol=1e-10)
    bn.eval()
    tb.eval()
    x = _x(rng)
    xt = torch.tensor(x, requires_grad=True)
    yt = tb(xt)
    np.testing.assert_allclose(bn.forward(x), yt.detach().numpy(), rtol=1e-12, atol=1e-12)
    dy = rng.standard_normal(x.shape)
    yt.backward(torch.tensor(dy))
    np.testing.assert_allclose(bn.backward(dy), xt.grad.numpy(), rtol=1e-12, atol=1e-12)
    sd = bn.state_dict()
    assert set(sd) == set(tb.state_dict())
    for key, value in tb.state_dict().items():
        np.testing.assert_allclose(sd[key], value.numpy())


def test_batchnorm1d_refuses_one_row_in_training():
    bn = nb.BatchNorm1d(3)
    with pytest.raises(ValueError, match="more than 1 row"):
        bn(np.ones((1, 3)))
    bn.eval()
    assert bn(np.ones((1, 3))).shape == (1, 3)


@pytest.mark.parametrize("p", [0.0, 0.2, 0.5, 1.0])
def test_dropout_equals_torchs_formula_with_the_same_mask(p, rng):
    drop = nb.Dropout(p, rng=3)
    x = rng.standard_normal((6, 7))
    y = drop(x)
    mask = ref.dropout_mask(drop.seed, 0, x.shape, p)
    scale = 0.0 if p == 1.0 else 1.0 / (1.0 - p)
    np.testing.assert_allclose(y, x * mask * scale, rtol=1e-15)
    dy = rng.standard_normal(x.shape)
    np.testing.assert_allclose(drop.backward(dy), dy * mask * scale, rtol=1e-15)
    torch = pytest.importorskip("torch")
    xt = torch.tensor(x, requires_grad=True)
    yt = xt * torch.tensor(mask) / (1.0 - p) if p < 1 else xt * 0
    yt.backward(torch.tensor(dy))
    np.testing.assert_allclose(y, yt.detach().numpy(), rtol=1e-15)
    np.testing.assert_allclose(drop.backward(dy), xt.grad.numpy(), rtol=1e-15)
    drop.eval()
    np.testing.assert_array_equal(drop(x), x)  # the identity in evaluation


def test_dropout_masks_come_from_the_counter_based_generator():
    assert [int(keep_bits(12345, 3, e)) for e in range(50)] == \
        [ref.keep_bits(12345, 3, e) for e in range(50)]
    drop = nb.Dropout(0.3, rng=0)
    x = np.ones((400, 250))
    first, second = drop(x), drop(x)
    assert drop.draws == 2
    kept = (first != 0).mean()
    # 100,000 Bernoulli(0.7) draws: the fraction is within 5 standard deviations of 0.7
    assert abs(kept - 0.7) < 5 * np.sqrt(0.7 * 0.3 / x.size)
    assert not np.array_equal(first, second)  # each forward draws a new mask
    np.testing.assert_allclose(first[first != 0], 1 / 0.7)
    again = nb.Dropout(0.3, rng=0)
    np.testing.assert_array_equal(again(x), first)  # same seed, same count: same mask


# --- the textbook's BatchNormalization and Dropout -----------------------------------------


def test_batch_normalization_equals_the_books_code(rng):
    bn = nb.BatchNormalization(5, dtype=np.float64)
    gamma, beta = rng.uniform(0.5, 1.5, 5), rng.standard_normal(5)
    bn.weight.data, bn.bias.data = gamma, beta
    book = ref.BookBatchNormalization(gamma.copy(), beta.copy())
    dgamma, dbeta = 0, 0
    for _ in range(3):
        x = _x(rng)
        dy = rng.standard_normal(x.shape)
        np.testing.assert_allclose(bn.forward(x), book.forward(x, True), rtol=1e-10,
                                   atol=1e-12)
        np.testing.assert_allclose(bn.backward(dy), book.backward(dy), rtol=1e-8, atol=1e-10)
        np.testing.assert_allclose(bn.running_mean.data, book.running_mean, rtol=1e-12)
        np.testing.assert_allclose(bn.running_var.data, book.running_var, rtol=1e-12)
        dgamma, dbeta = dgamma + book.dgamma, dbeta + book.dbeta
    np.testing.assert_allclose(bn.weight.grad, dgamma, rtol=1e-10)  # added up, as PyTorch
    np.testing.assert_allclose(bn.bias.grad, dbeta, rtol=1e-10)
    bn.eval()
    x = _x(rng)
    np.testing.assert_allclose(bn.forward(x), book.forward(x, False), rtol=1e-10, atol=1e-12)
    one = nb.BatchNormalization(5, dtype=np.float64)  # the book allows a batch of one
    np.testing.assert_allclose(one.forward(x[:1]), np.zeros((1, 5)), atol=1e-12)


def test_the_books_dropout_multiplies_by_the_mask_and_scales_at_test_time(rng):
    drop = nb.Dropout(0.15, inverted=False, rng=1)
    x = rng.standard_normal((5, 9))
    mask = ref.dropout_mask(drop.seed, 0, x.shape, 0.15)
    np.testing.assert_allclose(drop(x), x * mask)
    dy = rng.standard_normal(x.shape)
    np.testing.assert_allclose(drop.backward(dy), dy * mask)
    drop.eval()
    np.testing.assert_allclose(drop(x), x * 0.85)


# --- every path ------------------------------------------------------------------------------


def _bn_net(bn_cls=nb.BatchNorm1d, inverted=True, dtype=np.float32, seed=0):
    nb.manual_seed(seed)
    return nb.Sequential(
        nb.Linear(64, 32, dtype=dtype), bn_cls(32, dtype=dtype), nb.ReLU(),
        nb.Dropout(0.2, inverted), nb.Linear(32, 16, dtype=dtype), bn_cls(16, dtype=dtype),
        nb.Tanh(), nb.Linear(16, 10, dtype=dtype)).to(dtype)


@pytest.mark.parametrize("bn_cls,inverted", [(nb.BatchNorm1d, True),
                                             (nb.BatchNormalization, False)])
def test_the_engine_and_the_object_path_agree_on_batch_norm_and_dropout(bn_cls, inverted):
    x, t = nb.datasets.load_digits(normalize=True)
    a = _bn_net(bn_cls, inverted)
    b = copy.deepcopy(a)
    ha = nb.fit(a, nb.CrossEntropyLoss(), nb.optim.Adam(a.parameters()), x, t, epochs=2,
                batch_size=64, seed=1, verbose=0)
    hb = nb.fit(b, nb.CrossEntropyLoss(), nb.optim.Adam(b.parameters()), x, t, epochs=2,
                batch_size=64, seed=1, verbose=0, engine="objects")
    assert ha.params["engine"] == "compiled" and hb.params["engine"] == "objects"
    np.testing.assert_allclose(a.flat_parameters, b.flat_parameters, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(a.flat_stats, b.flat_stats, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(ha.history["loss"], hb.history["loss"], rtol=1e-5)
    assert ha.history["loss"][1] < ha.history["loss"][0]
    assert a[1].num_batches_tracked == b[1].num_batches_tracked == 2 * 29
    assert a[3].draws == b[3].draws == 2 * 29
    assert a.training  # fit leaves the mode as it found it


def _ref_forward(model, x, training):
    """The network in NumPy (float64): Linear, BatchNorm (book or PyTorch), activations,
    dropout with numbann's masks at each layer's current count."""
    h = np.asarray(x, np.float64)
    for layer in model:
        if isinstance(layer, nb.Linear):
            h = h @ layer.weight.data.astype(np.float64) + layer.bias.data
        elif isinstance(layer, nb.BatchNorm1d):
            if training:
                mu, var = h.mean(axis=0), h.var(axis=0)
            else:
                mu, var = layer.running_mean.data, layer.running_var.data
            h = layer.weight.data * (h - mu) / np.sqrt(var + layer.eps) + layer.bias.data
        elif isinstance(layer, nb.Dropout):
            if training:
                h = h * ref.dropout_mask(layer.seed, max(layer.draws - 1, 0), h.shape,
                                         layer.p) * layer.train_scale
            else:
                h = h * layer.eval_scale
        else:
            h = ref.activation(type(layer).__name__.lower(), h)
    return h


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("bn_cls,inverted", [(nb.BatchNorm1d, True),
                                             (nb.BatchNormalization, False)])
def test_the_compiled_numerical_gradient_handles_batch_norm_and_dropout(bn_cls, inverted,
                                                                        training, rng):
    nb.manual_seed(2)
    model = nb.Sequential(nb.Linear(6, 5), bn_cls(5), nb.Tanh(), nb.Dropout(0.3, inverted),
                          nb.Linear(5, 4), bn_cls(4), nb.Sigmoid(), nb.Linear(4, 3)).double()
    model.train(training)
    x, t = rng.standard_normal((7, 6)), rng.integers(0, 3, 7)
    model(x)  # one training forward (or not): the numerical gradient uses its masks
    report = nb.gradient_check(model, x, t, nb.CrossEntropyLoss(), h=1e-5)
    # (a bias right before a batch norm has a zero gradient: only rounding is left there)
    assert max(r.rel for r in report.values()) < 1e-6, report
    numeric = model.numerical_gradient(x, t, nb.CrossEntropyLoss(), h=1e-5)
    flat = model.flat_parameters
    before = flat.copy()

    def loss():
        return ref.softmax_cross_entropy(_ref_forward(model, x, training), t)[0]

    np.testing.assert_allclose(np.concatenate([numeric[k].ravel() for k in numeric]),
                               ref.finite_difference(loss, flat, h=1e-5), rtol=1e-5,
                               atol=1e-8)
    np.testing.assert_array_equal(flat, before)


def test_fit_evaluate_and_predict_use_the_modes(rng):
    x, t = nb.datasets.load_digits(normalize=True)
    model = _bn_net()
    nb.fit(model, nb.CrossEntropyLoss(), nb.optim.Adam(model.parameters()), x, t, epochs=1,
           batch_size=64, seed=0, verbose=0, validation_data=(x[:100], t[:100]))
    assert model.training
    eval_scores = model.predict(x[:50])
    with nb.no_grad():
        model.eval()
        np.testing.assert_allclose(model(x[:50]), eval_scores, rtol=1e-5, atol=1e-6)
        model.train()
    loss, acc = nb.evaluate(model, nb.CrossEntropyLoss(), x[:50], t[:50])
    assert acc == pytest.approx(model.accuracy(x[:50], t[:50]))
    assert loss == pytest.approx(float(nb.CrossEntropyLoss()(eval_scores, t[:50])), rel=1e-5)
    draws, tracked = model[3].draws, model[1].num_batches_tracked
    train_scores = model.predict(x[:50], training=True)  # a training forward, as the book's
    assert model[3].draws == draws + 1 and model[1].num_batches_tracked == tracked + 1
    assert not np.allclose(train_scores, eval_scores)


# --- the textbook's MultiLayerNetExtend ------------------------------------------------------


def test_multilayernetextend_has_the_books_layers_and_params():
    net = nb.models.MultiLayerNetExtend(784, [100, 100], 10, use_batchnorm=True,
                                        use_dropout=True, dropout_ration=0.15)
    kinds = [type(layer).__name__ for layer in net]
    assert kinds == ["Linear", "BatchNormalization", "ReLU", "Dropout"] * 2 + ["Linear"]
    assert list(net.params) == ["W1", "b1", "gamma1", "beta1", "W2", "b2", "gamma2", "beta2",
                                "W3", "b3"]
    np.testing.assert_array_equal(net.params["gamma1"], 1)
    assert net[3].p == 0.15 and not net[3].inverted
    assert net.network_plan() is not None


def test_multilayernetextend_equals_the_books_code_on_the_same_weights_and_masks(rng):
    net = nb.models.MultiLayerNetExtend(12, [6, 5], 3, activation="sigmoid",
                                        weight_init_std="sigmoid", weight_decay_lambda=0.1,
                                        use_dropout=True, dropout_ration=0.2,
                                        use_batchnorm=True, dtype=np.float64)
    x, t = rng.standard_normal((8, 12)), rng.integers(0, 3, 8)
    p = {k: net.params[k].copy() for k in net.params}
    books = [ref.BookBatchNormalization(p["gamma1"], p["beta1"]),
             ref.BookBatchNormalization(p["gamma2"], p["beta2"])]
    drops = [net[3], net[7]]

    def book_loss(train_flg):
        h, caches = x, []
        for i in (1, 2):
            z = h @ p[f"W{i}"] + p[f"b{i}"]
            a = ref.sigmoid(books[i - 1].forward(z, train_flg))
            d = drops[i - 1]
            mask = ref.dropout_mask(d.seed, d.draws, a.shape, 0.2) if train_flg else None
            caches.append((h, a, mask))
            h = a * mask if train_flg else a * (1 - 0.2)
        y = h @ p["W3"] + p["b3"]
        decay = 0.5 * 0.1 * sum(np.sum(p[f"W{i}"] ** 2) for i in (1, 2, 3))
        loss, dy = ref.softmax_cross_entropy(y, t)
        return loss + decay, dy, caches, h

    want, dy, caches, h = book_loss(True)
    grads = {"W3": h.T @ dy + 0.1 * p["W3"], "b3": dy.sum(axis=0)}
    g = dy @ p["W3"].T
    for i in (2, 1):
        h_in, a, mask = caches[i - 1]
        g = g * mask * a * (1 - a)
        g = books[i - 1].backward(g)
        grads[f"gamma{i}"], grads[f"beta{i}"] = books[i - 1].dgamma, books[i - 1].dbeta
        grads[f"W{i}"] = h_in.T @ g + 0.1 * p[f"W{i}"]
        grads[f"b{i}"] = g.sum(axis=0)
        g = g @ p[f"W{i}"].T
    got = net.gradient(x, t)  # the book's gradient: loss(train_flg=True), then backward
    for key in grads:
        np.testing.assert_allclose(got[key], grads[key], rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(net[1].running_mean.data, books[0].running_mean, rtol=1e-12)
    assert net.loss(x, t) == pytest.approx(book_loss(False)[0], rel=1e-10)
    numeric = net.numerical_gradient(x, t)
    for key in grads:
        np.testing.assert_allclose(numeric[key], grads[key], rtol=1e-5, atol=1e-7)
    assert net.accuracy(x, t) == pytest.approx(np.mean(np.argmax(net.predict(x), 1) == t))


# --- saving ----------------------------------------------------------------------------------


def test_save_and_load_keep_running_statistics_and_settings(tmp_path):
    x, t = nb.datasets.load_digits(normalize=True)
    for model in (_bn_net(), _bn_net(nb.BatchNormalization, False),
                  nb.models.MultiLayerNetExtend(64, [20], 10, use_batchnorm=True,
                                                use_dropout=True)):
        nb.fit(model, nb.CrossEntropyLoss(), nb.optim.SGD(model.parameters(), lr=0.05), x, t,
               epochs=1, batch_size=64, seed=0, verbose=0)
        nb.save(model, tmp_path / "m.npz")
        back = nb.load(tmp_path / "m.npz")
        assert type(back) is type(model) and repr(back) == repr(model)
        np.testing.assert_array_equal(back.predict(x), model.predict(x))
        np.testing.assert_array_equal(back.flat_stats, model.flat_stats)
        for a, b in zip(model, back):
            if isinstance(a, nb.BatchNorm1d):
                assert a.num_batches_tracked == b.num_batches_tracked > 0
                assert (a.eps, a.momentum, a.unbiased) == (b.eps, b.momentum, b.unbiased)
