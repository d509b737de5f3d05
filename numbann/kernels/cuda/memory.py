"""Device memory helpers (CUDA): filling an array, e.g. zeroing a gradient buffer.

``arr[...] = 0`` on a Numba device array also works, but builds a broadcast
assignment and synchronises; :func:`fill` is one grid-stride launch.
"""

from ..._cuda import cuda
from ._launch import (
    THREADS,
    Launch,
    array_types,
    blocks_for,
    flat,
    float_type,
    kernel_set,
    per_dtype,
)

__all__ = ["fill", "kernels", "signatures"]


@per_dtype
def kernels(dtype):
    """The memory kernels for float *dtype*."""

    @cuda.jit
    def fill(x, value):
        for i in range(cuda.grid(1), x.size, cuda.gridsize(1)):
            x[i] = value

    return kernel_set(fill=fill)


def signatures(dtype):
    """Kernel name → argument types, as the wrappers launch them (for the PTX test)."""
    v, _ = array_types(dtype)
    return {"fill": (v, float_type(dtype))}


def fill(x, value, stream=0):
    """Launch: every element of the C-contiguous device array x ← value."""
    if x.size == 0:
        return
    Launch(kernels(x.dtype).fill, blocks_for(x.size), THREADS, (flat(x), x.dtype.type(value)),
           stream)()
