"""Layers: Parameter, Module, Linear and the activation layers.

Parameters live in flat buffers (DESIGN.md): a :class:`ParameterBuffer` holds
one 1-D data array and one 1-D gradient array, and every
:class:`Parameter`'s ``.data`` and ``.grad`` are views into them. A Linear
made on its own has a buffer of its own; a :class:`~numbann.Sequential`
gathers its layers' parameters into one buffer for the whole model, so an
optimizer step is one kernel call over one array.
"""

import copy

import numpy as np

from . import _validate as v
from ._config import DEFAULT_DTYPE, FLOAT_DTYPES
from .device import CPU, backend_of
from .kernels import activations as act_k

__all__ = [
    "Parameter", "ParameterBuffer", "Module", "Linear", "Activation", "Identity", "ReLU",
    "Sigmoid", "Tanh", "Step", "Softmax", "manual_seed", "as_generator",
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


def _check_dtype(dtype):
    dt = np.dtype(dtype)
    if dt not in FLOAT_DTYPES:
        raise TypeError(f"dtype must be float32 or float64, got {dt}")
    return dt


class Parameter:
    """A trainable array: ``.data`` and its gradient ``.grad`` (same shape and dtype).

    Both are views into the flat buffers of the layer or model that owns the
    parameter. Assigning to ``p.data`` or ``p.grad`` copies into those views
    (the shape must match), so the buffers stay the single source of truth.
    """

    __slots__ = ("_data", "_grad", "_buffer", "_offset")

    def __init__(self, data):
        self._data = np.ascontiguousarray(data)
        self._grad = np.zeros_like(self._data)
        self._buffer = None
        self._offset = 0

    @property
    def data(self):
        """The values: an array of the parameter's shape and dtype (a view into the
        owner's flat buffer; a device array when the model is on the GPU)."""
        return self._data

    @data.setter
    def data(self, value):
        self._copy_into(self._data, value, "data")

    @property
    def grad(self):
        """∂L/∂(this parameter): same shape and dtype as :attr:`data`, a view into the
        owner's flat gradient buffer. Backward passes add to it."""
        return self._grad

    @grad.setter
    def grad(self, value):
        self._copy_into(self._grad, value, "grad")

    @property
    def backend(self):
        """The device backend holding this parameter (see :mod:`numbann.device`)."""
        return self._buffer.backend if self._buffer is not None else CPU

    def _copy_into(self, target, value, what):
        arr = self.backend.to_host(value) if self.backend.holds(value) else np.asarray(value)
        if arr.shape != target.shape:
            raise ValueError(f"cannot set {what} of shape {target.shape} from shape {arr.shape}")
        self.backend.assign(target, arr.astype(target.dtype, copy=False))

    @property
    def shape(self):
        """The shape of :attr:`data` and :attr:`grad` (e.g. (in_features, out_features))."""
        return self._data.shape

    @property
    def dtype(self):
        """float32 or float64."""
        return self._data.dtype

    @property
    def size(self):
        """Number of elements (the length of this parameter's slice of the flat buffer)."""
        return self._data.size

    def zero_grad(self):
        """grad ← 0."""
        self.backend.fill(self._grad, 0)

    def __deepcopy__(self, memo):
        if self._buffer is not None:  # the buffer copies all its parameters at once
            copy.deepcopy(self._buffer, memo)
            return memo[id(self)]
        new = Parameter(self._data.copy())
        new._grad[...] = self._grad
        memo[id(self)] = new
        return new

    def __repr__(self):
        device = "" if self.backend is CPU else f", device='{self.backend.name}'"
        return f"Parameter(shape={self.shape}, dtype={self.dtype}{device})"


class ParameterBuffer:
    """One flat data array and one flat gradient array backing a list of parameters.

    Creating a buffer copies each parameter's current values in and rebinds
    its ``.data``/``.grad`` to views at consecutive offsets (in list order).
    Gradients start at zero.
    """

    def __init__(self, params, dtype, owner=None):
        self.params = list(params)
        self.dtype = _check_dtype(dtype)
        self.owner = owner
        self.backend = CPU
        self.size = sum(p.size for p in self.params)
        self.data = np.empty(self.size, self.dtype)
        self.grad = np.zeros(self.size, self.dtype)
        self.shapes = [p.shape for p in self.params]
        offset = 0
        for p in self.params:
            self.data[offset:offset + p.size] = p.data.reshape(-1)
            p._buffer, p._offset = self, offset
            offset += p.size
        self._bind_views()

    def _bind_views(self):
        """Point every parameter's data/grad at its slice of the flat arrays."""
        for p, shape in zip(self.params, self.shapes):
            lo, hi = p._offset, p._offset + int(np.prod(shape))
            p._data = self.data[lo:hi].reshape(shape)
            p._grad = self.grad[lo:hi].reshape(shape)

    def __deepcopy__(self, memo):
        """An independent copy; it keeps an owner only if the owner is being copied too."""
        new = ParameterBuffer.__new__(ParameterBuffer)
        memo[id(self)] = new
        new.dtype, new.size, new.shapes = self.dtype, self.size, list(self.shapes)
        new.backend = self.backend
        new.data, new.grad = self.backend.copy(self.data), self.backend.copy(self.grad)
        new.params = []
        for p in self.params:
            q = Parameter.__new__(Parameter)
            q._buffer, q._offset = new, p._offset
            memo[id(p)] = q
            new.params.append(q)
        new._bind_views()
        new.owner = copy.deepcopy(self.owner, memo) if id(self.owner) in memo else None
        return new

    def replace_arrays(self, data, grad, backend=None):
        """Swap in new flat arrays (another dtype or device) and rebind the views."""
        self.data, self.grad = data, grad
        self.dtype = np.dtype(data.dtype)
        self.backend = backend or self.backend
        self._bind_views()

    def to(self, backend=None, dtype=None):
        """Move to another device backend and/or convert to another dtype."""
        backend = backend or self.backend
        dtype = np.dtype(dtype or self.dtype)
        if backend is self.backend and dtype == self.dtype:
            return
        data = self.backend.to_host(self.data).astype(dtype)
        grad = self.backend.to_host(self.grad).astype(dtype)
        self.replace_arrays(backend.from_host(data), backend.from_host(grad), backend)


class Module:
    """Base class: parameters, train/eval mode, state dicts, calling runs forward."""

    training = True

    def __call__(self, x):
        return self.forward(x)

    def forward(self, x):  # pragma: no cover - abstract
        """The layer's output for a batch x (N, features); subclasses implement it."""
        raise NotImplementedError

    def named_parameters(self):
        """(name, Parameter) pairs; the names are the state_dict keys."""
        return []

    def parameters(self):
        """The Parameters, in :meth:`named_parameters` order (what an optimizer takes)."""
        return [p for _, p in self.named_parameters()]

    def zero_grad(self):
        """Set the gradient of every parameter to 0."""
        for p in self.parameters():
            p.zero_grad()

    def train(self, mode=True):
        """Set ``training`` (as PyTorch's ``train()``) and return self.

        No numbann layer behaves differently in training and evaluation; the flag
        is kept for code written the PyTorch way.
        """
        self.training = bool(mode)
        return self

    def eval(self):
        """``train(False)``; returns self."""
        return self.train(False)

    def state_dict(self):
        """{name: copy of the parameter's values (a NumPy array)}, in parameter order."""
        return {name: np.array(p.backend.to_host(p.data)) for name, p in self.named_parameters()}

    def load_state_dict(self, state_dict, strict=True):
        """Copy values from *state_dict* into the parameters (converted to their dtype).

        With ``strict`` the keys must match exactly; a shape mismatch always raises.
        """
        own = dict(self.named_parameters())
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
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
        return self

    def config(self):
        """JSON-serialisable description used by save/load."""
        return {"type": type(self).__name__}


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


def _positive_int(value, name):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


class Linear(Module):
    """Fully connected layer y = x @ W + b, W of shape (in_features, out_features).

    The weight layout is the textbook's (PyTorch stores Wᵀ). ``init`` chooses
    the initialisation (see :func:`init_weight`; default PyTorch's), ``rng`` an
    int seed or numpy Generator (default: the generator of :func:`manual_seed`).
    """

    def __init__(self, in_features, out_features, bias=True, *, init="torch", rng=None,
                 dtype=DEFAULT_DTYPE):
        self.in_features = _positive_int(in_features, "in_features")
        self.out_features = _positive_int(out_features, "out_features")
        dtype = _check_dtype(dtype)
        w, b = init_weight(init, self.in_features, self.out_features, as_generator(rng), dtype)
        self.weight = Parameter(w)
        self.bias = Parameter(b) if bias else None
        ParameterBuffer(self.parameters(), dtype)
        self._x = self._y = None

    def named_parameters(self):
        pairs = [("weight", self.weight)]
        if self.bias is not None:
            pairs.append(("bias", self.bias))
        return pairs

    @property
    def dtype(self):
        """The dtype of the weight and bias (float32 or float64)."""
        return self.weight.dtype

    def _bias_array(self):
        return self.bias.data if self.bias is not None else np.empty(0, self.dtype)

    def _bias_grad(self):
        return self.bias.grad if self.bias is not None else np.empty(0, self.dtype)

    def forward(self, x, act=act_k.IDENTITY):
        """y = f(x @ W + b) for x (N, in_features); f is an activation code (fused)."""
        bk = self.weight.backend
        x = _layer_input(x, self.in_features, self.dtype, self, bk)
        y = bk.empty((x.shape[0], self.out_features), self.dtype)
        bk.kernels.dense.dense_forward(x, self.weight.data, self._bias_array(), act, y)
        self._x, self._y = x, y
        return y

    def backward(self, dout, act=act_k.IDENTITY, need_dx=True):
        """Add ∂L/∂W, ∂L/∂b to the gradients (as PyTorch does) and return ∂L/∂x.

        *dout* is ∂L/∂y for the output of the last forward; with a fused
        activation code *act*, y was f(x @ W + b).
        """
        if self._x is None:
            raise RuntimeError("backward() called before forward()")
        bk = self.weight.backend
        dout = _grad_input(dout, self._y, bk)
        dz = bk.empty(self._y.shape, self.dtype)
        dx = bk.empty(self._x.shape, self.dtype) if need_dx else self._x  # (unused then)
        bk.kernels.dense.dense_backward(self._x, self.weight.data, self._y, dout, act, dz,
                                        self.weight.grad, self._bias_grad(), dx, need_dx, True)
        return dx if need_dx else None

    def __repr__(self):
        return (f"Linear(in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None})")

    def config(self):
        return {"type": "Linear", "in_features": self.in_features,
                "out_features": self.out_features, "bias": self.bias is not None}


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


def _grad_input(dout, y, bk=CPU):
    arr = _on_device(dout, "grad_output", bk, y.dtype)
    if arr.shape != y.shape:
        raise ValueError(f"grad_output must have the output's shape {y.shape}, got {arr.shape}")
    return arr


# --- activations --------------------------------------------------------------


class Activation(Module):
    """An activation layer; ``code`` names its kernel (numbann.kernels.activations)."""

    code = act_k.IDENTITY

    def __init__(self):
        self._y, self._backend = None, CPU

    def forward(self, x):
        """y = f(x) for x (N, C): elementwise, or row by row for Softmax; y has x's shape.

        Keeps y for :meth:`backward` (the derivatives are computed from the output).
        """
        bk = backend_of(x)
        arr = _on_device(x, "x", bk)
        if arr.ndim != 2:
            raise ValueError(f"x must be 2-D (N, C), got shape {arr.shape}")
        v.check_not_empty(arr, "x")
        y = bk.empty(arr.shape, arr.dtype)
        bk.kernels.activations.activation_forward(self.code, arr, y)
        self._y, self._backend = y, bk
        return y

    def backward(self, dout):
        """∂L/∂x from ∂L/∂y, using the output saved by forward."""
        if self._y is None:
            raise RuntimeError("backward() called before forward()")
        bk = self._backend
        dout = _grad_input(dout, self._y, bk)
        dx = bk.empty(self._y.shape, self._y.dtype)
        bk.kernels.activations.activation_backward(self.code, self._y, dout, dx)
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


ACTIVATIONS = {cls.code: cls for cls in (Identity, ReLU, Sigmoid, Tanh, Step, Softmax)}
