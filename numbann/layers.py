"""Layers: the Module base class, Linear and the activation layers.

Every layer implements ``_forward(x, keep) → (y, saved)`` on a validated
array — *saved* is what its backward needs, None unless *keep* — and
``_backward(saved, dy, need_input_grad) → dx``. :class:`Module` turns them
into PyTorch's API (calling a module runs ``forward``, which records a tape
in grad mode, so ``loss.backward()`` finds it; see :mod:`numbann.autograd`)
and the textbook's (``layer.forward(x)`` then ``layer.backward(dout)`` on the
last forward, guarded against a gradient from another forward).
"""

import numpy as np

from . import _validate as v
from ._config import DEFAULT_DTYPE
from .autograd import is_grad_enabled, record, tape_of
from .device import CPU, backend_of
from .kernels import activations as act_k
from .parameter import Parameter, ParameterBuffer

__all__ = [
    "Module", "Linear", "Activation", "Identity", "ReLU", "Sigmoid", "Tanh", "Step", "Softmax",
    "ACTIVATIONS", "activation_layer", "manual_seed", "as_generator", "init_weight",
]

_default_rng = np.random.default_rng()


def manual_seed(seed):
    """Seed the generator used when a layer is given no ``rng`` (like torch.manual_seed)."""
    global _default_rng
    _default_rng = np.random.default_rng(seed)
    return _default_rng


def as_generator(rng):
    """None → the global generator (see :func:`manual_seed`); int → a new seeded
    Generator; a Generator is used as it is."""
    if rng is None:
        return _default_rng
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, (int, np.integer)) and not isinstance(rng, bool):
        return np.random.default_rng(int(rng))
    raise TypeError(f"rng must be None, an int seed or a numpy Generator, got {type(rng).__name__}")


