"""The MNIST-format data sets numbann knows: their files, mirrors and checksums."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._io import sha256_of
from ._errors import CorruptDataError
from ._idx import check_sha256, parse_idx, read_bytes

#: The four files of every MNIST-format set, by role.
FILES = {
    "train_images": "train-images-idx3-ubyte.gz",
    "train_labels": "train-labels-idx1-ubyte.gz",
    "test_images": "t10k-images-idx3-ubyte.gz",
    "test_labels": "t10k-labels-idx1-ubyte.gz",
}
NUM_CLASSES = 10
_IMAGE_SHAPE = (28, 28)


@dataclass(frozen=True)
class DataSet:
    """One MNIST-format set: its name, how it is called in texts, and where to get it."""

    name: str
    title: str
    mirrors: tuple
    #: sha256 of the decompressed files (checked on every read), by file name
    sha256: dict | None = None
    #: md5 of the .gz files as the mirrors serve them (checked on download only)
    gz_md5: dict | None = None


def _by_file(*values):
    return dict(zip(FILES.values(), values, strict=True))


SETS = {
    ds.name: ds
    for ds in (
        DataSet(
            "mnist",
            "MNIST",
            # torchvision's mirror, then the one the textbook's code uses;
            # yann.lecun.com refuses automated downloads.
            (
                "https://ossci-datasets.s3.amazonaws.com/mnist/",
                "https://storage.googleapis.com/cvdf-datasets/mnist/",
            ),
            sha256=_by_file(
                "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
                "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
                "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
                "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
            ),
        ),
        DataSet(
            "fashion-mnist",
            "Fashion-MNIST",
            (
                "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
                "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",  # noqa: E501
            ),
            gz_md5=_by_file(
                "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
                "25c81989df183df01b3e8a0aad5dffbe",
                "bef4ecab320f06d8554ea6380940ec79",
                "bb300cfdad3c16e7a12a480ee83cd310",
            ),
        ),
        DataSet(
            "kmnist",
            "KMNIST",
            (
                "https://codh.rois.ac.jp/kmnist/dataset/kmnist/",
                "http://codh.rois.ac.jp/kmnist/dataset/kmnist/",
            ),
            gz_md5=_by_file(
                "bdb82020997e1d708af4cf47b453dcf7",
                "e144d726b3acfaa3e44228e80efcd344",
                "5c965bf0a639b31b8f53240b1b52f4d7",
                "7320c461ea6c1c855c0b718fb2a4b134",
            ),
        ),
    )
}

#: Download mirrors tried in order, by data set name.
MIRRORS = {name: ds.mirrors for name, ds in SETS.items()}


def data_set(name):
    """The registered set called *name*; ValueError naming the choices otherwise."""
    try:
        return SETS[name]
    except (KeyError, TypeError):
        raise ValueError(f"name must be one of {sorted(SETS)}, got {name!r}") from None


def check_member(array, key, path):
    """Raise unless *array* is what the file *key* of an MNIST-format set holds."""
    if key.endswith("images"):
        if array.dtype != np.uint8 or array.ndim != 3 or array.shape[1:] != _IMAGE_SHAPE:
            raise CorruptDataError(
                path,
                f"expected uint8 images of shape (N, 28, 28), "
                f"found {array.dtype} of shape {array.shape}",
            )
    elif array.dtype != np.uint8 or array.ndim != 1:
        raise CorruptDataError(
            path, f"expected uint8 labels of shape (N,), found {array.dtype} of shape {array.shape}"
        )
    elif array.size and int(array.max()) >= NUM_CLASSES:
        raise CorruptDataError(path, f"label {int(array.max())} is out of range 0..9")


def read_member(ds, key, path):
    """Read and verify file *key* of *ds* at *path*; returns (array, sha256)."""
    data = read_bytes(path)
    kind, magic = (
        ("images", b"\0\0\x08\x03") if key.endswith("images") else ("labels", b"\0\0\x08\x01")
    )
    if data[:4] != magic:
        raise CorruptDataError(
            path,
            f"bad magic number 0x{data[:4].hex().upper()}: IDX {kind} files of an MNIST-format "
            f"set start with 0x{magic.hex().upper()}",
        )
    array = parse_idx(data, path)
    check_member(array, key, path)
    digest = sha256_of(data)
    if ds.sha256 is not None:
        check_sha256(path, digest, ds.sha256[FILES[key]], f" for {ds.title} {FILES[key]}")
    return array, digest
