"""Chapter 6.4.3: Dropout against overfitting (Figures 6-22, 6-23).

The textbook's overfit_dropout.py: only the first 300 MNIST training images,
a 7-layer MultiLayerNetExtend 784-100-100-100-100-100-100-10 (ReLU, He) once
without and once with dropout (``use_dropout=True``, the book's form: the
mask in training, ×(1 − ratio) at test time; ratio 0.2, or --ratio),
SGD lr 0.01, mini-batches of 100 drawn at random, 301 epochs of 3
iterations, and the accuracy on those 300 images and on the 10,000 test
images after every epoch. Each run is one ``nb.fit`` call in the compiled
engine (dropout included); a callback records the training accuracy.
--quick: 60 epochs.

Prints "epoch:N, train acc:…, test acc:…" every 50 epochs (every 20 with
--quick) for both runs and the final gap between training and test accuracy:
without dropout the 300 images are learnt perfectly and the gap is wide;
with dropout it is narrower, as in the book.

Writes ch6_dropout.png: train and test accuracy against epochs, without
(Figure 6-22, left) and with (right) dropout.
"""

import numpy as np
from _common import parse_args, save

import numbann as nb
from numbann.models import MultiLayerNetExtend


def run(data, use_dropout, ratio, epochs, seed, every):
    x_train, t_train, x_test, t_test = data
    network = MultiLayerNetExtend(input_size=784, hidden_size_list=[100] * 6, output_size=10,
                                  use_dropout=use_dropout, dropout_ration=ratio, rng=seed)
    train_acc = []

    def record(epoch, logs):
        train_acc.append(network.accuracy(x_train, t_train))
        if epoch % every == 0 or epoch == epochs - 1:
            print(f"epoch:{epoch}, train acc:{train_acc[-1]:.4f}, "
                  f"test acc:{logs['val_accuracy']:.4f}")

    history = nb.fit(network, network.loss_fn, nb.optim.SGD(network.parameters(), lr=0.01),
                     x_train, t_train, epochs=epochs, batch_size=100, sampling="replacement",
                     validation_data=(x_test, t_test), seed=seed, verbose=0, callbacks=[record])
    return np.array(train_acc), np.array(history.history["val_accuracy"])


def main(argv=None):
    args = parse_args(__doc__, argv, extra=lambda p: p.add_argument(
        "--ratio", type=float, default=0.2, help="dropout ratio (the book: 0.2; 0.15 in 6-23)"))
    (x_train, t_train), (x_test, t_test) = nb.datasets.load_mnist(normalize=True)
    data = (x_train[:300], t_train[:300], x_test, t_test)
    epochs = 60 if args.quick else 301
    every = 20 if args.quick else 50

    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    for ax, use in zip(axes, (False, True)):
        label = f"dropout {args.ratio}" if use else "no dropout"
        print(f"--- {label} ---")
        train_acc, test_acc = run(data, use, args.ratio, epochs, args.seed, every)
        print(f"{label}: final train acc {train_acc[-1]:.4f}, test acc {test_acc[-1]:.4f}, "
              f"gap {train_acc[-1] - test_acc[-1]:.4f}")
        x = np.arange(epochs)
        ax.plot(x, train_acc, marker="o", markevery=25, label="train")
        ax.plot(x, test_acc, marker="s", markevery=25, label="test")
        ax.set_xlabel("epochs")
        ax.set_ylim(0, 1.0)
        ax.set_title(f"{'Figure 6-23' if use else 'Figure 6-22 (left)'}: {label}")
        ax.legend(loc="lower right")
    axes[0].set_ylabel("accuracy")
    save(fig, args.out, "ch6_dropout.png")


if __name__ == "__main__":
    main()