class Module:
    """Base class: parameters, train/eval mode, state dicts, tapes; calling runs forward."""

    training = True
    _last_tape = None

    def __call__(self, x):
        return self.forward(x)

    def forward(self, x):
        """The layer's output for a batch x (N, features). In grad mode (not inside
        :class:`numbann.no_grad`) it keeps what the backward of this call needs."""
        x = self._prepare_input(x)
        keep = is_grad_enabled()
        y, saved = self._forward(x, keep)
        if keep:
            self._last_tape, y = record(self, saved, y)
        return y

    def backward(self, dout):
        """The textbook's backward: ∂L/∂x from ∂L/∂y (*dout*, the output's shape) of the
        last forward; adds the parameters' gradients into ``.grad``.

        Raises RuntimeError if *dout* is the gradient of a loss computed on the output
        of another forward (use ``loss.backward()`` on that loss instead).
        """
        tape = self._textbook_tape(dout)
        return tape.backward(_grad_input(dout, tape), retain_graph=True, need_input_grad=True)

    def _textbook_tape(self, dout):
        """The last forward's tape, if *dout* may be back-propagated through it."""
        tape = self._last_tape
        if tape is None:
            raise RuntimeError("backward() called before forward() (or the last forward ran "
                               "under no_grad())")
        source = tape_of(dout)
        if source is not None and source is not tape:
            raise RuntimeError(
                "backward() got the gradient of a loss computed on the output of another "
                "forward than the last one of this model (for example y_train = net(x_train); "
                "y_test = net(x_test); loss_fn(y_train, t) pairs the training loss with the "
                "test forward). Back-propagate the loss value itself: loss = loss_fn(y, t); "
                "loss.backward().")
        return tape

    def _prepare_input(self, x):  # pragma: no cover - abstract
        raise NotImplementedError

    def _forward(self, x, keep):  # pragma: no cover - abstract
        raise NotImplementedError

    def _backward(self, saved, dout, need_input_grad=True):  # pragma: no cover - abstract
        raise NotImplementedError

    def _parameter_version(self):
        """(buffer, version) of the parameters, to tell whether they changed since a forward."""
        params = self.parameters()
        if not params:
            return None
        buf = params[0]._buffer
        return buf, buf.version

    def named_parameters(self):
        """(name, Parameter) pairs; the names are the state_dict keys."""
        return []

    def parameters(self):
        """The Parameters, in :meth:`named_parameters` order (what an optimizer takes)."""
        return [p for _, p in self.named_parameters()]

    def children(self):
        """The modules inside this one (a Sequential's layers)."""
        return []

    def zero_grad(self):
        """Set the gradient of every parameter to 0."""
        for p in self.parameters():
            p.zero_grad()

    def train(self, mode=True):
        """Set training mode (``mode=True``) or evaluation mode on this module and all
        inside it, as PyTorch's ``train()``; returns self. Batch normalization and
        dropout behave differently in the two modes."""
        self.training = bool(mode)
        for child in self.children():
            child.train(mode)
        return self

    def eval(self):
        """``train(False)``; returns self."""
        return self.train(False)

    def modules(self):
        """This module and every module inside it."""
        out = [self]
        for child in self.children():
            out.extend(child.modules())
        return out


    def named_buffers(self):
        """(name, Parameter) pairs of state that is not trained (batch norm's running
        statistics); in ``state_dict``, not in :meth:`parameters`."""
        return []

    def buffers(self):
        """The buffers, in :meth:`named_buffers` order."""
        return [b for _, b in self.named_buffers()]

    def named_counters(self):
        """(name, owner module) of integer state (batch norm's ``num_batches_tracked``)."""
        return [(name, self) for name in self._counters()]

    def _counters(self):
        return {}

    def _set_counter(self, name, value):  # pragma: no cover - only modules with counters
        raise KeyError(name)

    def state_dict(self):
        """{name: a NumPy copy} of the parameters, then the buffers and counters, in order."""
        out = {name: np.array(p.backend.to_host(p.data))
               for name, p in self.named_parameters() + self.named_buffers()}
        for name, module in self.named_counters():
            out[name] = np.array(module._counters()[name.rsplit(".", 1)[-1]], np.int64)
        return out

    def load_state_dict(self, state_dict, strict=True):
        """Copy values from *state_dict* into the parameters and buffers (converted to their
        dtype) and counters. With ``strict`` the keys must match exactly; a shape
        mismatch always raises."""
        own = dict(self.named_parameters() + self.named_buffers())
        counters = dict(self.named_counters())
        missing = [k for k in [*own, *counters] if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own and k not in counters]
        if strict and (missing or unexpected):
            parts = []
            if missing:
                parts.append(f"missing key(s) {missing}")
            if unexpected:
                parts.append(f"unexpected key(s) {unexpected}")
            raise KeyError(f"state_dict does not match the model: {'; '.join(parts)}")
        for name, p in own.items():
            if name not in state_dict:
                continue
            value = np.asarray(state_dict[name])
            if value.shape != p.shape:
                raise ValueError(
                    f"size mismatch for {name}: the checkpoint has shape {value.shape}, "
                    f"the model has {p.shape}"
                )
            if value.dtype.kind not in "biuf":
                raise TypeError(f"{name}: expected numbers, got dtype {value.dtype}")
            p.data = value.astype(p.dtype, copy=False)
        for name, module in counters.items():
            if name in state_dict:
                value = np.asarray(state_dict[name])
                if value.shape != () or value.dtype.kind not in "iu" or value < 0:
                    raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
                module._set_counter(name.rsplit(".", 1)[-1], int(value))
        return self

    def config(self):
        """JSON-serialisable description used by save/load."""
        return {"type": type(self).__name__}

    @classmethod
    def from_config(cls, cfg, dtype, rng=None):
        """The layer a :meth:`config` describes, for loading a file or building a textbook
        network (parameters initialised as its ``init`` says, else zero)."""
        return cls()


class mode:
    """Context manager: *module* (and all inside it) in training mode if *training*, else
    in evaluation mode, for the block; each module's own flag is restored after."""

    def __init__(self, module, training):
        self.module, self.training = module, bool(training)

    def __enter__(self):
        self._saved = [(m, m.training) for m in self.module.modules()]
        self.module.train(self.training)
        return self.module

    def __exit__(self, *exc):
        for m, flag in self._saved:
            m.training = flag
        return False


# --- Linear ------------------------------------------------------------------


