"""Chapter 3.6: MNIST inference in batches (the textbook's neuralnet_mnist_batch.py).

The textbook loads a trained 784-50-100-10 sigmoid network from
sample_weight.pkl. numbann never unpickles: this example trains the same
network for a few epochs (Adam; one epoch with --quick), saves it with
nb.save (an .npz with checksums), loads it back with nb.load — the
counterpart of init_network() — and then runs the textbook's loop: batches
of 100 test images, softmax, argmax, count.

Prints the training epochs, "Accuracy:0.9…" over the 10,000 test images (the
textbook's pickled network gets 0.9352), and how fast the whole test set
goes through the network in one batch (images/s).

Writes mnist_predictions.png (the first 20 test images with label →
prediction, mistakes in red) and mnist_784-50-100-10.npz (the model).
"""

import numpy as np
from _common import Timer, parse_args, save

import numbann as nb


def get_data():
    (x_train, t_train), (x_test, t_test) = nb.datasets.load_mnist(
        normalize=True, flatten=True, one_hot_label=False)
    return x_train, t_train, x_test, t_test


def train_network(x, t, epochs, seed):
    """The textbook's 784-50-100-10 sigmoid network, trained with numbann."""
    model = nb.Sequential(nb.Linear(784, 50, rng=seed), nb.Sigmoid(),
                          nb.Linear(50, 100, rng=seed + 1), nb.Sigmoid(),
                          nb.Linear(100, 10, rng=seed + 2))
    opt = nb.optim.Adam(model.parameters(), lr=3e-3)
    nb.fit(model, nb.CrossEntropyLoss(), opt, x, t, epochs=epochs, batch_size=100,
           seed=seed, verbose=2)
    return model


def predict(network, x):
    """The textbook's predict(): the scores through softmax."""
    return nb.functional.softmax(network(x))


def main(argv=None):
    args = parse_args(__doc__, argv)
    x_train, t_train, x, t = get_data()

    trained = train_network(x_train, t_train, 1 if args.quick else 3, args.seed)
    path = args.out / "mnist_784-50-100-10.npz"
    nb.save(trained, path)
    network = nb.load(path)  # init_network(), without pickle
    print(f"saved and reloaded {path}")

    batch_size = 100
    accuracy_cnt = 0
    for i in range(0, len(x), batch_size):
        x_batch = x[i:i + batch_size]
        y_batch = predict(network, x_batch)
        p = np.argmax(y_batch, axis=1)
        accuracy_cnt += np.sum(p == t[i:i + batch_size])
    print("Accuracy:" + str(float(accuracy_cnt) / len(x)))

    network.predict(x)  # once to warm up, then timed
    with Timer() as timer:
        scores = network.predict(x)
    print(f"inference of {len(x)} images in one batch: {timer.seconds * 1e3:.1f} ms "
          f"({len(x) / timer.seconds / 1e6:.2f} million images/s)")

    predicted = np.argmax(scores, axis=1)
    save(nb.plot.show_images(x[:20], t[:20], predicted[:20], ncols=10), args.out,
         "mnist_predictions.png")


if __name__ == "__main__":
    main()
