"""The textbook networks and the PyTorch-style 8x8 digits example."""

import numpy as np
import pytest
import reference as ref

import numbann as nb
from numbann.datasets import load_digits, train_test_split


def test_two_layer_net_textbook_api(rng):
    net = nb.models.TwoLayerNet(input_size=8, hidden_size=5, output_size=3, rng=0,
                                dtype=np.float64)
    assert list(net.params) == ["W1", "b1", "W2", "b2"]
    assert net.params["W1"].shape == (8, 5) and net.params["b2"].shape == (3,)
    assert np.all(net.params["b1"] == 0)
    assert net.params["W1"].std() == pytest.approx(0.01, rel=0.4)
    assert np.shares_memory(net.params["W1"], net.flat_parameters)
    net.params["W1"] = np.ones((8, 5))  # the textbook's load_params style
    assert np.all(net[0].weight.data == 1)
    net.params["W1"] = rng.standard_normal((8, 5))
    with pytest.raises(KeyError, match="W3"):
        net.params["W3"] = np.zeros(3)

    x = rng.standard_normal((6, 8))
    t = rng.integers(0, 3, 6)
    expect = ref.mlp_forward(x, [(net.params["W1"], net.params["b1"], "sigmoid"),
                                 (net.params["W2"], net.params["b2"], "identity")])
    np.testing.assert_allclose(net.predict(x), expect, rtol=1e-12)
    assert net.loss(x, t) == pytest.approx(ref.softmax_cross_entropy(expect, t)[0], rel=1e-12)
    onehot = np.eye(3)[t]
    assert net.accuracy(x, t) == net.accuracy(x, onehot) == pytest.approx(
        np.mean(np.argmax(expect, 1) == t))

    grad = net.gradient(x, t)
    num = net.numerical_gradient(x, t)
    assert set(grad) == set(num) == {"W1", "b1", "W2", "b2"}
    for key in grad:
        np.testing.assert_allclose(grad[key], num[key], rtol=1e-5, atol=1e-9)


def test_two_layer_net_relu_and_float32_default():
    net = nb.models.TwoLayerNet(784, 50, 10, activation="relu", rng=1)
    assert isinstance(net[1], nb.ReLU) and net.dtype == np.float32
    with pytest.raises(ValueError, match="unknown activation"):
        nb.models.TwoLayerNet(4, 3, 2, activation="swish")


def test_multi_layer_net_with_weight_decay(rng):
    net = nb.models.MultiLayerNet(6, [5, 4], 3, activation="tanh", weight_init_std="xavier",
                                  weight_decay_lambda=0.3, rng=2, dtype=np.float64)
    assert [type(layer).__name__ for layer in net] == ["Linear", "Tanh", "Linear", "Tanh",
                                                       "Linear"]
    x, t = rng.standard_normal((7, 6)), rng.integers(0, 3, 7)
    penalty = 0.5 * 0.3 * sum(np.sum(net.params[k] ** 2) for k in ("W1", "W2", "W3"))
    assert net.loss(x, t) == pytest.approx(nb.CrossEntropyLoss()(net.predict(x), t) + penalty)
    grad = net.gradient(x, t)
    num = net.numerical_gradient(x, t)
    for key in grad:  # the penalty's λW is in both
        np.testing.assert_allclose(grad[key], num[key], rtol=1e-6, atol=1e-9)
    # and both agree with finite differences of net.loss itself
    w = net.params["W2"]
    fd = ref.finite_difference(lambda: net.loss(x, t), w, h=1e-5)
    np.testing.assert_allclose(grad["W2"], fd, rtol=1e-6, atol=1e-9)
    with pytest.raises(ValueError, match="weight_init_std"):
        nb.models.MultiLayerNet(3, [2], 2, weight_init_std="lecun")


@pytest.fixture(scope="module")
def digits_split():
    x, t = load_digits()
    return train_test_split(x, t, test_size=0.25, seed=0)


def test_pytorch_digits_example(digits_split):
    """The 64-32-16-10 ReLU net, default init, full-batch SGD lr 0.01, 1000 steps,
    in five seeds (PyTorch's run lands at test loss 0.11–0.17, accuracy 0.95–0.97)."""
    x_train, x_test, t_train, t_test = digits_split
    accuracies = []
    for seed in range(5):
        nb.manual_seed(seed)
        model = nb.Sequential(nb.Linear(64, 32), nb.ReLU(), nb.Linear(32, 16), nb.ReLU(),
                              nb.Linear(16, 10))
        loss_fn = nb.CrossEntropyLoss()
        opt = nb.optim.SGD(model.parameters(), lr=0.01)
        for _ in range(1000):
            opt.zero_grad()
            loss_fn(model(x_train), t_train)
            model.backward(loss_fn.backward())
            opt.step()
        test_loss = loss_fn(model(x_test), t_test)
        accuracies.append(model.accuracy(x_test, t_test))
        assert test_loss < 0.25, (seed, test_loss)
        assert accuracies[-1] > 0.93, (seed, accuracies[-1])
    assert np.median(accuracies) > 0.95, accuracies
