"""Chapter 6.3.2: training with and without Batch Normalization (Figures 6-18, 6-19).

The textbook's batch_norm_test.py: the first 1,000 MNIST training images, a
MultiLayerNetExtend 784-100-100-100-100-100-10 (ReLU) with and without batch
normalization (``use_batchnorm=True``, the book's formulas), SGD lr 0.01,
mini-batches of 100 drawn at random, 20 epochs of 10 iterations, for each of
16 initial weight scales ``np.logspace(0, -4, 16)``; the accuracy on the
1,000 images is recorded before training and after each epoch. Each run is
one ``nb.fit`` call in the compiled engine (batch norm included). --quick: 4
weight scales, 6 epochs.

Prints, per weight scale, the final training accuracy with and without batch
norm: with it, training proceeds at every scale; without it, it stalls when
the weights start too small, and diverges when they start too large, as the
book shows.

Writes ch6_batch_norm.png: the 16 panels of Figure 6-19 (the accuracy curves
with batch norm solid, without dashed; Figure 6-18 is the panel for scale 1).
"""

import numpy as np
from _common import parse_args, save

import numbann as nb
from numbann.models import MultiLayerNetExtend


def train(x, t, weight_init_std, use_batchnorm, epochs, seed):
    """Training accuracy before training and after each epoch but the last (as the book).

    Without batch norm, large initial weights make the loss overflow; the book's loop
    goes on with NaN weights at chance accuracy, here fit stops (TrainingDiverged)
    and the curve stays at the accuracy of the last finite weights.
    """
    net = MultiLayerNetExtend(input_size=784, hidden_size_list=[100] * 5, output_size=10,
                              weight_init_std=weight_init_std, use_batchnorm=use_batchnorm,
                              rng=seed)
    acc = [net.accuracy(x, t)]
    try:
        nb.fit(net, net.loss_fn, nb.optim.SGD(net.parameters(), lr=0.01), x, t,
               epochs=epochs - 1, batch_size=100, sampling="replacement", steps_per_epoch=10,
               seed=seed, verbose=0,
               callbacks=[lambda epoch, logs: acc.append(net.accuracy(x, t))])
    except nb.TrainingDiverged:
        acc += [net.accuracy(x, t)] * (epochs - len(acc))
    return np.array(acc)


def main(argv=None):
    args = parse_args(__doc__, argv)
    (x_train, t_train), _ = nb.datasets.load_mnist(normalize=True)
    x_train, t_train = x_train[:1000], t_train[:1000]
    scales = np.logspace(0, -4, num=4 if args.quick else 16)
    epochs = 6 if args.quick else 20

    import matplotlib.pyplot as plt

    rows = int(np.ceil(len(scales) / 4))
    fig, axes = plt.subplots(rows, 4, figsize=(14, 3.2 * rows), sharex=True, sharey=True,
                             squeeze=False)
    for ax, w in zip(axes.ravel(), scales):
        bn_acc = train(x_train, t_train, w, True, epochs, args.seed)
        acc = train(x_train, t_train, w, False, epochs, args.seed)
        print(f"W:{w:.6f}  batch norm: train acc {bn_acc[-1]:.4f}  "
              f"without: train acc {acc[-1]:.4f}")
        x = np.arange(epochs)
        ax.plot(x, bn_acc, label="Batch Normalization", markevery=2)
        ax.plot(x, acc, linestyle="--", label="Normal (without BatchNorm)", markevery=2)
        ax.set_title(f"W:{w:.6g}")
        ax.set_ylim(0, 1.0)
    for ax in axes[-1]:
        ax.set_xlabel("epochs")
    for ax in axes[:, 0]:
        ax.set_ylabel("accuracy")
    axes.ravel()[0].legend(loc="lower right", fontsize=8)
    fig.suptitle("Figure 6-19: training accuracy with (solid) and without (dashed) batch "
                 "norm, by initial weight scale")
    fig.tight_layout()
    save(fig, args.out, "ch6_batch_norm.png")


if __name__ == "__main__":
    main()
