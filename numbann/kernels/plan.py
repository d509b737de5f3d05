"""The network plan: how a dense network lies in its flat buffers (the one owner of that layout).

A network for the compiled kernels is a chain of *layers*, each a dense
product followed by a fused activation. Its plan is a NumPy structured array
of :data:`LAYER` records, one per layer, read by field name everywhere (the
CPU engine, the CUDA engine, the numerical gradient)::

    w_off, fan_in, fan_out   W_l = params[w_off : w_off + fan_in·fan_out] as (fan_in, fan_out)
    b_off, has_bias          b_l = params[b_off : b_off + fan_out] if has_bias
    act                      the activation code (numbann.kernels.activations)

Gradients lie at the same offsets in the flat gradient buffer. Work arrays
hold each layer's (n, fan_out) block at the offsets of :func:`work_offsets`.
The accessors below are compiled; on the GPU their ``py_func`` slices device
arrays the same way.
"""

import numpy as np

from .._config import jit

#: one layer of a plan
LAYER = np.dtype([("w_off", np.int64), ("b_off", np.int64), ("fan_in", np.int64),
                  ("fan_out", np.int64), ("has_bias", np.bool_), ("act", np.int64)])


def make_plan(layers):
    """A plan from (w_off, b_off or None, fan_in, fan_out, act) per layer, checked for a chain."""
    plan = np.zeros(len(layers), LAYER)
    for m, (w_off, b_off, fan_in, fan_out, act) in enumerate(layers):
        if m and fan_in != plan[m - 1]["fan_out"]:
            raise ValueError(f"layer {m} takes {fan_in} inputs but layer {m - 1} gives "
                             f"{plan[m - 1]['fan_out']}")
        plan[m] = (w_off, -1 if b_off is None else b_off, fan_in, fan_out, b_off is not None, act)
    return plan


@jit
def weight(layer, params):
    """The (fan_in, fan_out) weight of a plan record in the flat *params* (or gradients)."""
    lo = layer["w_off"]
    return params[lo:lo + layer["fan_in"] * layer["fan_out"]].reshape(
        (layer["fan_in"], layer["fan_out"]))


@jit
def bias(layer, params):
    """The (fan_out,) bias of a plan record in the flat *params*, or an empty view."""
    if layer["has_bias"]:
        return params[layer["b_off"]:layer["b_off"] + layer["fan_out"]]
    return params[:0]


@jit
def in_width(plan):
    """Width of the network's input."""
    return plan[0]["fan_in"]


@jit
def out_width(plan):
    """Width of the network's output."""
    return plan[plan.size - 1]["fan_out"]


@jit
def max_width(plan):
    """The widest of the input and every layer's output."""
    w = plan[0]["fan_in"]
    for m in range(plan.size):
        w = max(w, plan[m]["fan_out"])
    return w


@jit
def work_offsets(plan, batch_size):
    """Offsets of each layer's (batch_size, fan_out) block in a flat work array; the last
    entry is the total size."""
    offs = np.zeros(plan.size + 1, np.int64)
    for m in range(plan.size):
        offs[m + 1] = offs[m] + batch_size * plan[m]["fan_out"]
    return offs


@jit
def rows(plan, work, offs, m, n):
    """Layer *m*'s (n, fan_out) block of a flat work array laid out by :func:`work_offsets`."""
    width = plan[m]["fan_out"]
    return work[offs[m]:offs[m] + n * width].reshape((n, width))
