"""The parsed cache: a set's four arrays in one ``.npz`` (never a pickle), checked on every read.

It lies beside the files (``numbann-<name>-cache.npz``), or in the per-user
cache when that directory is read-only. A fingerprint of the source files
(path, size, mtime) tells whether it is current, and the sha256 it records
of each array is checked again on reading, so a damaged cache is a miss.
"""

import json
import logging

import numpy as np

from .._io import atomic_write, sha256_of
from ._idx import check_sha256, idx_sha256
from ._location import dir_writable, user_cache_dir
from ._registry import FILES, check_member

log = logging.getLogger(__name__)

_VERSION = 1


def fingerprint(ds, paths):
    """A string that changes when any source file changes (path, size, mtime)."""
    files = []
    for key in FILES:
        st = paths[key].stat()
        files.append([key, str(paths[key].resolve()), st.st_size, st.st_mtime_ns])
    return json.dumps({"name": ds.name, "files": files})


def cache_paths(ds, directory):
    """(beside the data, in the per-user cache): where the parsed arrays may be cached."""
    beside = directory / f"numbann-{ds.name}-cache.npz"
    tag = sha256_of(str(directory.resolve()).encode())[:16]
    return beside, user_cache_dir() / "parsed" / f"{ds.name}-{tag}.npz"


def read_cache(ds, directory, current):
    """The four arrays from a cache of the files in *directory* whose fingerprint is
    *current* and which verifies; else None."""
    for path in cache_paths(ds, directory):
        if path.is_file():
            arrays = _read_npz(ds, path, current)
            if arrays is not None:
                return arrays
    return None


def _read_npz(ds, path, current):
    try:
        with np.load(path, allow_pickle=False) as z:
            if int(z["version"]) != _VERSION or str(z["fingerprint"]) != current:
                return None
            arrays = {key: z[key] for key in FILES}
            digests = [str(d) for d in z["sha256"]]
        for key, digest in zip(FILES, digests, strict=True):
            check_member(arrays[key], key, path)
            check_sha256(path, idx_sha256(arrays[key]), digest)
            if ds.sha256 is not None:
                check_sha256(path, digest, ds.sha256[FILES[key]])
    except Exception as err:  # a bad cache is only a cache miss
        log.debug("ignoring the parsed cache %s: %s", path, err)
        return None
    return arrays


def write_cache(ds, directory, current, arrays, digests):
    """Save the parsed arrays; returns the path, or None (logged, never raised) on failure."""
    beside, fallback = cache_paths(ds, directory)
    targets = [beside, fallback] if dir_writable(directory) else [fallback]
    content = dict(arrays, version=_VERSION, fingerprint=current)
    content["sha256"] = np.array([digests[key] for key in FILES])
    for target in targets:
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            with atomic_write(target) as out:
                np.savez(out, **content)
            return target
        except Exception as err:  # the cache is optional
            log.debug("could not write the parsed cache %s: %s", target, err)
    return None
