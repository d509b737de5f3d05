"""The textbook's networks, built on Sequential: TwoLayerNet and MultiLayerNet.

They keep the textbook's attribute and method names — ``params`` (W1, b1,
…, sharing memory with the layers), ``predict``, ``loss``, ``accuracy``,
``numerical_gradient(x, t)`` and ``gradient(x, t)`` — and are Sequential
models, so ``nb.fit``, optimizers and save/load work on them as well.
"""

from collections.abc import MutableMapping

import numpy as np

from ._config import DEFAULT_DTYPE
from .gradient import model_gradient
from .layers import Linear, activation_layer, as_generator
from .losses import CrossEntropyLoss
from .sequential import Sequential

__all__ = ["TwoLayerNet", "MultiLayerNet"]

class ParamsView(MutableMapping):
    """The textbook's ``params`` dict: W1, b1, W2, … as arrays sharing the model's memory.

    Reading gives the live array; assigning copies the new values in (the
    shape must match), so ``net.params['W1'] = W`` updates the network.
    """

    def __init__(self, model):
        self._params = {}
        for k, layer in enumerate(model.linears, start=1):
            self._params[f"W{k}"] = layer.weight
            if layer.bias is not None:
                self._params[f"b{k}"] = layer.bias

    def __getitem__(self, key):
        return self._params[key].data

    def __setitem__(self, key, value):
        if key not in self._params:
            raise KeyError(f"{key!r} is not a parameter of this network ({list(self._params)})")
        self._params[key].data = value

    def __delitem__(self, key):
        raise TypeError("network parameters cannot be deleted")

    def __iter__(self):
        return iter(self._params)

    def __len__(self):
        return len(self._params)


class _TextbookNet(Sequential):
    """Shared textbook API on top of Sequential (softmax + cross-entropy loss)."""

    def _setup(self, args):
        self._args = args
        self.loss_fn = CrossEntropyLoss()
        self.params = ParamsView(self)
        self._sd_names = {}
        for k, layer in enumerate(self.linears, start=1):
            index = self.layers.index(layer)
            self._sd_names[f"W{k}"] = f"{index}.weight"
            if layer.bias is not None:
                self._sd_names[f"b{k}"] = f"{index}.bias"

    def loss(self, x, t):
        """Cross-entropy of softmax(predict(x)) against t (labels or one-hot), plus the
        L2 penalty ½λΣ‖W‖² when ``weight_decay_lambda`` > 0."""
        return self.loss_fn(self.predict(x), t) + self.regularization_loss()

    def _by_textbook_name(self, grads):
        return {key: grads[name] for key, name in self._sd_names.items()}

    def numerical_gradient(self, x, t, loss_fn=None, h=1e-4):
        """{'W1': …, 'b1': …} by central differences of :meth:`loss` (compiled, float64)."""
        grads = super().numerical_gradient(x, t, loss_fn or self.loss_fn, h)
        return self._by_textbook_name(grads) if loss_fn is None else grads

    def gradient(self, x, t):
        """{'W1': …, 'b1': …} by backpropagation of :meth:`loss` (new arrays)."""
        return self._by_textbook_name(model_gradient(self, x, t, self.loss_fn))

    def config(self):
        return {"type": type(self).__name__, "args": dict(self._args)}


class TwoLayerNet(_TextbookNet):
    """The textbook's two-layer network: Linear → activation → Linear (→ softmax in the loss).

    Weights ~ N(0, weight_init_std²), biases 0, as in the book; ``activation``
    'sigmoid' (chapter 4) or 'relu' (chapter 5).
    """

    def __init__(self, input_size, hidden_size, output_size, weight_init_std=0.01,
                 activation="sigmoid", *, rng=None, dtype=DEFAULT_DTYPE):
        gen = as_generator(rng)
        super().__init__(
            Linear(input_size, hidden_size, init=float(weight_init_std), rng=gen, dtype=dtype),
            activation_layer(activation),
            Linear(hidden_size, output_size, init=float(weight_init_std), rng=gen, dtype=dtype),
        )
        self._setup(dict(input_size=input_size, hidden_size=hidden_size,
                         output_size=output_size, weight_init_std=float(weight_init_std),
                         activation=activation))


class MultiLayerNet(_TextbookNet):
    """The textbook's fully connected multi-layer network (chapter 6).

    ``weight_init_std`` 'relu'/'he' → std √(2/n), 'sigmoid'/'xavier' → √(1/n), or a
    number; ``weight_decay_lambda`` adds ½λΣ‖W‖² to the loss (weights only).
    """

    def __init__(self, input_size, hidden_size_list, output_size, activation="relu",
                 weight_init_std="relu", weight_decay_lambda=0.0, *, rng=None,
                 dtype=DEFAULT_DTYPE):
        sizes = [input_size, *list(hidden_size_list), output_size]
        init = weight_init_std
        if isinstance(init, str) and init.lower() not in ("relu", "he", "sigmoid", "xavier"):
            raise ValueError(f"weight_init_std must be 'relu', 'he', 'sigmoid', 'xavier' or a "
                             f"number, got {init!r}")
        init = float(init) if not isinstance(init, str) else init
        gen = as_generator(rng)
        layers = []
        for k, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            layers.append(Linear(fan_in, fan_out, init=init, rng=gen, dtype=dtype))
            if k < len(sizes) - 2:
                layers.append(activation_layer(activation))
        super().__init__(*layers)
        lam = float(weight_decay_lambda)
        if not (np.isfinite(lam) and lam >= 0):
            raise ValueError(f"weight_decay_lambda must be >= 0, got {weight_decay_lambda}")
        self.weight_decay_lambda = lam
        self._setup(dict(input_size=input_size, hidden_size_list=list(hidden_size_list),
                         output_size=output_size, activation=activation,
                         weight_init_std=weight_init_std, weight_decay_lambda=lam))


NETWORKS = {"TwoLayerNet": TwoLayerNet, "MultiLayerNet": MultiLayerNet}
