"""SciPy's BLAS held to one thread while numbann's own threads split the work.

The data-parallel engine runs one half of each batch on each core, and each
half's matrix products call BLAS (SciPy's, which Numba's ``np.dot`` uses). If
BLAS kept its own pool of threads, both halves would wake it and wait for each
other. :func:`one_blas_thread` sets SciPy's OpenBLAS to one thread for the
duration of a call and puts the caller's setting back afterwards; where SciPy
uses another BLAS, or the library cannot be found, :func:`blas_controls` is None
and the engine does not split.
"""

import contextlib
import ctypes
import functools
import os

#: (getter, setter) names of the thread count in the OpenBLAS builds SciPy ships with
_NAMES = (("scipy_openblas_get_num_threads", "scipy_openblas_set_num_threads"),
          ("openblas_get_num_threads", "openblas_set_num_threads"))


@functools.cache
def blas_controls():
    """(get, set) ctypes functions of the thread count of SciPy's OpenBLAS, or None."""
    import scipy.linalg.cython_blas  # noqa: F401  (loads SciPy's BLAS)

    for path in _loaded_libraries():
        name = os.path.basename(path)
        if "openblas" not in name or "64_" in name:  # NumPy's ILP64 copy is not SciPy's
            continue
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for get_name, set_name in _NAMES:
            get, put = getattr(lib, get_name, None), getattr(lib, set_name, None)
            if get is not None and put is not None:
                get.restype, put.argtypes, put.restype = ctypes.c_int, [ctypes.c_int], None
                return get, put
    return None


def _loaded_libraries():
    """Paths of the shared libraries mapped into this process (Linux; elsewhere none)."""
    try:
        with open("/proc/self/maps") as maps:
            return sorted({line.split()[-1] for line in maps
                           if ".so" in line.rsplit("/", 1)[-1]})
    except OSError:
        return []


@contextlib.contextmanager
def one_blas_thread():
    """SciPy's OpenBLAS on one thread inside the block (the caller's count restored)."""
    controls = blas_controls()
    if controls is None:
        yield
        return
    get, put = controls
    before = get()
    put(1)
    try:
        yield
    finally:
        put(before)
