"""The textbook's networks, built on Sequential: TwoLayerNet, MultiLayerNet and
MultiLayerNetExtend.

They keep the textbook's attribute and method names — ``params`` (W1, b1,
…, gamma1, beta1, …, sharing memory with the layers), ``predict``, ``loss``,
``accuracy``, ``numerical_gradient(x, t)`` and ``gradient(x, t)`` — and are
Sequential models, so ``nb.fit``, optimizers and save/load work on them as well.
"""

from collections.abc import MutableMapping

import numpy as np

from ._config import DEFAULT_DTYPE
from .architecture import layer_from_config
from .gradient import model_gradient
from .layers import Linear, activation_layer, as_generator, mode
from .losses import CrossEntropyLoss
from .normalization import BatchNormalization
from .sequential import Sequential

__all__ = ["TwoLayerNet", "MultiLayerNet", "MultiLayerNetExtend"]


def textbook_names(model):
    """{textbook name: (state_dict name, Parameter)}: W1, b1, … for the Linear layers and
    gamma1, beta1, … for the batch norms (numbered by the Linear they follow)."""
    names, k = {}, 0
    for i, layer in enumerate(model.layers):
        if isinstance(layer, Linear):
            k += 1
            names[f"W{k}"] = (f"{i}.weight", layer.weight)
            if layer.bias is not None:
                names[f"b{k}"] = (f"{i}.bias", layer.bias)
        elif isinstance(layer, BatchNormalization):
            names[f"gamma{k}"] = (f"{i}.weight", layer.weight)
            names[f"beta{k}"] = (f"{i}.bias", layer.bias)
    return names

class ParamsView(MutableMapping):
    """The textbook's ``params`` dict: W1, b1, W2, … as arrays sharing the model's memory.

    Reading gives the live array; assigning copies the new values in (the
    shape must match), so ``net.params['W1'] = W`` updates the network.
    """

    def __init__(self, model):
        self._params = {key: p for key, (_, p) in textbook_names(model).items()}

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
        self._sd_names = {key: name for key, (name, _) in textbook_names(self).items()}

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
        args = dict(input_size=input_size, hidden_size=hidden_size, output_size=output_size,
                    weight_init_std=float(weight_init_std), activation=activation)
        _build(self, self.architecture(**args), rng, dtype)
        self._setup(args)

    @staticmethod
    def architecture(input_size, hidden_size, output_size, weight_init_std=0.01,
                     activation="sigmoid"):
        """The layer configs of a TwoLayerNet (see :mod:`numbann.architecture`)."""
        std = float(weight_init_std)
        return [_linear(input_size, hidden_size, std), _activation(activation),
                _linear(hidden_size, output_size, std)]


class MultiLayerNet(_TextbookNet):
    """The textbook's fully connected multi-layer network (chapter 6).

    ``weight_init_std`` 'relu'/'he' → std √(2/n), 'sigmoid'/'xavier' → √(1/n), or a
    number; ``weight_decay_lambda`` adds ½λΣ‖W‖² to the loss (weights only).
    """

    def __init__(self, input_size, hidden_size_list, output_size, activation="relu",
                 weight_init_std="relu", weight_decay_lambda=0.0, *, rng=None,
                 dtype=DEFAULT_DTYPE):
        args = dict(input_size=input_size, hidden_size_list=list(hidden_size_list),
                    output_size=output_size, activation=activation,
                    weight_init_std=weight_init_std,
                    weight_decay_lambda=_nonnegative(weight_decay_lambda))
        _build(self, self.architecture(**args), rng, dtype)
        self.weight_decay_lambda = args["weight_decay_lambda"]
        self._setup(args)

    @staticmethod
    def architecture(input_size, hidden_size_list, output_size, activation="relu",
                     weight_init_std="relu", weight_decay_lambda=0.0):
        """The layer configs of a MultiLayerNet."""
        return MultiLayerNetExtend.architecture(input_size, hidden_size_list, output_size,
                                                activation, weight_init_std)


