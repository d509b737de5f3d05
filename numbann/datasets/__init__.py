"""Data sets and data utilities.

- :func:`load_mnist` — MNIST (or Fashion-MNIST, KMNIST) with the textbook's
  flags, from a local directory, ``$NUMBANN_DATA`` or the per-user cache,
  downloaded from public mirrors when missing, verified on every read and
  cached as ``.npz`` for fast reloads; a failed download names each
  mirror's reason. :func:`load_idx` reads any IDX file.
- :func:`load_digits` — the 8x8 handwritten digits shipped with numbann:
  works offline, the default for quick examples and tests.
- :func:`train_test_split`, :func:`one_hot`, :func:`batches`,
  :func:`sample_batch` — splitting, labels and mini-batches.
"""

from .digits import load_digits
from .mnist import (
    MIRRORS,
    CorruptDataError,
    DatasetNotFoundError,
    download_mnist,
    load_idx,
    load_mnist,
    save_idx,
    user_cache_dir,
)
from .utils import batches, one_hot, sample_batch, train_test_split

__all__ = [
    "MIRRORS",
    "CorruptDataError",
    "DatasetNotFoundError",
    "batches",
    "download_mnist",
    "load_digits",
    "load_idx",
    "load_mnist",
    "one_hot",
    "sample_batch",
    "save_idx",
    "train_test_split",
    "user_cache_dir",
]
