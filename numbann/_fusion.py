"""How a Sequential runs its layers: stages, and the plan the compiled kernels take.

Object path: a Linear followed by an activation runs as one stage, the
activation fused into the product's kernel (bias and activation in one pass
over the output); any other layer is a stage of its own.

Compiled path: a model whose layers form groups Linear → [BatchNorm] →
[activation] → [Dropout] has a plan (:mod:`numbann.kernels.plan`) and runs in
the compiled training engine, the compiled evaluation and the compiled
numerical gradient.
"""

from typing import NamedTuple

import numpy as np

from .kernels import activations as act_k
from .kernels.plan import DROP_COUNT, NORM_COUNT, make_plan
from .layers import Activation, Linear
from .normalization import BatchNorm1d, Dropout


class LinearStage:
    """A Linear with the activation code *act* fused into its kernel (IDENTITY if none)."""

    __slots__ = ("layer", "act")

    def __init__(self, layer, act):
        self.layer, self.act = layer, act

    def forward(self, h, keep):
        return self.layer._forward(h, keep, self.act)

    def backward(self, saved, g, need_input_grad):
        return self.layer._backward(saved, g, need_input_grad, self.act)


class LayerStage:
    """A layer run on its own (batch norm, dropout, an activation not right after a Linear)."""

    __slots__ = ("layer",)

    def __init__(self, layer):
        self.layer = layer

    def forward(self, h, keep):
        return self.layer._forward(h, keep)

    def backward(self, saved, g, need_input_grad):
        return self.layer._backward(saved, g, need_input_grad)


def stages(layers):
    """The stages of a list of layers: each Linear takes the activation right after it."""
    out, i = [], 0
    while i < len(layers):
        layer = layers[i]
        nxt = layers[i + 1] if i + 1 < len(layers) else None
        if isinstance(layer, Linear):
            fused = isinstance(nxt, Activation)
            out.append(LinearStage(layer, nxt.code if fused else act_k.IDENTITY))
            i += 2 if fused else 1
        else:
            out.append(LayerStage(layer))
            i += 1
    return out


class Group(NamedTuple):
    """One layer of a plan: a Linear and the batch norm, activation and dropout after it."""

    linear: Linear
    norm: BatchNorm1d | None
    act: Activation | None
    drop: Dropout | None


def groups(layers):
    """The layers as :class:`Group` s, or None if they are not such a chain."""
    out, i = [], 0
    while i < len(layers):
        if not isinstance(layers[i], Linear):
            return None
        parts = [layers[i], None, None, None]
        i += 1
        for slot, kind in ((1, BatchNorm1d), (2, Activation), (3, Dropout)):
            if i < len(layers) and isinstance(layers[i], kind):
                parts[slot] = layers[i]
                i += 1
        out.append(Group(*parts))
    return out


def network_plan(model_groups):
    """The plan (:mod:`numbann.kernels.plan`) of :func:`groups`, or None."""
    if model_groups is None:
        return None
    return make_plan([_layer_spec(g) for g in model_groups])


def _layer_spec(g):
    spec = dict(w_off=g.linear.weight._offset,
                b_off=g.linear.bias._offset if g.linear.bias is not None else None,
                fan_in=g.linear.in_features, fan_out=g.linear.out_features,
                act=g.act.code if g.act is not None else act_k.IDENTITY)
    if g.norm is not None:
        spec["norm"] = dict(g_off=g.norm.weight._offset if g.norm.affine else None,
                            s_off=g.norm.running_mean._offset, eps=g.norm.eps,
                            momentum=g.norm.plan_momentum(), unbiased=g.norm.unbiased)
    if g.drop is not None:
        spec["drop"] = dict(seed=g.drop.seed, threshold=g.drop.threshold,
                            train_scale=g.drop.train_scale, eval_scale=g.drop.eval_scale)
    return spec


def counts(model_groups):
    """The (L, 2) training-forward counts of each group's batch norm and dropout."""
    out = np.zeros((len(model_groups), 2), np.int64)
    for m, g in enumerate(model_groups):
        if g.norm is not None:
            out[m, NORM_COUNT] = g.norm.num_batches_tracked
        if g.drop is not None:
            out[m, DROP_COUNT] = g.drop.draws
    return out


def advance(model_groups, done):
    """Count *done* more training forwards of each batch norm and dropout (run compiled)."""
    for g in model_groups:
        if g.norm is not None:
            g.norm.num_batches_tracked += done
        if g.drop is not None:
            g.drop.draws += done
