"""Chapter 3.2: the activation functions — step, sigmoid, ReLU (Figures 3-6 to 3-9).

Reproduces the textbook's step_function.py, sig_step_compare.py and relu.py
with numbann.functional, the compiled versions of common/functions.py.

Prints the functions at x = [-1.0, 1.0, 2.0], as section 3.2.4 does
(step [0. 1. 1.], sigmoid [0.26894142 0.73105858 0.88079708]), ReLU, and the
sigmoid at ±1000 (no overflow warning: the kernel never computes exp(1000)).

Writes activations.png (step, sigmoid, tanh and ReLU side by side, drawn by
numbann.plot.plot_activations) and step_vs_sigmoid.png (Figure 3-8).
"""

import numpy as np
from _common import parse_args, save

import numbann as nb
from numbann import functional as F


def main(argv=None):
    args = parse_args(__doc__, argv)
    np.set_printoptions(precision=8)

    x = np.array([-1.0, 1.0, 2.0])
    print("x               ", x)
    print("step_function(x)", F.step_function(x))
    print("sigmoid(x)      ", F.sigmoid(x))
    print("relu(x)         ", F.relu(x))
    print("sigmoid(±1000)  ", F.sigmoid(np.array([-1000.0, 1000.0])))

    save(nb.plot.plot_activations(), args.out, "activations.png")

    # Figure 3-8: the sigmoid (solid) against the step function (dashed)
    import matplotlib.pyplot as plt

    xs = np.arange(-5.0, 5.0, 0.1)
    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.plot(xs, F.sigmoid(xs), label="sigmoid")
    ax.plot(xs, F.step_function(xs), "k--", label="step")
    ax.set_ylim(-0.1, 1.1)
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.set_title("Figure 3-8: step function and sigmoid")
    ax.legend()
    save(fig, args.out, "step_vs_sigmoid.png")


if __name__ == "__main__":
    main()
