"""The 8x8 handwritten digits shipped inside numbann: a data set that needs no download.

1797 images of 8x8 pixel counts 0..16 with labels 0..9, the test part of the
UCI "Optical Recognition of Handwritten Digits" set (E. Alpaydin, C. Kaynak,
1998; CC BY 4.0; see ``data/LICENSE-digits.txt``) — the same rows that
scikit-learn's ``load_digits()`` returns.
"""

import functools
import gzip
import io
from importlib import resources

import numpy as np

from .. import _validate
from .._io import sha256_of
from ._errors import CorruptDataError

__all__ = ["load_digits"]

_FILE = "digits.csv.gz"
#: sha256 of the decompressed CSV
_SHA256 = "6ebb3d2fee246a4e99363262ddf8a00a3c41bee6014c373ed9d9216ba7f651b8"
_SHAPE = (1797, 65)


@functools.lru_cache(maxsize=1)
def _table():
    """The verified (1797, 65) int64 table: 64 pixels then the label. Read-only."""
    resource = resources.files(__package__).joinpath("data").joinpath(_FILE)
    text = gzip.decompress(resource.read_bytes())
    digest = sha256_of(text)
    if digest != _SHA256:
        raise CorruptDataError(resource, f"sha256 {digest} is not the shipped file's {_SHA256}")
    table = np.loadtxt(io.BytesIO(text), delimiter=",", dtype=np.int64, ndmin=2)
    if table.shape != _SHAPE:  # pragma: no cover - the checksum fixes the content
        raise CorruptDataError(resource, f"expected shape {_SHAPE}, got {table.shape}")
    table.flags.writeable = False
    return table


def load_digits(normalize=False, one_hot_label=False, dtype=np.float32):
    """The 1797 8x8 handwritten digits as ``(X, t)``, from data shipped with numbann.

    X is (1797, 64) of *dtype*, each row an 8x8 image in row-major order with
    pixel values 0..16, or 0..1 (divided by 16) when *normalize* is true.
    t is (1797,) int64 labels 0..9, or (1797, 10) one-hot rows of *dtype*
    when *one_hot_label* is true. Both arrays are new, writable and
    C-contiguous. Works offline.
    """
    dtype = _validate.float_dtype(dtype)
    table = _table()
    x = table[:, :64].astype(dtype)
    if normalize:
        x /= 16
    t = table[:, 64].copy()
    if one_hot_label:
        t = _validate.one_hot(t, 10, dtype)
    return x, t
