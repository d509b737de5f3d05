"""numbann._io: files written whole or not at all, and the SHA-256 of bytes and arrays."""

import hashlib
import os
from pathlib import Path

import numpy as np
import pytest

from numbann import _io


def test_atomic_write_syncs_then_replaces_the_file(tmp_path, monkeypatch):
    path = tmp_path / "data.bin"
    path.write_bytes(b"old")
    synced = []
    real_fsync = os.fsync

    def fsync(fd):
        synced.append(path.read_bytes())  # what the target holds when the new file is synced
        real_fsync(fd)

    monkeypatch.setattr(_io.os, "fsync", fsync)
    with _io.atomic_write(path) as out:
        out.write(b"new ")
        out.write(b"content")
        assert path.read_bytes() == b"old"  # nothing visible before the block ends
        out.flush()
        assert Path(out.name).read_bytes() == b"new content"  # the block may re-read it
    assert path.read_bytes() == b"new content"
    assert synced[0] == b"old"  # the data reached the disk before the rename
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.bin"]


@pytest.mark.parametrize("error", [OSError("disk full"), KeyboardInterrupt()])
def test_a_failed_atomic_write_leaves_the_old_file_and_no_temporary(tmp_path, error):
    path = tmp_path / "data.bin"
    path.write_bytes(b"old")
    with pytest.raises(type(error)):
        with _io.atomic_write(path) as out:
            out.write(b"half of it")
            raise error
    assert path.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.bin"]


def test_atomic_write_gives_the_permissions_of_a_plain_open(tmp_path):
    old = os.umask(0o027)
    try:
        with _io.atomic_write(tmp_path / "new.bin") as out:
            out.write(b"x")
        (tmp_path / "plain.bin").write_bytes(b"x")
    finally:
        os.umask(old)
    mode = (tmp_path / "new.bin").stat().st_mode & 0o777
    assert mode == (tmp_path / "plain.bin").stat().st_mode & 0o777


ARRAYS = [
    np.arange(12, dtype=np.float32).reshape(3, 4),
    np.arange(12, dtype=np.float64).reshape(3, 4).T,  # not contiguous
    np.arange(20, dtype=">i4")[::3],  # strided, big-endian
    np.array(3.5),
    np.zeros((0, 5), np.uint8),
    np.array([True, False]),
]


@pytest.mark.parametrize("array", ARRAYS, ids=lambda a: f"{a.dtype}{a.shape}")
def test_sha256_of_an_array_is_that_of_its_bytes_in_c_order(array):
    want = hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()
    assert _io.sha256_of(array) == want


def test_sha256_of_several_chunks_is_that_of_their_concatenation():
    header, data = b"\0\0\x08\x01", np.arange(7, dtype=np.uint8)
    assert _io.sha256_of(header, data) == hashlib.sha256(header + data.tobytes()).hexdigest()
    assert _io.sha256_of(b"") == hashlib.sha256(b"").hexdigest()
    assert _io.sha256_of(bytearray(b"ab"), memoryview(b"c")) == hashlib.sha256(b"abc").hexdigest()
