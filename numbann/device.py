"""Devices: where a model's arrays live and which kernels run on them.

A backend bundles the array operations and kernel modules of one device:
:data:`CPU` (NumPy arrays, the ``@njit`` kernels of :mod:`numbann.kernels`)
and, on request, CUDA (Numba device arrays, the ``@cuda.jit`` twins of
:mod:`numbann.kernels.cuda`, which have the same names and arguments). The
object layer and the trainer call the same functions on either.

Arrays are NumPy arrays or Numba device arrays. GPU arrays of other libraries
— CuPy arrays, PyTorch CUDA tensors, anything else with
``__cuda_array_interface__`` — are refused with a TypeError that says how to
pass them (``numba.cuda.as_cuda_array(x)`` wraps one without a copy; or copy
it to the host), on either device: :func:`is_device_array` decides.
"""

from types import SimpleNamespace

import numpy as np

from . import _cuda

__all__ = ["get_backend", "backend_of", "device_name", "is_device_array", "CPU"]


def is_device_array(arr):
    """True for a Numba device array, False for anything else but a GPU array of another
    library (``__cuda_array_interface__`` without being Numba's), which raises TypeError:
    numbann does not take those as they are."""
    if isinstance(arr, np.ndarray):
        return False
    if hasattr(arr, "copy_to_host"):
        return True
    if hasattr(arr, "__cuda_array_interface__"):
        kind = f"{type(arr).__module__}.{type(arr).__qualname__}"
        raise TypeError(
            f"{kind} is a GPU array of another library (it has __cuda_array_interface__); "
            "numbann takes NumPy arrays and Numba device arrays: wrap it with "
            "numba.cuda.as_cuda_array(x) (no copy) or pass a host copy (e.g. "
            "tensor.cpu().numpy(), cupy.asnumpy(x))")
    return False


def device_name(device):
    """'cpu' or 'cuda' for a device name ('cuda:0' is 'cuda'); ValueError otherwise."""
    name = str(device).lower()
    if name == "cpu":
        return "cpu"
    if name == "cuda" or name.startswith("cuda:"):
        if name not in ("cuda", "cuda:0"):
            raise ValueError(f"only one GPU is supported: use 'cuda' (got {device!r})")
        return "cuda"
    raise ValueError(f"device must be 'cpu' or 'cuda', got {device!r}")


class _Singleton:
    """Backends are shared: copying a model keeps it on the same backend."""

    def __copy__(self):
        return self

    def __deepcopy__(self, memo):
        return self


class CPUBackend(_Singleton):
    """NumPy arrays and the CPU kernels."""

    name = "cpu"

    def __init__(self):
        from .kernels import activations, dense, engine, losses, norm, optim

        self.kernels = SimpleNamespace(activations=activations, dense=dense, losses=losses,
                                       norm=norm, optim=optim, engine=engine)

    def holds(self, arr):
        """Whether *arr* is a device array of this backend (host arrays are not: they
        are validated and converted first); TypeError for another library's GPU array
        (see :func:`is_device_array`)."""
        is_device_array(arr)
        return False

    def empty(self, shape, dtype):
        return np.empty(shape, dtype)

    def zeros(self, shape, dtype):
        return np.zeros(shape, dtype)

    def from_host(self, arr):
        return arr

    def to_host(self, arr):
        """A NumPy array with the values of *arr* (the array itself on the CPU)."""
        return arr

    def copy(self, arr):
        return arr.copy()

    def fill(self, arr, value):
        arr[...] = value

    def assign(self, target, values):
        """target[...] = values (a host array of target's shape)."""
        target[...] = values

    def loss(self, code, Y, T, labels, scale, dY, need_grad):
        """The loss value (a float); dY = ∂L/∂Y if need_grad."""
        kernel = self.kernels.losses.loss_labels if labels else self.kernels.losses.loss_dense
        return float(kernel(code, Y, T, scale, dY, need_grad))

    def all_finite(self, arr):
        return bool(np.isfinite(arr).all())


class CUDABackend(_Singleton):
    """Numba CUDA device arrays and the CUDA kernels (launches on the default stream)."""

    name = "cuda"

    def __init__(self):
        self.cuda = _cuda.require_cuda()
        from .kernels.cuda import (
            activations,
            dense,
            engine,
            gather,
            losses,
            memory,
            norm,
            optim,
            reduce,
        )

        self.kernels = SimpleNamespace(activations=activations, dense=dense, losses=losses,
                                       norm=norm, optim=optim, reduce=reduce, gather=gather,
                                       memory=memory, engine=engine)

    def holds(self, arr):
        """Whether *arr* is a Numba device array; TypeError for another library's GPU
        array (see :func:`is_device_array`)."""
        return is_device_array(arr)

    def empty(self, shape, dtype):
        return self.cuda.device_array(shape, dtype)

    def zeros(self, shape, dtype):
        return self.cuda.to_device(np.zeros(shape, dtype))

    def from_host(self, arr):
        return self.cuda.to_device(np.ascontiguousarray(arr))

    def to_host(self, arr):
        return arr.copy_to_host() if hasattr(arr, "copy_to_host") else np.asarray(arr)

    def copy(self, arr):
        out = self.cuda.device_array(arr.shape, arr.dtype)
        out.copy_to_device(arr)
        return out

    def fill(self, arr, value):
        self.kernels.memory.fill(arr, value)

    def assign(self, target, values):
        target.copy_to_device(np.ascontiguousarray(values, dtype=target.dtype))

    def loss(self, code, Y, T, labels, scale, dY, need_grad):
        losses = self.kernels.losses
        rows = self.cuda.device_array(Y.shape[0], Y.dtype)
        kernel = losses.loss_labels if labels else losses.loss_dense
        kernel(code, Y, T, scale, dY, need_grad, rows)
        return float(losses.loss_total(rows, scale))

    def all_finite(self, arr):
        return bool(np.isfinite(self.to_host(arr)).all())


CPU = CPUBackend()
_CUDA = None


def get_backend(device):
    """The backend of a device name ('cpu' or 'cuda'); CUDA is set up on first use and
    raises :class:`numbann._cuda.CudaUnavailableError` if it cannot be used."""
    global _CUDA
    if device_name(device) == "cpu":
        return CPU
    if _CUDA is None:
        _CUDA = CUDABackend()
    return _CUDA


def backend_of(arr):
    """The backend an array belongs to: CUDA for Numba device arrays, else the CPU
    (TypeError for another library's GPU array, see :func:`is_device_array`)."""
    return get_backend("cuda") if is_device_array(arr) else CPU