def init_weight(init, fan_in, fan_out, rng, dtype):
    """Initial (weight (fan_in, fan_out), bias (fan_out,)) for an init scheme.

    'torch' (default, PyTorch's nn.Linear): weight and bias ~ U(−1/√fan_in, 1/√fan_in).
    'he': weight ~ N(0, 2/fan_in), bias 0 (for ReLU; the textbook's 'relu').
    'xavier': weight ~ N(0, 1/fan_in), bias 0 (the textbook's Xavier, for sigmoid/tanh).
    'glorot': weight ~ U(±√(6/(fan_in + fan_out))), bias 0 (Glorot & Bengio).
    a float s: weight ~ N(0, s²), bias 0 (the textbook's weight_init_std=0.01).
    """
    if isinstance(init, str):
        name = init.lower()
        if name == "torch":
            bound = 1.0 / np.sqrt(fan_in)
            w = rng.uniform(-bound, bound, (fan_in, fan_out))
            b = rng.uniform(-bound, bound, fan_out)
            return w.astype(dtype), b.astype(dtype)
        if name in ("he", "relu", "kaiming"):
            std = np.sqrt(2.0 / fan_in)
        elif name in ("xavier", "sigmoid"):
            std = np.sqrt(1.0 / fan_in)
        elif name == "glorot":
            bound = np.sqrt(6.0 / (fan_in + fan_out))
            return (rng.uniform(-bound, bound, (fan_in, fan_out)).astype(dtype),
                    np.zeros(fan_out, dtype))
        else:
            raise ValueError(
                f"unknown init {init!r}: use 'torch', 'he', 'xavier', 'glorot' or a std (float)"
            )
    elif isinstance(init, (int, float, np.floating, np.integer)) and not isinstance(init, bool):
        std = float(init)
        if not (np.isfinite(std) and std >= 0):
            raise ValueError(f"init std must be a non-negative number, got {init}")
    else:
        raise TypeError(f"init must be a scheme name or a std, got {type(init).__name__}")
    return (std * rng.standard_normal((fan_in, fan_out))).astype(dtype), np.zeros(fan_out, dtype)


class Linear(Module):
    """Fully connected layer y = x @ W + b, W of shape (in_features, out_features).

    The weight layout is the textbook's (PyTorch stores Wᵀ). ``init`` chooses
    the initialisation (see :func:`init_weight`; default PyTorch's), ``rng`` an
    int seed or numpy Generator (default: the generator of :func:`manual_seed`).
    """

    def __init__(self, in_features, out_features, bias=True, *, init="torch", rng=None,
                 dtype=DEFAULT_DTYPE):
        self.in_features = v.positive_int(in_features, "in_features")
        self.out_features = v.positive_int(out_features, "out_features")
        dtype = v.float_dtype(dtype)
        w, b = init_weight(init, self.in_features, self.out_features, as_generator(rng), dtype)
        self.weight = Parameter(w)
        self.bias = Parameter(b) if bias else None
        ParameterBuffer(self.parameters(), dtype)

    def named_parameters(self):
        pairs = [("weight", self.weight)]
        if self.bias is not None:
            pairs.append(("bias", self.bias))
        return pairs

    @property
    def dtype(self):
        """The dtype of the weight and bias (float32 or float64)."""
        return self.weight.dtype

    def _parameter_version(self):
        buf = self.weight._buffer
        return buf, buf.version

    def _bias_array(self):
        return self.bias.data if self.bias is not None else np.empty(0, self.dtype)

    def _bias_grad(self):
        return self.bias.grad if self.bias is not None else np.empty(0, self.dtype)

    def _prepare_input(self, x):
        return _layer_input(x, self.in_features, self.dtype, self, self.weight.backend)

    def _forward(self, x, keep, act=act_k.IDENTITY):
        """y = f(x @ W + b) for x (N, in_features); f is a fused activation code.
        Saves (x, y)."""
        bk = self.weight.backend
        y = bk.empty((x.shape[0], self.out_features), self.dtype)
        bk.kernels.dense.dense_forward(x, self.weight.data, self._bias_array(), act, y)
        return y, ((x, y) if keep else None)

    def _backward(self, saved, dout, need_input_grad=True, act=act_k.IDENTITY):
        """Add ∂L/∂W, ∂L/∂b to the gradients (as PyTorch does) and return ∂L/∂x (None
        without *need_input_grad*); *act* is the activation fused in the forward."""
        x, y = saved
        bk = self.weight.backend
        dz = bk.empty(y.shape, self.dtype)
        dx = bk.empty(x.shape, self.dtype) if need_input_grad else x  # (unused then)
        bk.kernels.dense.dense_backward(x, self.weight.data, y, dout, act, dz, self.weight.grad,
                                        self._bias_grad(), dx, need_input_grad, True)
        return dx if need_input_grad else None

    def __repr__(self):
        return (f"Linear(in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None})")

    def config(self):
        return {"type": "Linear", "in_features": self.in_features,
                "out_features": self.out_features, "bias": self.bias is not None}

    @classmethod
    def from_config(cls, cfg, dtype, rng=None):
        return cls(cfg["in_features"], cfg["out_features"], bias=cfg.get("bias", True),
                   init=cfg.get("init", 0.0), rng=rng, dtype=dtype)


