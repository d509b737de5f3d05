"""The network plan: how a dense network lies in its flat buffers (the one owner of that layout).

A network for the compiled kernels is a chain of *layers*, each a dense
product, optionally batch normalization, an activation and optionally
dropout: Linear → [BatchNorm] → activation → [Dropout]. Its plan is a NumPy
structured array of :data:`LAYER` records, one per layer, read by field name
everywhere (the CPU engine, the CUDA engine, the numerical gradient)::

    w_off, fan_in, fan_out   W = params[w_off : w_off + fan_in·fan_out] as (fan_in, fan_out)
    b_off, has_bias          b = params[b_off : b_off + fan_out] if has_bias
    act                      the activation code (numbann.kernels.activations)
    norm                     batch normalization after the product (numbann.kernels.norm):
      g_off                    γ = params[g_off : g_off + fan_out], β right after it
                               (g_off = −1: no affine parameters)
      s_off                    running mean = stats[s_off : s_off + fan_out], running
                               variance right after it (a second flat buffer)
      bn_eps, bn_momentum      ε, and the weight f of the batch in the running averages
                               (−1: the cumulative average, f = 1/(count + 1))
      bn_unbiased              whether the running variance takes the unbiased batch variance
    drop                     dropout after the activation:
      drop_seed, drop_threshold  the mask's generator seed and threshold (norm.keep_bits)
      drop_train_scale         the factor on kept values in training (1/(1 − p) or 1)
      drop_eval_scale          the factor in evaluation (1 or 1 − p)

Gradients lie at the same offsets in the flat gradient buffer. How often each
batch-norm and dropout layer has run in training (its *count*, which keys
the cumulative average and the dropout masks) travels beside the plan, as an
(L, 2) array (:data:`NORM_COUNT`, :data:`DROP_COUNT`). Work arrays are laid
out by :func:`work_layout`. The accessors below are compiled; on the GPU
their ``py_func`` slices device arrays the same way.
"""

import numpy as np

from .._config import jit

#: one layer of a plan
LAYER = np.dtype([
    ("w_off", np.int64), ("b_off", np.int64), ("fan_in", np.int64), ("fan_out", np.int64),
    ("has_bias", np.bool_), ("act", np.int64),
    ("norm", np.bool_), ("g_off", np.int64), ("s_off", np.int64), ("bn_eps", np.float64),
    ("bn_momentum", np.float64), ("bn_unbiased", np.bool_),
    ("drop", np.bool_), ("drop_seed", np.int64), ("drop_threshold", np.int64),
    ("drop_train_scale", np.float64), ("drop_eval_scale", np.float64),
])

#: columns of the (L, 2) counts array: training forwards of each batch norm and dropout
NORM_COUNT, DROP_COUNT = 0, 1


def make_plan(layers):
    """A plan from one dict per layer: w_off, b_off (None: no bias), fan_in, fan_out, act,
    and optionally norm=dict(g_off, s_off, eps, momentum, unbiased) and
    drop=dict(seed, threshold, train_scale, eval_scale); checked for a chain."""
    plan = np.zeros(len(layers), LAYER)
    for m, spec in enumerate(layers):
        if m and spec["fan_in"] != plan[m - 1]["fan_out"]:
            raise ValueError(f"layer {m} takes {spec['fan_in']} inputs but layer {m - 1} gives "
                             f"{plan[m - 1]['fan_out']}")
        rec = plan[m]
        for key in ("w_off", "fan_in", "fan_out", "act"):
            rec[key] = spec[key]
        rec["has_bias"] = spec["b_off"] is not None
        rec["b_off"] = -1 if spec["b_off"] is None else spec["b_off"]
        rec["g_off"] = rec["s_off"] = -1
        norm, drop = spec.get("norm"), spec.get("drop")
        if norm is not None:
            rec["norm"] = True
            rec["g_off"] = -1 if norm["g_off"] is None else norm["g_off"]
            rec["s_off"] = norm["s_off"]
            rec["bn_eps"], rec["bn_momentum"] = norm["eps"], norm["momentum"]
            rec["bn_unbiased"] = norm["unbiased"]
        if drop is not None:
            rec["drop"] = True
            rec["drop_seed"], rec["drop_threshold"] = drop["seed"], drop["threshold"]
            rec["drop_train_scale"] = drop["train_scale"]
            rec["drop_eval_scale"] = drop["eval_scale"]
    return plan


