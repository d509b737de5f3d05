"""Accuracy targets on MNIST (slow tests: full training runs, not timings).

The thresholds hold on any x86-64 CPU. Different BLAS kernels (OpenBLAS's
Haswell kernels on AMD Zen, SkylakeX or SapphireRapids ones on Intel) and
vector widths round differently, so a run's accuracy moves from one machine
to another as it moves from one seed to another. Each threshold therefore
sits at least four standard deviations of the seed-to-seed spread below
the mean — the spread measured over eight or ten seeds on the AMD EPYC
(AVX2), the only figure from the Intel Xeon (Sapphire Rapids, AVX-512) being
issue 12's — and where one run's spread is too wide for that to catch a real
loss, the test takes the mean of a few seeds.
"""

import numpy as np
import pytest

import numbann as nb

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def mnist(mnist_dir):
    return nb.datasets.load_mnist(data_dir=mnist_dir)


@pytest.mark.parametrize("activation,target", [("sigmoid", 0.940), ("relu", 0.962)])
def test_textbook_two_layer_net_recipe(mnist, activation, target):
    """The textbook's train_neuralnet.py: 784-50-10, SGD lr 0.1, batch 100, 10,000
    iterations of np.random.choice batches, weight_init_std 0.01.

    Test accuracy over seeds 0–7 (``rng`` and ``seed``), AMD EPYC: sigmoid mean
    0.9464, standard deviation 0.0010, range 0.9455–0.9483; ReLU mean 0.9696,
    standard deviation 0.0018, range 0.9654–0.9711. Thresholds: 0.940 (mean − 6.5
    sd) and 0.962 (mean − 4.3 sd); the ReLU one was 0.965, which seed 5 cleared by
    0.0004."""
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


#: seeds of the Adam test, and its thresholds (see its docstring)
ADAM_SEEDS = (0, 1, 2)
ADAM_MEAN_ACC, ADAM_EACH_ACC, ADAM_MEAN_LOSS = 0.974, 0.971, 0.095


def test_two_hidden_layer_relu_adam(mnist):
    """784-256-128-10 ReLU, Adam lr 1e-3, batch 128, 10 epochs, in three seeds.

    Test accuracy over seeds 0–9 (``nb.manual_seed`` and ``seed``), AMD EPYC:
    mean 0.9784, standard deviation 0.0018, range 0.9755–0.9815 (seed 2 the
    lowest); test loss mean 0.0786, standard deviation 0.0068, range 0.0712–0.0900.
    Issue 12: seed 0 gave 0.9772 on the Intel Xeon, 0.0013 below its 0.9785 on
    the AMD EPYC, inside the seed-to-seed spread — and below the single-seed
    threshold of 0.978 this test had (which seeds 2, 5 and 6 miss on the AMD EPYC
    too). The mean of three seeds varies by 0.0018 / √3 ≈ 0.0011, so it must reach
    0.974 (mean − 4.1 of its sd), each seed 0.971 (mean − 4.0 sd), and the mean
    test loss stay below 0.095 (mean + 4.1 of its sd, 0.0039)."""
    (x, t), (x_test, t_test) = mnist
    accs, losses = [], []
    for seed in ADAM_SEEDS:
        nb.manual_seed(seed)
        model = nb.Sequential(nb.Linear(784, 256), nb.ReLU(), nb.Linear(256, 128), nb.ReLU(),
                              nb.Linear(128, 10))
        nb.fit(model, nb.CrossEntropyLoss(), nb.optim.Adam(model.parameters(), lr=1e-3), x, t,
               epochs=10, batch_size=128, seed=seed, verbose=0)
        loss, acc = nb.evaluate(model, nb.CrossEntropyLoss(), x_test, t_test)
        accs.append(acc)
        losses.append(loss)
    assert np.mean(accs) >= ADAM_MEAN_ACC and min(accs) >= ADAM_EACH_ACC, accs
    assert np.mean(losses) < ADAM_MEAN_LOSS, losses
