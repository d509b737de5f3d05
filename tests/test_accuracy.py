"""Accuracy targets on MNIST (slow tests: full training runs, not timings)."""

import numpy as np
import pytest

import numbann as nb

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def mnist(mnist_dir):
    return nb.datasets.load_mnist(data_dir=mnist_dir)


@pytest.mark.parametrize("activation,target", [("sigmoid", 0.94), ("relu", 0.965)])
def test_textbook_two_layer_net_recipe(mnist, activation, target):
    """The textbook's train_neuralnet.py: 784-50-10, SGD lr 0.1, batch 100, 10,000
    iterations of np.random.choice batches, weight_init_std 0.01."""
    (x, t), (x_test, t_test) = mnist
    net = nb.models.TwoLayerNet(784, 50, 10, activation=activation, rng=0)
    hist = nb.fit(net, net.loss_fn, nb.optim.SGD(net.parameters(), lr=0.1), x, t, epochs=10,
                  steps_per_epoch=1000, sampling="replacement", batch_size=100, seed=0,
                  verbose=0)
    assert len(hist.train_loss_list) == 10_000
    assert hist.params["engine"] == "compiled"
    acc = net.accuracy(x_test, t_test)
    assert acc >= target, acc
    assert np.mean(hist.train_loss_list[-100:]) < np.mean(hist.train_loss_list[:100])


def test_two_hidden_layer_relu_adam(mnist):
    """784-256-128-10 ReLU, Adam lr 1e-3, batch 128, 10 epochs: ≥ 0.978."""
    (x, t), (x_test, t_test) = mnist
    nb.manual_seed(0)
    model = nb.Sequential(nb.Linear(784, 256), nb.ReLU(), nb.Linear(256, 128), nb.ReLU(),
                          nb.Linear(128, 10))
    nb.fit(model, nb.CrossEntropyLoss(), nb.optim.Adam(model.parameters(), lr=1e-3), x, t,
           epochs=10, batch_size=128, seed=0, verbose=0)
    loss, acc = nb.evaluate(model, nb.CrossEntropyLoss(), x_test, t_test)
    assert acc >= 0.978, acc
    assert loss < 0.1, loss
