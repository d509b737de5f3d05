"""Array copies for compiled code.

``dst[:] = src`` between arrays works in Numba but pulls in its general
broadcasting assignment, which costs 3–5 s of compile time the first time a
process uses it (measured here); a flat loop compiles in a fraction of that
and runs as fast.
"""

from .._config import jit


@jit
def copy_into(dst, src):
    """dst ← src for C-contiguous arrays of the same size (any shapes)."""
    d = dst.reshape(-1)
    s = src.reshape(-1)
    for i in range(d.size):
        d[i] = s[i]
