"""Fixes for Numba's CUDA simulator (numba-cuda 0.30), used by the kernel tests and by
``python -m benchmarks.gpu_check --simulator``: :func:`patch`."""

import sys
import threading
import warnings

import numpy as np


def _lock_shared_arrays():
    """Make the simulator's cuda.shared.array allocation thread-safe.

    numba-cuda 0.30's simulator keys a launch's shared arrays by the calling
    source line and allocates with an unlocked check-then-set, so two threads
    of a block can each get a fresh array and never see each other's writes
    (seen here as a wrong tile in a matrix product now and then). Same keys,
    under a lock.
    """
    from numba.cuda.simulator import kernelapi  # only exists under the simulator

    original = kernelapi.FakeCUDAShared.array
    lock = threading.Lock()

    def array(self, shape, dtype, alignment=None):
        if alignment is not None or shape == 0:
            return original(self, shape, dtype, alignment)
        if isinstance(dtype, kernelapi.types.Type):
            dtype = kernelapi.numpy_support.as_dtype(dtype)
        frame = sys._getframe(1)
        caller = (frame.f_code.co_filename, frame.f_lineno)
        with lock:
            res = self._allocations.get(caller)
            if res is None:
                res = self._allocations[caller] = np.empty(shape, dtype)
        return res

    kernelapi.FakeCUDAShared.array = array


#: what a real numba-cuda DeviceNDArray offers (class attributes and those set in
#: __init__); the simulator's arrays pass any other NumPy attribute through
_DEVICE_ARRAY_API = {
    "T", "as_cuda_arg", "bind", "copy_to_device", "copy_to_host", "device_ctypes_pointer",
    "flags", "get_ipc_handle", "getitem", "is_c_contiguous", "is_f_contiguous", "nbytes",
    "ravel", "reshape", "setitem", "split", "squeeze", "transpose", "view", "shape",
    "strides", "dtype", "size", "ndim", "stream", "gpu_data", "alloc_size",
    "__cuda_array_interface__", "__len__",
}


def _strict_device_arrays():
    """Make the simulator's device arrays refuse what real ones do not have (e.g. a
    NumPy method like .copy() or np.isfinite on a device array), so such misuse
    fails here rather than first on a GPU."""
    from numba.cuda.simulator.cudadrv import devicearray

    fake = devicearray.FakeCUDAArray
    passthrough = fake.__getattr__

    def __getattr__(self, name):
        if name not in _DEVICE_ARRAY_API and not name.startswith("_ary"):
            raise AttributeError(f"a device array has no attribute {name!r} on a real GPU")
        return passthrough(self, name)

    fake.__getattr__ = __getattr__


#: the dropout generator's uint64 arithmetic wraps on purpose (as on a GPU and in the CPU
#: kernel); the simulator runs it on NumPy scalars, which warn at every wrap. As a warnings
#: filter: (action, message, category, module)
UINT64_WRAPPING = ("ignore", r"overflow encountered in scalar (add|multiply)", RuntimeWarning,
                   r"numbann\.kernels\.cuda\.norm")


def _quiet_uint64_wrapping():
    warnings.filterwarnings(*UINT64_WRAPPING)


def patch():
    """Apply the fixes above and a short GIL switch interval: the simulator runs a
    block's threads as Python threads and polls them at every syncthreads; with the
    default 5 ms interval one barrier costs milliseconds per thread, with 10 µs the
    simulator is ~10x faster. Call it only under the simulator, once."""
    _lock_shared_arrays()
    _strict_device_arrays()
    _quiet_uint64_wrapping()
    sys.setswitchinterval(1e-5)
