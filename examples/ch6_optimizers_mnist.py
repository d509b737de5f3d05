"""Chapter 6.1.8: SGD, Momentum, AdaGrad and Adam on MNIST (Figure 6-9).

The textbook's optimizer_compare_mnist.py: a MultiLayerNet 784-100-100-100-100-10
(ReLU, He initialisation), mini-batches of 128 drawn at random (with
replacement, as np.random.choice does), 2,000 iterations per optimizer with
the book's defaults — SGD lr 0.01, Momentum lr 0.01 (momentum 0.9), AdaGrad
lr 0.01 (the book's eps=1e-7), Adam lr 0.001 — and the same batches for all
four. Each run is one ``nb.fit`` call with ``sampling='replacement'``, which
runs the 2,000 steps in the compiled engine; ``history.train_loss_list`` is
the per-iteration loss the book records. --quick: 300 iterations.

Prints, every 500 iterations (every 100 with --quick), each optimizer's mean
loss over the last 100 iterations, then the seconds each run took and the
test accuracy it reached. As in the book, SGD is clearly the slowest to learn.

Writes ch6_optimizers_mnist.png: the smoothed loss curves (Figure 6-9).
"""

from _common import Timer, loss_curves_figure, parse_args, print_loss_table, save

import numbann as nb
from numbann.models import MultiLayerNet


def make_optimizer(name, params):
    return {
        "SGD": lambda: nb.optim.SGD(params, lr=0.01),
        "Momentum": lambda: nb.optim.Momentum(params, lr=0.01, momentum=0.9),
        "AdaGrad": lambda: nb.optim.AdaGrad(params, lr=0.01, eps=1e-7),
        "Adam": lambda: nb.optim.Adam(params, lr=0.001),
    }[name]()


def main(argv=None):
    args = parse_args(__doc__, argv)
    (x_train, t_train), (x_test, t_test) = nb.datasets.load_mnist(normalize=True)
    iterations = 300 if args.quick else 2000
    every = 100 if args.quick else 500

    names = ("SGD", "Momentum", "AdaGrad", "Adam")
    train_loss, seconds, accuracy = {}, {}, {}
    for name in names:
        network = MultiLayerNet(input_size=784, hidden_size_list=[100, 100, 100, 100],
                                output_size=10, rng=args.seed)  # the same start for all
        optimizer = make_optimizer(name, network.parameters())
        with Timer() as timer:
            history = nb.fit(network, network.loss_fn, optimizer, x_train, t_train, epochs=1,
                             batch_size=128, sampling="replacement",
                             steps_per_epoch=iterations, seed=args.seed, verbose=0)
        train_loss[name] = history.train_loss_list
        seconds[name] = timer.seconds
        accuracy[name] = network.accuracy(x_test, t_test)

    print_loss_table(train_loss, every)
    for name in names:
        print(f"{name}: {iterations} iterations in {seconds[name]:.2f} s, "
              f"test accuracy {accuracy[name]:.4f}")

    fig = loss_curves_figure(train_loss, "Figure 6-9: optimizers on MNIST (784-100×4-10, "
                             "batch 128)", ylim=1.0)
    save(fig, args.out, "ch6_optimizers_mnist.png")


if __name__ == "__main__":
    main()
