"""Regenerate the pictures of docs/cli.md and docs/plots.md.

    python docs/img/make_images.py [--data-dir DIR]

Trains 784-100-10 ReLU with Adam on MNIST for 5 epochs (as ``numbann train``
does by default) when MNIST is found (``--data-dir``, ``$NUMBANN_DATA`` or
the per-user cache; no download), else on the shipped 8x8 digits, then draws
every plot of :mod:`numbann.plot` into this directory. Deterministic for a
given thread count (seed 0).
"""

import argparse
import os
from pathlib import Path

os.environ.setdefault("MPLBACKEND", "Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import numbann as nb  # noqa: E402
from numbann import plot  # noqa: E402
from numbann.cli import CLIError  # noqa: E402
from numbann.cli._recipes import load_data, make_model, make_optimizer  # noqa: E402

HERE = Path(__file__).resolve().parent


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--out", default=str(HERE))
    args = parser.parse_args()
    out = Path(args.out)
    try:
        data = load_data("mnist", args.data_dir, download=False)
        name, epochs = "mnist", 5
    except CLIError as exc:
        print(f"MNIST not found ({exc}); using the digits")
        data = load_data("digits")
        name, epochs = "digits", 40
    x_train, t_train, x_test, t_test = data

    def save(fig, filename, dpi=100):
        fig.savefig(out / filename, dpi=dpi, bbox_inches="tight")
        plt.close(fig)
        print("wrote", out / filename)

    save(plot.plot_activations(), "activations.png")

    model = make_model(x_train.shape[1], [100], 10, "relu", seed=0)
    opt = make_optimizer("adam", model.parameters())
    history = nb.fit(model, nb.CrossEntropyLoss(), opt, x_train, t_train, epochs=epochs,
                     batch_size=128, validation_data=(x_test, t_test), seed=0, verbose=0)
    save(plot.plot_history(history, val_label="test",
                           title=f"{name} 784-100-10 ReLU, Adam" if name == "mnist"
                           else f"{name} 64-100-10 ReLU, Adam"), "history.png")

    predicted = np.argmax(model.predict(x_test), axis=1)
    save(plot.plot_confusion_matrix(t_test, predicted), "confusion_matrix.png")
    save(plot.plot_weights(model), "weights.png")
    save(plot.show_images(x_test[:20], t_test[:20], predicted[:20], ncols=10), "images.png")
    save(plot.show_images(x_test, t_test, predicted, errors_only=True, max_images=20),
         "misclassified.png")

    # the digits: 8x8 weight tiles
    xd, td, xdt, tdt = load_data("digits")
    small = make_model(64, [16], 10, "relu", seed=0)
    nb.fit(small, nb.CrossEntropyLoss(), make_optimizer("adam", small.parameters(), lr=0.01),
           xd, td, epochs=30, batch_size=32, seed=0, verbose=0)
    save(plot.plot_weights(small), "weights_digits.png")


if __name__ == "__main__":
    main()
