"""Plots for learning: activation functions, training curves, confusion matrix, weights, images.

    from numbann import plot
    fig = plot.plot_history(history)            # after nb.fit
    fig.savefig("history.png")                  # or plot_history(history, path="history.png")

Every function returns the matplotlib :class:`~matplotlib.figure.Figure`,
saves it when given ``path=`` (PNG unless the name says otherwise), and,
where one axes suffices, draws into ``ax=`` instead of a new figure. The
functions never call ``plt.show()``: in a notebook the figure appears by
itself; in a script call ``plt.show()`` (figures are made with pyplot, so
it shows them) and ``plt.close(fig)`` when you make many.

Headless use: importing this module selects matplotlib's non-interactive
Agg backend only when nothing else has chosen a backend (no pyplot
imported yet, no ``MPLBACKEND``, no backend in matplotlibrc) and there is
no display (Linux without ``DISPLAY``/``WAYLAND_DISPLAY``). Otherwise the
backend is left alone.
"""

import math
import os
import sys

import matplotlib
import numpy as np


def _select_backend():
    """Agg when headless and nobody chose a backend; otherwise leave matplotlib alone."""
    if "matplotlib.pyplot" in sys.modules or os.environ.get("MPLBACKEND"):
        return
    try:
        chosen = dict.__getitem__(matplotlib.rcParams, "backend")
        auto = chosen is matplotlib.rcsetup._auto_backend_sentinel
    except (AttributeError, KeyError):  # pragma: no cover - other matplotlib versions
        auto = False
    headless = sys.platform.startswith("linux") and not (
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    if auto and headless:
        matplotlib.use("Agg")


_select_backend()

import matplotlib.pyplot as plt  # noqa: E402  (after the backend choice)

__all__ = ["plot_activations", "plot_history", "plot_confusion_matrix", "confusion_matrix",
           "plot_weights", "show_images"]

#: colour of misclassified examples and of the validation curves' partner
_ERROR_COLOR = "tab:red"


def _finish(fig, path, dpi=100):
    if path is not None:
        fig.savefig(os.fspath(path), dpi=dpi, bbox_inches="tight")
    return fig


def _axes(ax, figsize):
    if ax is None:
        fig, ax = plt.subplots(figsize=figsize, layout="constrained")
        return fig, ax
    return ax.figure, ax


# --- activation functions ------------------------------------------------------------


def _activation_functions():
    from . import functional as F

    return {
        "step": (F.step_function, (-0.1, 1.1)),
        "sigmoid": (F.sigmoid, (-0.1, 1.1)),
        "tanh": (F.tanh, (-1.1, 1.1)),
        "ReLU": (F.relu, (-1.0, 5.5)),
    }


def plot_activations(names=("step", "sigmoid", "tanh", "ReLU"), *, x_range=(-5.0, 5.0),
                     path=None, ax=None):
    """The activation functions on ``x_range`` (default −5..5), as the textbook draws them.

    One panel per function (step, sigmoid, tanh, ReLU by default), with the
    textbook's y ranges (−0.1..1.1 for step and sigmoid, −1..5.5 for ReLU).
    With ``ax`` all of them go on that one axes, with a legend (as the
    textbook's step-vs-sigmoid figure). The curves are computed with
    :mod:`numbann.functional`. Returns the Figure.
    """
    table = _activation_functions()
    names = [names] if isinstance(names, str) else list(names)
    unknown = [n for n in names if n not in table]
    if unknown or not names:
        raise ValueError(f"unknown activation(s) {unknown}; choose from {list(table)}")
    lo, hi = map(float, x_range)
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        raise ValueError(f"x_range must be two finite numbers (low, high), got {x_range!r}")
    x = np.arange(lo, hi + 1e-9, 0.1) if hi - lo <= 100 else np.linspace(lo, hi, 1001)
    if ax is not None:
        fig = ax.figure
        for name in names:
            ax.plot(x, table[name][0](x), label=name,
                    linestyle="--" if name == "step" else "-")
        ax.set_xlabel("x")
        ax.set_ylabel("y")
        ax.grid(True, alpha=0.3)
        ax.legend()
        return _finish(fig, path)
    cols = min(len(names), 2) if len(names) != 3 else 3
    rows = math.ceil(len(names) / cols)
    fig, axs = plt.subplots(rows, cols, figsize=(3.6 * cols, 2.9 * rows), layout="constrained",
                            squeeze=False)
    for a, name in zip(axs.flat, names):
        fn, ylim = table[name]
        a.plot(x, fn(x), color="tab:blue")
        a.set_title(name)
        a.set_ylim(*ylim)
        a.set_xlim(lo, hi)
        a.axhline(0, color="0.6", linewidth=0.8)
        a.axvline(0, color="0.6", linewidth=0.8)
        a.grid(True, alpha=0.3)
        a.set_xlabel("x")
    for a in axs.flat[len(names):]:
        a.remove()
    return _finish(fig, path)


# --- training history ------------------------------------------------------------------


def _history_parts(history):
    """(per-epoch dict, per-iteration losses or None, steps per epoch or None)."""
    if hasattr(history, "history") and isinstance(history.history, dict):
        logs = history.history
        iters = getattr(history, "train_loss_list", None)
        steps = getattr(history, "params", {}).get("steps")
    elif isinstance(history, dict):
        logs, iters, steps = history, None, None
    else:
        raise TypeError("history must be the History returned by numbann.fit or its "
                        f".history dict, got {type(history).__name__}")
    if not logs.get("loss"):
        raise ValueError("the history has no per-epoch 'loss' values (did training run?)")
    return logs, (list(iters) if iters else None), steps


def _smooth(values, window):
    """Moving average over *window* values (its 'valid' part) and the index of each
    window's centre."""
    values = np.asarray(values, np.float64)
    if window <= 1 or len(values) < window:
        return np.arange(len(values), dtype=np.float64), values
    kernel = np.ones(window) / window
    smoothed = np.convolve(values, kernel, mode="valid")
    centres = np.arange(len(smoothed)) + (window - 1) / 2
    return centres, smoothed


def _has_values(values):
    return values is not None and len(values) and not np.all(np.isnan(np.asarray(values,
                                                                                 float)))


def plot_history(history, *, smooth=None, val_label="validation", title=None, path=None):
    """Loss and accuracy against the epoch, training vs validation: a Figure with two axes.

    *history* is what :func:`numbann.fit` returns (or its ``.history`` dict).
    Per-epoch values are drawn with markers (training in blue, validation in
    orange, ``val_label`` names it); the per-iteration training loss
    (``history.train_loss_list``) is drawn behind as a faint line, smoothed
    by a moving average over *smooth* iterations (default: about a fifth of
    an epoch; 1 for no smoothing), placed so that iteration *i* of epoch *e*
    sits between *e* − 1 and *e*. Epochs where validation was not run (NaN)
    are skipped. The accuracy panel is left out when the history has none.
    """
    logs, iters, steps = _history_parts(history)
    epochs = np.arange(1, len(logs["loss"]) + 1)
    has_acc = _has_values(logs.get("accuracy")) or _has_values(logs.get("val_accuracy"))
    fig, axs = plt.subplots(1, 2 if has_acc else 1, figsize=(10 if has_acc else 5.5, 3.8),
                            layout="constrained", squeeze=False)
    ax_loss = axs[0, 0]
    if iters:
        if not steps:
            steps = max(1, round(len(iters) / len(epochs)))
        window = max(1, round(steps / 5)) if smooth is None else int(smooth)
        if window < 1:
            raise ValueError(f"smooth must be a positive number of iterations, got {smooth}")
        pos, vals = _smooth(iters, window)
        ax_loss.plot((pos + 1) / steps, vals, color="tab:blue", alpha=0.35, linewidth=1,
                     label="training (per iteration" + (", smoothed)" if window > 1 else ")"))
    panels = [(ax_loss, "loss", "val_loss", "loss")]
    if has_acc:
        panels.append((axs[0, 1], "accuracy", "val_accuracy", "accuracy"))
    for ax, key, val_key, ylabel in panels:
        if _has_values(logs.get(key)):
            ax.plot(epochs, logs[key], "o-", color="tab:blue", markersize=4, label="training")
        if _has_values(logs.get(val_key)):
            val = np.asarray(logs[val_key], np.float64)
            ok = ~np.isnan(val)
            ax.plot(epochs[ok], val[ok], "s-", color="tab:orange", markersize=4,
                    label=val_label)
        ax.set_xlabel("epoch")
        ax.set_ylabel(ylabel)
        ax.set_xlim(0 if (iters and ax is ax_loss) else 0.8, len(epochs) + 0.2)
        if len(epochs) <= 20:
            ax.set_xticks(epochs)
        ax.grid(True, alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    return _finish(fig, path)


# --- confusion matrix ----------------------------------------------------------------------


def _as_labels(y, name):
    arr = np.asarray(y)
    if arr.ndim == 2:  # one-hot rows or scores
        arr = np.argmax(arr, axis=1)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be labels (N,) or scores/one-hot rows (N, C), got shape "
                         f"{np.shape(y)}")
    return arr


def confusion_matrix(y_true, y_pred, labels=None):
    """(matrix, labels): matrix[i, j] counts samples of class labels[i] predicted as labels[j].

    y_true and y_pred are labels (N,) or rows (N, C) of one-hot targets or
    scores (their argmax is taken). *labels* lists the classes in order
    (default: the sorted classes that occur in either).
    """
    t, p = _as_labels(y_true, "y_true"), _as_labels(y_pred, "y_pred")
    if t.shape != p.shape:
        raise ValueError(f"y_true and y_pred must have the same length, got {t.shape[0]} and "
                         f"{p.shape[0]}")
    if t.size == 0:
        raise ValueError("y_true and y_pred are empty")
    labels = np.union1d(t, p) if labels is None else np.asarray(labels)
    if labels.ndim != 1 or labels.size == 0 or np.unique(labels).size != labels.size:
        raise ValueError("labels must be a non-empty list of distinct classes")
    index = {label: i for i, label in enumerate(labels.tolist())}
    missing = sorted(set(t.tolist()) - set(index)) + sorted(set(p.tolist()) - set(index))
    if missing:
        raise ValueError(f"y_true/y_pred contain classes {sorted(set(missing))} that are not in "
                         f"labels {labels.tolist()}")
    k = len(labels)
    ti = np.array([index[v] for v in t.tolist()])
    pi = np.array([index[v] for v in p.tolist()])
    matrix = np.bincount(ti * k + pi, minlength=k * k).reshape(k, k)
    return matrix, labels


def plot_confusion_matrix(y_true, y_pred, labels=None, *, normalize=False, cmap="Blues",
                          title=None, path=None, ax=None):
    """The confusion matrix of true vs predicted classes as an annotated heat map.

    Rows are the true classes, columns the predicted ones (see
    :func:`confusion_matrix` for the inputs). With ``normalize=True`` each
    row is divided by its total (the fraction of each class predicted as
    each class); otherwise cells show counts. The title gives the accuracy.
    """
    matrix, labels = confusion_matrix(y_true, y_pred, labels)
    k = len(labels)
    values = matrix.astype(np.float64)
    if normalize:
        totals = values.sum(axis=1, keepdims=True)
        values = np.divide(values, totals, out=np.zeros_like(values), where=totals > 0)
    fig, ax = _axes(ax, (0.55 * k + 2.2, 0.5 * k + 1.6))
    image = ax.imshow(values, cmap=cmap, vmin=0, interpolation="nearest")
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04,
                 label="fraction of the true class" if normalize else "count")
    threshold = values.max() / 2 if values.max() > 0 else 1
    small = k > 15
    for i in range(k):
        for j in range(k):
            text = f"{values[i, j]:.2f}" if normalize else f"{matrix[i, j]:d}"
            if small and matrix[i, j] == 0:
                continue
            ax.text(j, i, text, ha="center", va="center", fontsize=6 if small else 8,
                    color="white" if values[i, j] > threshold else "black")
    names = [str(v) for v in labels.tolist()]
    ax.set_xticks(range(k), names)
    ax.set_yticks(range(k), names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    accuracy = np.trace(matrix) / matrix.sum()
    ax.set_title(title or f"accuracy {accuracy:.4f} ({np.trace(matrix)}/{matrix.sum()})")
    return _finish(fig, path)


# --- first-layer weights ----------------------------------------------------------------------


def _first_weight(model):
    from .sequential import Sequential

    if isinstance(model, Sequential):
        return model.linears[0].weight.data
    arr = np.asarray(model)
    if arr.ndim != 2:
        raise TypeError("plot_weights takes a numbann model or a weight matrix "
                        f"(in_features, out_features), got {type(model).__name__}")
    return arr


def _image_shape(n_features, shape, what):
    if shape is not None:
        h, w = (int(s) for s in shape)
        if h * w != n_features:
            raise ValueError(f"shape {tuple(shape)} has {h * w} pixels but {what} has "
                             f"{n_features}")
        return h, w
    side = math.isqrt(n_features)
    if side * side != n_features:
        raise ValueError(f"{what} has {n_features} values, not a square number of pixels; "
                         "give shape=(height, width)")
    return side, side


def plot_weights(model, *, max_tiles=None, ncols=None, shape=None, cmap="RdBu_r", path=None,
                 ax=None):
    """The first layer's weights as images: one tile per hidden unit.

    Column j of the first Linear layer's weight W (in_features, out_features)
    is what unit j responds to; it is drawn as a square image (28x28 for
    MNIST, 8x8 for the digits) or as *shape* (height, width). Each tile has
    its own symmetric colour scale: red where a bright pixel excites the
    unit, blue where it inhibits it. *model* is a numbann model or a weight
    matrix; *max_tiles* limits the number of units shown (the first ones).
    All tiles go on one axes (each tile is one image in ``ax.images``).
    """
    w = np.asarray(_first_weight(model), dtype=np.float64)
    n_in, n_out = w.shape
    h, wd = _image_shape(n_in, shape, "the first layer's input")
    count = n_out if max_tiles is None else min(n_out, int(max_tiles))
    if count < 1:
        raise ValueError(f"max_tiles must be positive, got {max_tiles}")
    cols = int(ncols) if ncols else min(count, max(1, math.ceil(math.sqrt(count * wd / h))))
    rows = math.ceil(count / cols)
    gap = max(1, round(0.12 * max(h, wd)))
    width, height = cols * (wd + gap) - gap, rows * (h + gap) - gap
    scale = min(8.0 / max(width, height), 1.2 / max(h, wd))  # inches per pixel
    fig, ax = _axes(ax, (max(2.0, width * scale), max(2.0, height * scale) + 0.4))
    for k in range(count):
        r, c = divmod(k, cols)
        tile = w[:, k].reshape(h, wd)
        lim = float(np.abs(tile).max()) or 1.0
        x0, y0 = c * (wd + gap), r * (h + gap)
        ax.imshow(tile, cmap=cmap, vmin=-lim, vmax=lim, interpolation="nearest",
                  extent=(x0, x0 + wd, y0 + h, y0))
    ax.set_xlim(-0.5, width + 0.5)
    ax.set_ylim(height + 0.5, -0.5)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title(f"first-layer weights: {count} of {n_out} units, {h}x{wd} inputs"
                 if count < n_out else f"first-layer weights: {n_out} units, {h}x{wd} inputs")
    return _finish(fig, path)


# --- images ----------------------------------------------------------------------------------


def show_images(x, labels=None, predictions=None, *, max_images=50, ncols=10, shape=None,
                errors_only=False, class_names=None, cmap="gray_r", path=None):
    """A grid of images with their labels; misclassified ones highlighted in red.

    *x* holds N images, flat (N, H*W) — square unless *shape* is given — or
    (N, H, W) or (N, 1, H, W). *labels* and *predictions* are class labels
    (N,) or rows (N, C) (argmax taken). Each tile is titled with its label,
    or "label → prediction" with predictions, red with a red frame when they
    differ. ``errors_only=True`` shows only the misclassified images. At most
    *max_images* are drawn, in *ncols* columns.
    """
    arr = np.asarray(x)
    if arr.ndim == 4 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim == 2:
        h, w = _image_shape(arr.shape[1], shape, "each image")
        arr = arr.reshape(-1, h, w)
    elif arr.ndim != 3:
        raise ValueError(f"x must be images (N, H*W), (N, H, W) or (N, 1, H, W), got shape "
                         f"{np.shape(x)}")
    n = arr.shape[0]
    t = None if labels is None else _as_labels(labels, "labels")
    p = None if predictions is None else _as_labels(predictions, "predictions")
    for name, a in (("labels", t), ("predictions", p)):
        if a is not None and a.shape[0] != n:
            raise ValueError(f"{name} has {a.shape[0]} entries for {n} images")
    index = np.arange(n)
    if errors_only:
        if t is None or p is None:
            raise ValueError("errors_only needs labels and predictions")
        index = index[t != p]
    index = index[:int(max_images)]
    count = len(index)
    if count == 0:
        raise ValueError("no images to show" + (" (no misclassified ones)" if errors_only else ""))
    cols = min(count, int(ncols))
    rows = math.ceil(count / cols)
    fig, axs = plt.subplots(rows, cols, figsize=(1.15 * cols, 1.3 * rows + 0.2),
                            squeeze=False, layout="constrained")

    def name_of(v):
        return str(class_names[v]) if class_names is not None else str(v)

    for a in axs.flat[count:]:
        a.remove()
    for a, i in zip(axs.flat, index):
        a.imshow(arr[i], cmap=cmap, interpolation="nearest")
        a.set_xticks([])
        a.set_yticks([])
        wrong = t is not None and p is not None and t[i] != p[i]
        if t is not None and p is not None:
            text, color = f"{name_of(t[i])} → {name_of(p[i])}", _ERROR_COLOR if wrong else "black"
        elif t is not None or p is not None:
            text, color = name_of((t if t is not None else p)[i]), "black"
        else:
            text, color = f"#{i}", "black"
        a.set_title(text, color=color, fontsize=9, fontweight="bold" if wrong else "normal")
        for spine in a.spines.values():
            spine.set_edgecolor(_ERROR_COLOR if wrong else "0.7")
            spine.set_linewidth(2.5 if wrong else 0.8)
    if t is not None and p is not None:
        errors = int(np.sum(t[index] != p[index]))
        fig.suptitle(f"label → prediction ({errors} of {count} shown misclassified, in red)",
                     fontsize=10)
    return _finish(fig, path)
