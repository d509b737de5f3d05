"""Chapter 4.5 (and 5.7.4): TwoLayerNet on MNIST — numerical gradient vs backpropagation.

The textbook's train_neuralnet.py, line for line, with nb.models.TwoLayerNet
(784-50-10, sigmoid, weights N(0, 0.01²)): mini-batches of 100 drawn with
np.random.choice, lr 0.1, ``network.params[key] -= learning_rate * grad[key]``.

First a few iterations with ``network.numerical_gradient`` — the gradient of
every one of the 39,760 parameters by central differences. In the book's
NumPy code one such iteration takes minutes; numbann compiles the loop and
recomputes only what each perturbation changes. Then 10,000 iterations with
``network.gradient`` (backpropagation; 1,200 with --quick), recording the
loss of every iteration and the train/test accuracy once per epoch.

Prints the time of one gradient computation by each method and their ratio, then
"train acc, test acc | 0.xxxx, 0.xxxx" per epoch as the book does (the book
ends near 0.94), and the final test accuracy.

Writes ch4_training.png: the loss per iteration (Figure 4-11) and the
accuracy per epoch (Figure 4-12).
"""

import numpy as np
from _common import Timer, parse_args, save

import numbann as nb
from numbann.models import TwoLayerNet


def train(network, x_train, t_train, iters, rng, method, lr=0.1, batch_size=100, on_epoch=None):
    """The textbook's loop; returns (loss per iteration, seconds per gradient call)."""
    train_size = x_train.shape[0]
    iter_per_epoch = max(train_size // batch_size, 1)
    train_loss_list = []
    gradient_seconds = 0.0
    for i in range(iters):
        batch_mask = rng.choice(train_size, batch_size)
        x_batch, t_batch = x_train[batch_mask], t_train[batch_mask]
        with Timer() as timer:
            grad = getattr(network, method)(x_batch, t_batch)
        gradient_seconds += timer.seconds
        for key in ("W1", "b1", "W2", "b2"):
            network.params[key] -= lr * grad[key]
        train_loss_list.append(network.loss(x_batch, t_batch))
        if on_epoch is not None and i % iter_per_epoch == 0:
            on_epoch(network)
    return train_loss_list, gradient_seconds / iters


def main(argv=None):
    args = parse_args(__doc__, argv)
    (x_train, t_train), (x_test, t_test) = nb.datasets.load_mnist(normalize=True,
                                                                  one_hot_label=True)
    rng = np.random.default_rng(args.seed)

    # --- numerical gradient: a few iterations, timed --------------------------------
    numeric_iters = 2 if args.quick else 5
    network = TwoLayerNet(input_size=784, hidden_size=50, output_size=10, rng=args.seed)
    network.numerical_gradient(x_train[:2], t_train[:2])  # compile outside the timing
    _, numeric_s = train(network, x_train, t_train, numeric_iters, rng, "numerical_gradient")
    print(f"numerical_gradient: {numeric_s:.3f} s per iteration ({numeric_iters} iterations)")

    # --- backpropagation: the full run ------------------------------------------------
    iters = 1200 if args.quick else 10000
    network = TwoLayerNet(input_size=784, hidden_size=50, output_size=10, rng=args.seed)
    network.gradient(x_train[:2], t_train[:2])  # compile outside the timing
    train_acc_list, test_acc_list = [], []

    def on_epoch(net):
        train_acc, test_acc = net.accuracy(x_train, t_train), net.accuracy(x_test, t_test)
        train_acc_list.append(train_acc)
        test_acc_list.append(test_acc)
        print(f"train acc, test acc | {train_acc:.4f}, {test_acc:.4f}")

    losses, backprop_s = train(network, x_train, t_train, iters, rng, "gradient",
                               on_epoch=on_epoch)
    print(f"gradient (backpropagation): {backprop_s * 1e3:.3f} ms per iteration "
          f"({iters} iterations)")
    print(f"backpropagation is {numeric_s / backprop_s:.0f}x faster than the numerical gradient")
    print(f"final test accuracy: {network.accuracy(x_test, t_test):.4f}")

    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.8))
    ax1.plot(np.arange(len(losses)), losses, lw=0.5)
    ax1.set_xlabel("iteration")
    ax1.set_ylabel("loss")
    ax1.set_title("Figure 4-11: loss per iteration")
    epochs = np.arange(len(train_acc_list))
    ax2.plot(epochs, train_acc_list, marker="o", label="train acc")
    ax2.plot(epochs, test_acc_list, "--", marker="s", label="test acc")
    ax2.set_xlabel("epochs")
    ax2.set_ylabel("accuracy")
    ax2.set_ylim(0, 1.0)
    ax2.set_title("Figure 4-12: accuracy per epoch")
    ax2.legend(loc="lower right")
    save(fig, args.out, "ch4_training.png")


if __name__ == "__main__":
    main()