@jit
def weight(layer, params):
    """The (fan_in, fan_out) weight of a plan record in the flat *params* (or gradients)."""
    lo = layer["w_off"]
    return params[lo:lo + layer["fan_in"] * layer["fan_out"]].reshape(
        (layer["fan_in"], layer["fan_out"]))


@jit
def weight_range(layer, lo, hi):
    """The flat-buffer range (w0, w1) of *layer*'s weight among elements lo … hi − 1
    (empty when w1 ≤ w0)."""
    w0 = layer["w_off"]
    return max(lo, w0), min(hi, w0 + layer["fan_in"] * layer["fan_out"])


@jit
def bias(layer, params):
    """The (fan_out,) bias of a plan record in the flat *params*, or an empty view."""
    if layer["has_bias"]:
        return params[layer["b_off"]:layer["b_off"] + layer["fan_out"]]
    return params[:0]


@jit
def gamma(layer, params):
    """The (fan_out,) γ of a batch-norm layer's record, or an empty view (no affine)."""
    if layer["norm"] and layer["g_off"] >= 0:
        return params[layer["g_off"]:layer["g_off"] + layer["fan_out"]]
    return params[:0]


@jit
def beta(layer, params):
    """The (fan_out,) β of a batch-norm layer's record, or an empty view (no affine)."""
    if layer["norm"] and layer["g_off"] >= 0:
        lo = layer["g_off"] + layer["fan_out"]
        return params[lo:lo + layer["fan_out"]]
    return params[:0]


@jit
def running_mean(layer, stats):
    """The (fan_out,) running mean of a batch-norm layer in the flat *stats*."""
    return stats[layer["s_off"]:layer["s_off"] + layer["fan_out"]]


@jit
def running_var(layer, stats):
    """The (fan_out,) running variance of a batch-norm layer in the flat *stats*."""
    lo = layer["s_off"] + layer["fan_out"]
    return stats[lo:lo + layer["fan_out"]]


@jit
def momentum_factor(layer, count):
    """The weight f of the batch in a running average, given the layer's count so far."""
    m = layer["bn_momentum"]
    return m if m >= 0.0 else 1.0 / (count + 1.0)


@jit
def has_norm(plan):
    """Whether any layer of the plan has batch normalization."""
    for m in range(plan.size):
        if plan[m]["norm"]:
            return True
    return False


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


#: the regions of a layer in a work array laid out by :func:`work_layout`
ACT, NORM, DROP, STATS = 0, 1, 2, 3


@jit
def work_layout(plan, batch_size):
    """Where each layer's regions start in a flat work array for batches of up to B =
    *batch_size* rows: an (L, 4) array (−1 for absent regions), and the total size.

    ACT (B, fan_out): the activation's output; NORM (B, fan_out): X̂ of a batch norm;
    DROP (B, fan_out): the output after dropout; STATS (3, fan_out): a batch norm's
    batch mean, variance and 1/σ.
    """
    layout = np.full((plan.size, 4), -1, np.int64)
    pos = 0
    for m in range(plan.size):
        w = plan[m]["fan_out"]
        layout[m, ACT] = pos
        pos += batch_size * w
        if plan[m]["norm"]:
            layout[m, NORM] = pos
            pos += batch_size * w
            layout[m, STATS] = pos
            pos += 3 * w
        if plan[m]["drop"]:
            layout[m, DROP] = pos
            pos += batch_size * w
    return layout, pos


@jit
def region(plan, work, layout, m, kind, n):
    """Layer *m*'s region *kind* of a work array laid out by :func:`work_layout`, as
    (n, fan_out) (STATS: n = 3)."""
    width = plan[m]["fan_out"]
    lo = layout[m, kind]
    return work[lo:lo + n * width].reshape((n, width))


@jit
def output_region(plan, work, layout, m, n):
    """Layer *m*'s output: after dropout if it has dropout, else its activation's."""
    return region(plan, work, layout, m, DROP if plan[m]["drop"] else ACT, n)
