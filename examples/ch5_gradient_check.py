"""Chapter 5.7.3: gradient check — backpropagation against the numerical gradient.

The textbook's gradient_check.py: a TwoLayerNet(784, 50, 10) with ReLU (the
chapter 5 network), the first
three training images, and for each parameter the mean absolute difference
between ``network.gradient`` (backprop) and ``network.numerical_gradient``.
The network is float64 here (``dtype=np.float64``), as the book's NumPy
arrays are, so the differences are of the same order as the book's
(W1:2.6e-13 b1:2.1e-12 W2:9.3e-13 b2:1.2e-10 there; the exact figures depend
on the random weights).

Then the same check for any Sequential with ``nb.gradient_check``, which also
reports the largest difference and the relative error ‖backprop − numerical‖ /
max(‖backprop‖, ‖numerical‖) — here a 784-100-50-10 network (tanh, sigmoid)
with an L2 penalty (``weight_decay_lambda``) that is part of its loss. Smooth
activations keep the check clean: with ReLU, a unit whose input lies within
h of 0 makes the central difference straddle the kink, and that parameter's
relative error jumps to 1e-3…1e-2 without anything being wrong.

Prints one "W1:… b1:… W2:… b2:…" line as the book does, then a table of
the gradient_check report. No figure.
"""

import numpy as np
from _common import parse_args

import numbann as nb
from numbann.models import TwoLayerNet


def main(argv=None):
    args = parse_args(__doc__, argv)
    (x_train, t_train), _ = nb.datasets.load_mnist(normalize=True, one_hot_label=True,
                                                   dtype=np.float64)

    network = TwoLayerNet(input_size=784, hidden_size=50, output_size=10, activation="relu",
                          rng=args.seed, dtype=np.float64)
    x_batch, t_batch = x_train[:3], t_train[:3]
    grad_numerical = network.numerical_gradient(x_batch, t_batch)
    grad_backprop = network.gradient(x_batch, t_batch)
    diffs = {key: np.average(np.abs(grad_backprop[key] - grad_numerical[key]))
             for key in grad_numerical}
    print(" ".join(f"{key}:{diff:.2e}" for key, diff in diffs.items()))

    model = nb.Sequential(nb.Linear(784, 100, rng=args.seed), nb.Tanh(),
                          nb.Linear(100, 50, rng=args.seed + 1), nb.Sigmoid(),
                          nb.Linear(50, 10, rng=args.seed + 2)).double()
    model.weight_decay_lambda = 0.1
    n = 5 if args.quick else 20
    report = nb.gradient_check(model, x_train[:n], t_train[:n], nb.CrossEntropyLoss())
    print(f"gradient_check of {model.in_features}-100-50-10 tanh/sigmoid, L2 λ=0.1, {n} images:")
    print(f"{'parameter':>10} {'max_abs':>10} {'mean_abs':>10} {'rel':>10}")
    for name, check in report.items():
        print(f"{name:>10} {check.max_abs:10.2e} {check.mean_abs:10.2e} {check.rel:10.2e}")
    worst = max(check.rel for check in report.values())
    print(f"largest relative error: {worst:.2e}")


if __name__ == "__main__":
    main()