def _on_device(x, name, bk, dtype=None):
    """*x* as an array of backend *bk*: host input is validated (and converted) first;
    an array already on the device must have the right dtype and be C-contiguous."""
    if bk.holds(x):
        if dtype is not None and x.dtype != dtype:
            raise TypeError(f"{name} is a {x.dtype} device array; expected {np.dtype(dtype)}")
        if not x.is_c_contiguous():
            raise ValueError(f"{name} must be a C-contiguous device array")
        return x
    return bk.from_host(v.as_float_array(x, name, dtype))


def _layer_input(x, width, dtype, layer, bk=CPU):
    """x as a (N, width) C-contiguous array of the layer's dtype and device, or a clear
    error."""
    arr = _on_device(x, "x", bk, dtype)
    if arr.ndim != 2 or arr.shape[1] != width:
        raise ValueError(f"{layer!r} expects input of shape (N, {width}), got {arr.shape}")
    v.check_not_empty(arr, "x")
    return arr


def _grad_input(dout, tape):
    """*dout* validated against the output of *tape*'s forward (shape, dtype, device)."""
    y = tape.output
    arr = _on_device(dout, "grad_output", backend_of(y), y.dtype)
    if arr.shape != y.shape:
        raise ValueError(f"grad_output must have the output's shape {y.shape}, got {arr.shape}")
    return arr


# --- activations --------------------------------------------------------------


class Activation(Module):
    """An activation layer; ``code`` names its kernel (numbann.kernels.activations)."""

    code = act_k.IDENTITY

    def _prepare_input(self, x):
        arr = _on_device(x, "x", backend_of(x))
        if arr.ndim != 2:
            raise ValueError(f"x must be 2-D (N, C), got shape {arr.shape}")
        v.check_not_empty(arr, "x")
        return arr

    def _forward(self, x, keep):
        """y = f(x) for x (N, C): elementwise, or row by row for Softmax. Saves y (the
        derivatives are computed from the output)."""
        bk = backend_of(x)
        y = bk.empty(x.shape, x.dtype)
        bk.kernels.activations.activation_forward(self.code, x, y)
        return y, (y if keep else None)

    def _backward(self, y, dout, need_input_grad=True):
        """∂L/∂x from ∂L/∂y and the saved output y."""
        bk = backend_of(y)
        dx = bk.empty(y.shape, y.dtype)
        bk.kernels.activations.activation_backward(self.code, y, dout, dx)
        return dx

    def __repr__(self):
        return f"{type(self).__name__}()"


class Identity(Activation):
    """f(x) = x."""

    code = act_k.IDENTITY


class ReLU(Activation):
    """f(x) = max(x, 0); f'(0) = 0."""

    code = act_k.RELU


class Sigmoid(Activation):
    """f(x) = 1 / (1 + exp(−x)), overflow-free."""

    code = act_k.SIGMOID


class Tanh(Activation):
    """f(x) = tanh x."""

    code = act_k.TANH


class Step(Activation):
    """f(x) = [x > 0]; its gradient is 0 (it cannot be trained through)."""

    code = act_k.STEP


class Softmax(Activation):
    """Row-wise softmax over the last axis of (N, C)."""

    code = act_k.SOFTMAX


#: activation name → layer class: the one registry of activation names (the kernels'
#: codes, numbann.kernels.activations.CODES, under the same names)
ACTIVATIONS = {act_k.NAMES[cls.code]: cls
               for cls in (Identity, Sigmoid, Tanh, ReLU, Step, Softmax)}


def activation_layer(name):
    """A new activation layer for its name ('relu', 'sigmoid', …; any case)."""
    cls = ACTIVATIONS.get(str(name).lower())
    if cls is None:
        raise ValueError(f"unknown activation {name!r}; use one of {sorted(ACTIVATIONS)}")
    return cls()
