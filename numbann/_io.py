"""Files written whole or not at all, and the SHA-256 that numbann records of bytes and arrays."""

import hashlib
import os
import secrets
from contextlib import contextmanager, suppress
from pathlib import Path

import numpy as np

__all__ = ["atomic_write", "sha256_of"]


@contextmanager
def atomic_write(path):
    """Yield a new binary file that replaces *path* when the block ends without an error.

    The bytes go to a temporary file beside *path* (with the permissions a plain
    ``open()`` gives), which is flushed to disk (fsync) and renamed onto *path*
    at the end of the block. If the block raises or is interrupted, the
    temporary file is removed: *path* is then still the old file (or absent),
    never a partial one. The file's ``name`` is the temporary path, so the block
    may flush and re-read what it wrote; it must not close the file.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.part")
    try:
        with open(tmp, "xb") as file:
            yield file
            file.flush()
            os.fsync(file.fileno())
        os.replace(tmp, path)
    finally:
        with suppress(FileNotFoundError):
            os.unlink(tmp)
    _fsync_directory(path.parent)


def _fsync_directory(directory):
    """Make a rename in *directory* durable, where the platform can (POSIX); best effort."""
    if os.name != "posix":
        return
    with suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def sha256_of(*chunks):
    """Hex SHA-256 of *chunks* in turn: bytes-like objects, and arrays as their bytes in C order.

    ``sha256_of(array)`` is the checksum of the array's raw native bytes (what a
    saved model records per array); ``sha256_of(header, data)`` hashes a file
    made of those two parts without building it.
    """
    digest = hashlib.sha256()
    for chunk in chunks:
        if isinstance(chunk, np.ndarray):
            chunk = np.ascontiguousarray(chunk).reshape(-1).view(np.uint8)
        digest.update(chunk)
    return digest.hexdigest()
