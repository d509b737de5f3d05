"""Chapter 6.2: weight initialisation — std 0.01 vs Xavier vs He (Figures 6-10 to 6-15).

Part 1, the textbook's weight_init_activation_histogram.py: 1,000 random
inputs (N(0, 1), 100 features) through 5 layers of 100 units without bias,
and a histogram of each layer's activations. Sigmoid with std 1 (the
activations pile up at 0 and 1 — vanishing gradients, Figure 6-10), with
std 0.01 (all near 0.5 — no expressiveness, Figure 6-11) and with Xavier
(std √(1/n): spread out, Figure 6-13); ReLU with std 0.01, Xavier and He
(std √(2/n)) (Figure 6-14: only He keeps the spread through the layers).
The layers are ``nb.Linear(100, 100, bias=False, init=…)`` — init takes a
std or 'xavier' / 'he' — followed by ``nb.Sigmoid()`` or ``nb.ReLU()``.

Part 2, the textbook's weight_init_compare.py: MultiLayerNet
784-100-100-100-100-10 (ReLU) on MNIST with the three initialisations, SGD
lr 0.01, batches of 128, 2,000 iterations (300 with --quick), the same
batches for each.

Prints the standard deviation of each layer's activations for every
setting, then the MNIST loss every 500 iterations (mean of the last 100)
and each run's test accuracy: std 0.01 does not learn at all in 2,000
iterations (loss stays at 2.30 = ln 10), He learns fastest.

Writes ch6_weight_init_sigmoid.png, ch6_weight_init_relu.png (the
histograms, one row per initialisation, one column per layer) and
ch6_weight_init_mnist.png (the loss curves, Figure 6-15).
"""

import numpy as np
from _common import loss_curves_figure, parse_args, print_loss_table, save

import numbann as nb
from numbann.models import MultiLayerNet

SIGMOID_SETTINGS = [("std 1", 1.0), ("std 0.01", 0.01), ("Xavier", "xavier")]
RELU_SETTINGS = [("std 0.01", 0.01), ("Xavier", "xavier"), ("He", "he")]


def activations(x, init, activation, rng, layers=5):
    """Each layer's output for x through *layers* Linear(100, 100, bias=False) + activation."""
    out = []
    for _ in range(layers):
        linear = nb.Linear(x.shape[1], 100, bias=False, init=init, rng=rng)
        x = activation()(linear(x))
        out.append(x)
    return out


def histograms(x, settings, activation, title, rng, ylim=None):
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(settings), 5, figsize=(12, 2.3 * len(settings)), sharey=True)
    print(f"{title}: standard deviation of each layer's activations")
    for row, (label, init) in zip(axes, settings):
        acts = activations(x, init, activation, rng)
        print(f"  {label:>9}: " + "  ".join(f"{a.std():.4f}" for a in acts))
        for i, (ax, a) in enumerate(zip(row, acts)):
            ax.hist(a.ravel(), 30, range=(0, 1))
            if ylim:
                ax.set_ylim(0, ylim)
            if i == 0:
                ax.set_ylabel(label)
            ax.set_title(f"{i + 1}-layer", fontsize=9)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def mnist_comparison(args):
    (x_train, t_train), (x_test, t_test) = nb.datasets.load_mnist(normalize=True)
    iterations = 300 if args.quick else 2000
    every = 100 if args.quick else 500
    settings = {"std=0.01": 0.01, "Xavier": "sigmoid", "He": "relu"}  # the book's names
    losses, accuracy = {}, {}
    for label, std in settings.items():
        network = MultiLayerNet(784, [100, 100, 100, 100], 10, weight_init_std=std,
                                rng=args.seed)
        opt = nb.optim.SGD(network.parameters(), lr=0.01)
        history = nb.fit(network, network.loss_fn, opt, x_train, t_train, epochs=1,
                         batch_size=128, sampling="replacement", steps_per_epoch=iterations,
                         seed=args.seed, verbose=0)
        losses[label] = history.train_loss_list
        accuracy[label] = network.accuracy(x_test, t_test)
    print("MNIST, 784-100×4-10 ReLU, SGD lr 0.01:")
    print_loss_table(losses, every)
    for label in settings:
        print(f"{label}: test accuracy {accuracy[label]:.4f}")

    save(loss_curves_figure(losses, "Figure 6-15: weight initialisation on MNIST", ylim=2.5),
         args.out, "ch6_weight_init_mnist.png")


def main(argv=None):
    args = parse_args(__doc__, argv)
    rng = np.random.default_rng(args.seed)
    x = rng.standard_normal((1000, 100)).astype(np.float32)
    save(histograms(x, SIGMOID_SETTINGS, nb.Sigmoid, "sigmoid (Figures 6-10, 6-11, 6-13)", rng),
         args.out, "ch6_weight_init_sigmoid.png")
    save(histograms(x, RELU_SETTINGS, nb.ReLU, "ReLU (Figure 6-14)", rng, ylim=7000),
         args.out, "ch6_weight_init_relu.png")
    mnist_comparison(args)


if __name__ == "__main__":
    main()
