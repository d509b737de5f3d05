"""What numbann runs on: versions, threading, BLAS and CUDA status."""

import platform
import sys


def config_info():
    """A dict of the facts :func:`show_config` prints."""
    import numba
    import numpy
    import scipy

    from . import _config
    from ._cuda import cuda_status
    from ._version import __version__

    layer = _threading_layer()
    available, reason = cuda_status()
    try:
        import importlib.metadata as md

        numba_cuda = md.version("numba-cuda")
    except Exception:
        numba_cuda = "not installed"
    return {
        "numbann": __version__,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "numpy": numpy.__version__,
        "numba": numba.__version__,
        "scipy": scipy.__version__,
        "numba-cuda": numba_cuda,
        "threading layer": layer,
        "threads": numba.get_num_threads(),
        "blas": _blas_name(),
        "fastmath": ",".join(sorted(_config.FASTMATH)),
        "jit cache": "on" if _config.CACHE else "off",
        "cuda": ("available: " if available else "not available: ") + reason,
    }


def _threading_layer():
    """The threading layer Numba uses; it is chosen when the first parallel kernel runs,
    so run a tiny one if none has."""
    import numba

    try:
        return numba.threading_layer()
    except ValueError:
        pass
    try:
        from .kernels._parallel_probe import probe

        probe(numba.get_num_threads())
        return numba.threading_layer()
    except Exception as exc:  # pragma: no cover - a broken threading layer
        return f"unavailable ({exc})"


def _blas_name():
    """The BLAS behind SciPy (which Numba's np.dot calls), as SciPy reports it."""
    try:
        import scipy

        cfg = scipy.show_config(mode="dicts")
        blas = cfg.get("Build Dependencies", {}).get("blas", {})
        return f"{blas.get('name', '?')} {blas.get('version', '')}".strip()
    except Exception:  # pragma: no cover - old SciPy
        return "unknown"


def show_config(file=None):
    """Print numbann's versions, threading layer, thread count, BLAS and CUDA status."""
    info = config_info()
    width = max(len(k) for k in info)
    for key, value in info.items():
        print(f"{key:<{width}}  {value}", file=file or sys.stdout)
