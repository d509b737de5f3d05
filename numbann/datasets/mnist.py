"""MNIST and the sets in its format (Fashion-MNIST, KMNIST): IDX files, download, cache.

Where the four files are looked for, in this order:

1. the ``data_dir`` argument: the directory holding the four files, or a
   root with them in ``data_dir/<name>/``;
2. ``$NUMBANN_DATA/<name>/`` if the ``NUMBANN_DATA`` environment variable is set;
3. the per-user cache, ``user_cache_dir() / <name>``.

Each file may be gzipped or not. Missing files are downloaded from public
mirrors (one after another, each with a timeout) into a temporary file that
is renamed into place only once it has been verified. Every read checks the
IDX header, dimensions and size, and for MNIST the sha256 of the decompressed
content. A corrupt file in the per-user cache is moved aside (``*.corrupt``)
and downloaded again; in a directory the user chose it is reported, never
touched. The parsed arrays are cached in an ``.npz`` (no pickle) beside the
files, or in the per-user cache when that directory is read-only.

The pieces live beside this module: ``_idx`` (the file format), ``_registry``
(the sets, their mirrors and checksums), ``_location`` (where the files are),
``_download`` and ``_cache``.
"""

import os
import sys

import numpy as np

from .. import _validate
from . import _cache, _registry
from ._download import Download, fetch
from ._errors import CorruptDataError, DatasetNotFoundError
from ._idx import load_idx, save_idx
from ._location import find, not_found, user_cache_dir, where
from ._registry import FILES, MIRRORS, NUM_CLASSES, data_set

__all__ = [
    "CorruptDataError",
    "DatasetNotFoundError",
    "MIRRORS",
    "download_mnist",
    "load_idx",
    "load_mnist",
    "save_idx",
    "user_cache_dir",
]


def _locate(ds, place, net):
    """Paths of the four files, downloading missing ones if allowed."""
    paths = {key: find(place.directory, filename) for key, filename in FILES.items()}
    missing = [key for key, path in paths.items() if path is None]
    if missing and not net.enabled:
        problem = "files are missing and downloading is off (download=False)"
        raise not_found(ds, place, missing, problem)
    for i, key in enumerate(missing):
        paths[key] = fetch(ds, key, place, net, missing=missing[i:])
    return paths


def _repair(ds, key, path, err, place, net):
    """Handle a corrupt file: report it, or in the cache set it aside and download it again."""
    if not place.managed:
        raise CorruptDataError(
            path,
            f"{err.problem}. numbann does not modify files in a directory you chose "
            f"({place.origin(ds.name)}): replace this file with a good copy, or delete it and "
            "load again to download it",
        ) from None
    aside = path.with_name(path.name + ".corrupt")
    os.replace(path, aside)
    print(f"numbann: {path} is corrupt ({err.problem}); moved it to {aside}", file=sys.stderr)
    note = f" (the cached copy was corrupt and was moved to {aside})"
    if not net.enabled:
        raise CorruptDataError(path, f"{err.problem}; moved it to {aside}. Load with download=True")
    return fetch(ds, key, place, net, note)


def _raw_arrays(name, data_dir, download, mirrors, **client):
    """The four verified uint8 arrays of set *name* (from the parsed cache if current);
    *client* holds the Download's timeouts and opener."""
    ds = data_set(name)
    place = where(ds.name, data_dir)
    net = Download(download, ds.mirrors if mirrors is None else tuple(mirrors), **client)
    paths = _locate(ds, place, net)
    cached = _cache.read_cache(ds, place.directory, _cache.fingerprint(ds, paths))
    if cached is not None:
        return cached
    arrays, digests = {}, {}
    for key in FILES:
        try:
            arrays[key], digests[key] = _registry.read_member(ds, key, paths[key])
        except CorruptDataError as err:
            paths[key] = _repair(ds, key, paths[key], err, place, net)
            arrays[key], digests[key] = _registry.read_member(ds, key, paths[key])
    for split in ("train", "test"):
        images, labels = arrays[f"{split}_images"], arrays[f"{split}_labels"]
        if len(images) != len(labels):
            raise CorruptDataError(
                paths[f"{split}_labels"],
                f"{len(labels)} labels for {len(images)} images in {paths[f'{split}_images']}",
            )
    _cache.write_cache(ds, place.directory, _cache.fingerprint(ds, paths), arrays, digests)
    return arrays


def load_mnist(
    normalize=True,
    flatten=True,
    one_hot_label=False,
    *,
    name="mnist",
    data_dir=None,
    download=True,
    dtype=np.float32,
    mirrors=None,
    timeout=30.0,
    connect_timeout=5.0,
    opener=None,
):
    """MNIST as ``(x_train, t_train), (x_test, t_test)``, with the textbook's flags.

    - ``normalize``: images as *dtype* in [0, 1] (pixel / 255); else uint8 0..255.
    - ``flatten``: images of shape (N, 784); else (N, 1, 28, 28).
    - ``one_hot_label``: labels as (N, 10) one-hot rows of *dtype*; else (N,) int64.

    N is 60000 for the training set and 10000 for the test set. Every array
    is new, writable and C-contiguous.

    ``name`` picks the set: ``"mnist"``, ``"fashion-mnist"`` or ``"kmnist"``
    (same file names and shapes). The files are looked for in *data_dir* (or
    ``data_dir/<name>``), else in ``$NUMBANN_DATA/<name>``, else in
    ``user_cache_dir() / <name>``; missing ones are downloaded when *download*
    is true, from *mirrors* (default ``MIRRORS[name]``) in turn. Connecting to
    a mirror and getting its answer may take *connect_timeout* seconds, each
    read after that *timeout* seconds. *opener* ``(url, timeout=...)`` returns
    a binary response to read, in place of the built-in urllib client (it then
    handles its own connecting). Raises :class:`DatasetNotFoundError` when the
    files are missing and cannot be downloaded (its message and attributes give
    each mirror's reason), :class:`CorruptDataError` when a file does not verify.
    """
    dtype = _validate.float_dtype(dtype)
    raw = _raw_arrays(name, data_dir, download, mirrors, timeout=timeout,
                      connect_timeout=connect_timeout, opener=opener)
    out = []
    for split in ("train", "test"):
        x, t = raw[f"{split}_images"], raw[f"{split}_labels"]
        n = x.shape[0]
        x = x.reshape(n, -1) if flatten else x.reshape(n, 1, *x.shape[1:])
        if normalize:
            x = x.astype(dtype)
            x /= 255
        labels = t.astype(np.int64)
        if one_hot_label:
            labels = _validate.one_hot(labels, NUM_CLASSES, dtype)
        out.append((np.require(x, requirements="CW"), np.require(labels, requirements="CW")))
    return out[0], out[1]


def download_mnist(name="mnist", *, data_dir=None, mirrors=None, timeout=30.0,
                   connect_timeout=5.0, opener=None):
    """Make sure the four files of set *name* are present and verified; returns their directory.

    Looks, downloads and verifies exactly as :func:`load_mnist` does (and
    writes its parsed cache), without building the output arrays: run it once
    on a machine with internet access, then copy the directory or point
    ``data_dir`` / ``NUMBANN_DATA`` at it.
    """
    _raw_arrays(name, data_dir, True, mirrors, timeout=timeout, connect_timeout=connect_timeout,
                opener=opener)
    return where(data_set(name).name, data_dir).directory