class MultiLayerNetExtend(_TextbookNet):
    """The textbook's MultiLayerNetExtend (chapter 6): MultiLayerNet with batch
    normalization and dropout.

    Each hidden layer is Affine → BatchNormalization (``use_batchnorm``) →
    activation → Dropout (``use_dropout``, the book's non-inverted form with
    ``dropout_ration``, the book's spelling); batch normalization follows the book's
    formulas (:class:`numbann.BatchNormalization`). ``params`` holds W1, b1,
    gamma1, beta1, …; ``predict``, ``loss`` and ``accuracy`` take the book's
    ``train_flg`` (False: running statistics, dropout scaled by 1 − ratio).
    ``gradient`` and ``numerical_gradient`` use training mode, as in the book; the
    numerical gradient keeps the running statistics and the dropout mask fixed.
    """

    def __init__(self, input_size, hidden_size_list, output_size, activation="relu",
                 weight_init_std="relu", weight_decay_lambda=0, use_dropout=False,
                 dropout_ration=0.5, use_batchnorm=False, *, rng=None, dtype=DEFAULT_DTYPE):
        args = dict(input_size=input_size, hidden_size_list=list(hidden_size_list),
                    output_size=output_size, activation=activation,
                    weight_init_std=weight_init_std,
                    weight_decay_lambda=_nonnegative(weight_decay_lambda),
                    use_dropout=bool(use_dropout), dropout_ration=float(dropout_ration),
                    use_batchnorm=bool(use_batchnorm))
        _build(self, self.architecture(**args), rng, dtype)
        self.weight_decay_lambda = args["weight_decay_lambda"]
        self.use_dropout, self.use_batchnorm = args["use_dropout"], args["use_batchnorm"]
        self.dropout_ration = args["dropout_ration"]
        self._setup(args)

    @staticmethod
    def architecture(input_size, hidden_size_list, output_size, activation="relu",
                     weight_init_std="relu", weight_decay_lambda=0, use_dropout=False,
                     dropout_ration=0.5, use_batchnorm=False):
        """The layer configs: Affine → [BatchNormalization] → activation → [Dropout] per
        hidden layer, then Affine."""
        sizes = [input_size, *list(hidden_size_list), output_size]
        init = _init_scheme(weight_init_std)
        cfgs = []
        for k, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            cfgs.append(_linear(fan_in, fan_out, init))
            if k == len(sizes) - 2:
                break
            if use_batchnorm:
                cfgs.append({"type": "BatchNormalization", "num_features": fan_out})
            cfgs.append(_activation(activation))
            if use_dropout:
                cfgs.append({"type": "Dropout", "p": float(dropout_ration), "inverted": False})
        return cfgs

    def predict(self, x, train_flg=False, batch_size=None):
        """The scores for x: training mode (batch statistics, dropout masks) if *train_flg*."""
        return super().predict(x, batch_size=batch_size, training=train_flg)

    def loss(self, x, t, train_flg=False):
        """Cross-entropy of softmax(predict(x, train_flg)) plus ½λΣ‖W‖²."""
        return self.loss_fn(self.predict(x, train_flg), t) + self.regularization_loss()

    def accuracy(self, x, t, batch_size=None, training=False):
        """Fraction of rows classified right, in evaluation mode (the book's
        ``accuracy``)."""
        return super().accuracy(x, t, batch_size, training)

    def numerical_gradient(self, x, t, loss_fn=None, h=1e-4):
        """{'W1': …, 'gamma1': …} by central differences of ``loss(x, t, train_flg=True)``."""
        with mode(self, True):
            return super().numerical_gradient(x, t, loss_fn, h)

    def gradient(self, x, t):
        """{'W1': …, 'gamma1': …} by backpropagation of ``loss(x, t, train_flg=True)``."""
        with mode(self, True):
            return super().gradient(x, t)


def _build(net, cfgs, rng, dtype):
    """Initialise *net* as the Sequential of the layers *cfgs* describe."""
    gen = as_generator(rng)
    Sequential.__init__(net, *[layer_from_config(c, dtype, gen) for c in cfgs])


def _linear(fan_in, fan_out, init):
    return {"type": "Linear", "in_features": fan_in, "out_features": fan_out, "bias": True,
            "init": init}


def _activation(name):
    return {"type": type(activation_layer(name)).__name__}


def _init_scheme(weight_init_std):
    init = weight_init_std
    if isinstance(init, str) and init.lower() not in ("relu", "he", "sigmoid", "xavier"):
        raise ValueError(f"weight_init_std must be 'relu', 'he', 'sigmoid', 'xavier' or a "
                         f"number, got {init!r}")
    return float(init) if not isinstance(init, str) else init


def _nonnegative(weight_decay_lambda):
    lam = float(weight_decay_lambda)
    if not (np.isfinite(lam) and lam >= 0):
        raise ValueError(f"weight_decay_lambda must be >= 0, got {weight_decay_lambda}")
    return lam


NETWORKS = {"TwoLayerNet": TwoLayerNet, "MultiLayerNet": MultiLayerNet,
            "MultiLayerNetExtend": MultiLayerNetExtend}
