"""A trivial parallel kernel, run once to start Numba's threading layer (for ``info``)."""

import numba

from .._config import jit


@jit(parallel=True)
def probe(n):
    """Σ_{i<n} i, computed with prange."""
    total = 0
    for i in numba.prange(n):
        total += i
    return total
