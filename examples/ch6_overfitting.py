"""Chapter 6.4.1–6.4.2: overfitting on 300 images, and weight decay (Figures 6-20, 6-21).

The textbook's overfit_weight_decay.py: only the first 300 MNIST training
images, a deep MultiLayerNet 784-100-100-100-100-100-100-10 (ReLU, He), SGD
lr 0.01, mini-batches of 100 drawn at random, 201 epochs of 3 iterations,
and the accuracy on those 300 images and on the 10,000 test images after
every epoch — once without and once with weight decay λ = 0.1
(``weight_decay_lambda``: the loss gets ½λ Σ‖W‖² and each weight gradient
λW; the compiled engine runs it). Each run is one ``nb.fit`` call with
``sampling='replacement'``; a callback records the training accuracy.
--quick: 40 epochs.

Prints "epoch:N, train acc:…, test acc:…" every 20 epochs (every 10 with
--quick) for both runs, and the final gap between training and test
accuracy: without weight decay the 300 images are learnt perfectly (train
acc 1.0) and the gap is wide; with λ = 0.1 both accuracies stay lower and
the gap is narrower, as in the book.

Writes ch6_overfitting.png: train and test accuracy against epochs, without
(Figure 6-20) and with (Figure 6-21) weight decay.
"""

import numpy as np
from _common import parse_args, save

import numbann as nb
from numbann.models import MultiLayerNet


def run(x_train, t_train, x_test, t_test, weight_decay_lambda, epochs, seed, every):
    network = MultiLayerNet(input_size=784, hidden_size_list=[100, 100, 100, 100, 100, 100],
                            output_size=10, weight_decay_lambda=weight_decay_lambda, rng=seed)
    optimizer = nb.optim.SGD(network.parameters(), lr=0.01)
    train_acc_list = []

    def record(epoch, logs):
        train_acc_list.append(network.accuracy(x_train, t_train))
        if epoch % every == 0 or epoch == epochs - 1:
            print(f"epoch:{epoch}, train acc:{train_acc_list[-1]:.4f}, "
                  f"test acc:{logs['val_accuracy']:.4f}")

    history = nb.fit(network, network.loss_fn, optimizer, x_train, t_train, epochs=epochs,
                     batch_size=100, sampling="replacement", validation_data=(x_test, t_test),
                     seed=seed, verbose=0, callbacks=[record])
    return np.array(train_acc_list), np.array(history.history["val_accuracy"])


def main(argv=None):
    args = parse_args(__doc__, argv)
    (x_train, t_train), (x_test, t_test) = nb.datasets.load_mnist(normalize=True)
    x_train, t_train = x_train[:300], t_train[:300]  # few data: easy to overfit
    epochs = 40 if args.quick else 201
    every = 10 if args.quick else 20

    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    for ax, lam, figure in zip(axes, (0.0, 0.1), ("6-20", "6-21")):
        print(f"--- weight_decay_lambda = {lam} ---")
        train_acc, test_acc = run(x_train, t_train, x_test, t_test, lam, epochs, args.seed,
                                  every)
        print(f"weight_decay_lambda={lam}: final train acc {train_acc[-1]:.4f}, "
              f"test acc {test_acc[-1]:.4f}, gap {train_acc[-1] - test_acc[-1]:.4f}")
        x = np.arange(epochs)
        ax.plot(x, train_acc, marker="o", markevery=10, label="train")
        ax.plot(x, test_acc, marker="s", markevery=10, label="test")
        ax.set_xlabel("epochs")
        ax.set_ylim(0, 1.0)
        ax.set_title(f"Figure {figure}: weight decay λ = {lam}")
        ax.legend(loc="lower right")
    axes[0].set_ylabel("accuracy")
    save(fig, args.out, "ch6_overfitting.png")


if __name__ == "__main__":
    main()
