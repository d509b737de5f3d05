"""What every example shares: the command line, quick mode, the output directory.

Each example accepts

    --out DIR   where figures are written (default: examples/out/, git-ignored)
    --quick     fewer iterations, for CI (also: environment NUMBANN_EXAMPLES_QUICK=1)
    --seed N    the random seed (default 0)

MNIST is found the way ``numbann.datasets.load_mnist()`` always looks for it
(``$NUMBANN_DATA``, the per-user cache, else a download); see docs/datasets.md.
"""

import argparse
import os
import time
from pathlib import Path

# The examples write figures to files and never open windows.
os.environ.setdefault("MPLBACKEND", "Agg")

HERE = Path(__file__).resolve().parent
DEFAULT_OUT = HERE / "out"


def parse_args(doc, argv=None, extra=None):
    """Parse the common options; *doc* is the example's module docstring.

    Returns the namespace with ``out`` (an existing Path) and ``quick`` (bool).
    *extra*, if given, is called with the parser to add options of the example.
    """
    first = doc.strip().splitlines()[0]
    parser = argparse.ArgumentParser(description=first, epilog=doc,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT,
                        help="directory for the figures (default: examples/out/)")
    parser.add_argument("--quick", action="store_true",
                        help="fewer iterations, for CI (or NUMBANN_EXAMPLES_QUICK=1)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    if extra is not None:
        extra(parser)
    args = parser.parse_args(argv)
    args.quick = args.quick or os.environ.get("NUMBANN_EXAMPLES_QUICK", "") not in ("", "0")
    args.out.mkdir(parents=True, exist_ok=True)
    return args


def save(fig, out, name):
    """Save *fig* as out/name, close it, and say so."""
    import matplotlib.pyplot as plt

    path = Path(out) / name
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)
    print(f"wrote {path}")
    return path


def smooth_curve(x):
    """The textbook's common/util.py smooth_curve: a Kaiser window of 11 over a loss curve."""
    import numpy as np

    window_len = 11
    s = np.r_[x[window_len - 1:0:-1], x, x[-1:-window_len:-1]]
    w = np.kaiser(window_len, 2)
    y = np.convolve(w / w.sum(), s, mode="valid")
    return y[5:len(y) - 5]


def print_loss_table(curves, every, window=100):
    """Every *every* iterations, each run's mean loss over the last *window* iterations.

    *curves* maps a run's name to its per-iteration losses (history.train_loss_list).
    """
    names = list(curves)
    iterations = min(len(c) for c in curves.values())
    print("iteration " + " ".join(f"{name:>9}" for name in names))
    for i in range(every, iterations + 1, every):
        row = " ".join(f"{sum(curves[n][i - window:i]) / window:9.4f}" for n in names)
        print(f"{i:9d} {row}")


def loss_curves_figure(curves, title, ylim):
    """The smoothed per-iteration loss of each run, as the textbook's Figures 6-9 and 6-15."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for (name, curve), marker in zip(curves.items(), "oxsDv^"):
        ax.plot(smooth_curve(curve), marker=marker, markevery=max(len(curve) // 20, 1),
                label=name)
    ax.set_xlabel("iterations")
    ax.set_ylabel("loss")
    ax.set_ylim(0, ylim)
    ax.set_title(title)
    ax.legend()
    return fig


class Timer:
    """``with Timer() as t: ...`` then ``t.seconds``."""

    def __enter__(self):
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.start
        return False
