"""How a Sequential runs its layers: stages, and the plan the compiled kernels take.

A Linear followed by an activation runs as one stage, the activation fused
into the product's kernel (bias and activation in one pass over the output);
any other layer is a stage of its own. A model whose stages are all Linear
(+activation) has a :func:`network_plan` — the layout of :mod:`numbann.kernels.plan`
— and runs in the compiled training engine and the compiled numerical gradient.
"""

from .kernels import activations as act_k
from .kernels.plan import make_plan
from .layers import Activation, Linear


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
    """A layer run on its own (an activation not after a Linear)."""

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


def network_plan(model_stages):
    """The plan (:mod:`numbann.kernels.plan`) of stages that are all Linear(+activation),
    or None."""
    if not all(isinstance(s, LinearStage) for s in model_stages):
        return None
    return make_plan([(s.layer.weight._offset,
                       s.layer.bias._offset if s.layer.bias is not None else None,
                       s.layer.in_features, s.layer.out_features, s.act)
                      for s in model_stages])
