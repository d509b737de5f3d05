"""The IDX file format of MNIST and its kin: reading, writing and checking files."""

import gzip
import math
import zlib
from pathlib import Path

import numpy as np

from .._io import sha256_of
from ._errors import CorruptDataError

#: IDX type code (third byte of the magic number) -> big-endian dtype
IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
IDX_CODES = {np.dtype(t).newbyteorder("="): code for code, t in IDX_TYPES.items()}


def read_bytes(path):
    """The content of *path*, decompressed if it is gzip (told by its first bytes)."""
    data = Path(path).read_bytes()
    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as err:
            problem = f"not a valid gzip file; it is truncated or corrupt ({err})"
            raise CorruptDataError(path, problem) from None
    return data


def parse_idx(data, path):
    """IDX bytes -> a new native-endian, C-contiguous, writable array."""
    if len(data) < 4 or data[:2] != b"\0\0" or data[2] not in IDX_TYPES or data[3] == 0:
        codes = ", ".join(f"{c:02X}" for c in IDX_TYPES)
        raise CorruptDataError(
            path,
            f"bad IDX magic number 0x{data[:4].hex().upper()}: expected 0x0000TTNN with type TT "
            f"in {codes} and NN >= 1 dimensions (0x00000803 for images, 0x00000801 for labels)",
        )
    ndim = data[3]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise CorruptDataError(path, f"truncated IDX header: {ndim} dimensions need {header} bytes")
    shape = tuple(int(d) for d in np.frombuffer(data, ">u4", ndim, 4))
    dtype = np.dtype(IDX_TYPES[data[2]])
    need = math.prod(shape) * dtype.itemsize
    have = len(data) - header
    if have != need:
        how = "truncated" if have < need else "trailing bytes after the data"
        raise CorruptDataError(
            path,
            f"wrong size ({how}): an IDX {dtype.name} array of shape {shape} needs {need} "
            f"data bytes, the file has {have}",
        )
    return np.frombuffer(data, dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))


def _idx_parts(array):
    """(header bytes, big-endian contiguous data) of *array* as an IDX file."""
    arr = np.asarray(array)
    code = IDX_CODES.get(arr.dtype.newbyteorder("="))
    if code is None:
        raise TypeError(
            f"IDX cannot store dtype {arr.dtype}; use uint8, int8, int16, int32, float32 or float64"
        )
    if not 1 <= arr.ndim <= 255:
        raise ValueError(f"IDX stores arrays of 1 to 255 dimensions, got shape {arr.shape}")
    if max(arr.shape) >= 2**32:
        raise ValueError(f"IDX dimensions must be below 2**32, got shape {arr.shape}")
    header = bytes((0, 0, code, arr.ndim)) + np.array(arr.shape, ">u4").tobytes()
    return header, np.ascontiguousarray(arr, arr.dtype.newbyteorder(">"))


def idx_sha256(array):
    """sha256 of *array* written as an IDX file, i.e. of the file's decompressed content."""
    return sha256_of(*_idx_parts(array))


def check_sha256(path, got, want, what=""):
    """Raise CorruptDataError for *path* unless the hex digests *got* and *want* agree."""
    if got != want:
        raise CorruptDataError(
            path,
            f"checksum mismatch: the decompressed content has sha256 {got}, "
            f"expected {want}{what}; the file is corrupt or a different file",
        )


def load_idx(path, *, sha256=None):
    """Read one IDX file (gzipped or not) into a new NumPy array.

    IDX is the format of MNIST, Fashion-MNIST, KMNIST, EMNIST and QMNIST: a
    magic number ``0x0000TTNN`` (type TT, NN dimensions), NN big-endian uint32
    sizes, then the data, big-endian. All IDX types are read: 0x08 uint8,
    0x09 int8, 0x0B int16, 0x0C int32, 0x0D float32, 0x0E float64. The result
    has the file's shape (e.g. (60000, 28, 28) for images, (60000,) for
    labels) and the matching native-endian dtype; it is C-contiguous and
    writable. The header, dimensions and size are checked, and so is the
    sha256 of the decompressed content when *sha256* is given; any mismatch
    raises :class:`CorruptDataError` naming the file.
    """
    data = read_bytes(path)
    array = parse_idx(data, path)
    if sha256 is not None:
        check_sha256(path, sha256_of(data), sha256.lower())
    return array


def save_idx(path, array, *, compress=None):
    """Write *array* (uint8, int8, int16, int32, float32 or float64) as an IDX file.

    The file is gzipped when *compress* is true, or, if *compress* is None,
    when *path* ends in ``.gz``. ``load_idx(path)`` gives the array back.
    """
    header, data = _idx_parts(array)
    content = header + data.tobytes()
    if compress if compress is not None else str(path).endswith(".gz"):
        content = gzip.compress(content, mtime=0)
    Path(path).write_bytes(content)
