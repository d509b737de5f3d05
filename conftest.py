"""Set-up shared by every pytest run here (tests/, tests/cuda_sim, benchmarks/).

Numba's on-disk cache (``cache=True``) keys a compiled function on its own
source file only: when a callee or a global constant in *another* module
changes, a cached caller keeps running the old code. So a test run gets a
Numba cache directory of its own, named after a digest of every numbann
source file — any edit starts from a fresh cache, an unchanged tree reuses
its compiles. Set NUMBA_CACHE_DIR yourself to override.
"""

import hashlib
import os
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
CACHE_ROOT = ROOT / ".numba-cache"


def _sources_digest():
    digest = hashlib.sha256()
    for path in sorted((ROOT / "numbann").rglob("*.py")):
        digest.update(path.relative_to(ROOT).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


if "NUMBA_CACHE_DIR" not in os.environ:  # numba reads it when it is first imported
    here = CACHE_ROOT / _sources_digest()
    if CACHE_ROOT.is_dir():
        for old in CACHE_ROOT.iterdir():
            if old != here:
                shutil.rmtree(old, ignore_errors=True)
    os.environ["NUMBA_CACHE_DIR"] = str(here)  # for subprocesses
    config = sys.modules.get("numba.core.config")
    if config is not None:  # numba-cuda's .pth imports numba at start-up, before this file
        config.CACHE_DIR = str(here)
