"""The one place numbann imports Numba's CUDA target from.

numba-cuda (the ``numbann[cuda]`` extra, tested with 0.30.x) provides
``numba.cuda``. It is in maintenance mode (NVIDIA/numba-cuda issue 902); its
successor, numba-cuda-mlir (``from numba_cuda_mlir import cuda``), has no
simulator. A move starts here — the import below — and docs/gpu.md says
what else it would take. Importing numbann never requires CUDA; asking for
``'cuda'`` without it raises :class:`CudaUnavailableError` saying what is
missing.
"""

import os

SIMULATOR = os.environ.get("NUMBA_ENABLE_CUDASIM", "0") == "1"

_UNSET = object()
_module = _UNSET


def _load():
    """numba.cuda, imported on first use (it adds ~0.4 s to an import), or None."""
    global _module
    if _module is _UNSET:
        try:  # pragma: no cover - depends on the installation
            from numba import cuda as module
        except ImportError:  # pragma: no cover
            module = None
        _module = module
    return _module


def __getattr__(name):
    # ``from numbann._cuda import cuda`` imports Numba's CUDA target only then
    if name == "cuda":
        return _load()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class CudaUnavailableError(RuntimeError):
    """Raised when the CUDA device is requested but cannot be used."""


def _provider():
    """Which package provides numba.cuda: 'numba-cuda', 'numba' or None."""
    cuda = _load()
    if cuda is None:
        return None
    path = getattr(cuda, "__file__", "") or ""
    return "numba-cuda" if "numba_cuda" in path else "numba"


def cuda_status():
    """Return ``(available, reason)``; *reason* says what is missing, if anything."""
    cuda = _load()
    if cuda is None:
        return False, "Numba's CUDA target is not installed: pip install 'numbann[cuda]'"
    if SIMULATOR:
        return True, "CUDA simulator (NUMBA_ENABLE_CUDASIM=1), not a real GPU"
    if _provider() != "numba-cuda":
        return False, (
            "numba-cuda is not installed (Numba's built-in CUDA target is deprecated): "
            "pip install 'numbann[cuda]'"
        )
    try:
        if cuda.is_available():
            gpu = cuda.get_current_device()
            name = gpu.name.decode() if isinstance(gpu.name, bytes) else gpu.name
            major, minor = gpu.compute_capability
            return True, f"{name} (compute capability {major}.{minor})"
    except Exception as exc:  # pragma: no cover - needs a broken driver
        return False, f"CUDA driver error: {exc}"
    try:
        cuda.cudadrv.driver.driver.get_device_count()
    except Exception as exc:
        first = next((line for line in str(exc).splitlines() if line.strip(" :")), str(exc))
        if "cannot be found" in str(exc):
            first = "no NVIDIA driver found (libcuda); install the NVIDIA driver"
        return False, f"CUDA is not usable: {first.strip()}"
    return False, "CUDA is not usable: no NVIDIA GPU found"


def require_cuda():
    """Return the ``numba.cuda`` module, or raise :class:`CudaUnavailableError`."""
    ok, reason = cuda_status()
    if not ok:
        raise CudaUnavailableError(f"device 'cuda' requested but {reason}")
    return _load()
