"""Parameters and the flat buffers behind them.

Parameters live in flat buffers: a :class:`ParameterBuffer` holds
one 1-D data array and one 1-D gradient array, and every :class:`Parameter`'s
``.data`` and ``.grad`` are views into them. A Linear made on its own has a
buffer of its own; a :class:`~numbann.Sequential` gathers its layers'
parameters into one buffer for the whole model, so an optimizer step is one
kernel call over one array.
"""

import copy

import numpy as np

from ._validate import float_dtype
from .device import CPU

__all__ = ["Parameter", "ParameterBuffer"]


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
        if target is self._data and self._buffer is not None:
            self._buffer.version += 1

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
        self.dtype = float_dtype(dtype)
        self.owner = owner
        #: bumped whenever the values change by a step, a load or a move, so that a tape
        #: recorded before can tell (see :mod:`numbann.autograd`)
        self.version = 0
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
        new.version = 0
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
        self.version += 1
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
