"""MNIST and the sets in its format (Fashion-MNIST, KMNIST): IDX files, download, cache.

Where the four files are looked for, in this order:

1. the ``data_dir`` argument (the four files directly in it);
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
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import json
import logging
import math
import os
import secrets
import shutil
import stat
import sys
import urllib.request
import zlib
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import _validate
from .._config import FLOAT_DTYPES
from .._version import __version__

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

log = logging.getLogger(__name__)


class CorruptDataError(ValueError):
    """A data file is not what it should be: bad gzip, IDX header, size or checksum.

    ``path`` is the file (or URL) and ``problem`` what is wrong with it.
    """

    def __init__(self, path, problem):
        self.path = path
        self.problem = problem
        super().__init__(f"{path}: {problem}")


class DatasetNotFoundError(FileNotFoundError):
    """The data files are missing and could not be downloaded; the message says what to do."""


# --- IDX files ---------------------------------------------------------------

#: IDX type code (third byte of the magic number) -> big-endian dtype
_IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
_IDX_CODES = {np.dtype(t).newbyteorder("="): code for code, t in _IDX_TYPES.items()}


def _read_bytes(path):
    """The content of *path*, decompressed if it is gzip (told by its first bytes)."""
    data = Path(path).read_bytes()
    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as err:
            problem = f"not a valid gzip file ({err}); it is truncated or corrupt"
            raise CorruptDataError(path, problem) from None
    return data


def _parse_idx(data, path):
    """IDX bytes -> a new native-endian, C-contiguous, writable array."""
    if len(data) < 4 or data[:2] != b"\0\0" or data[2] not in _IDX_TYPES or data[3] == 0:
        codes = ", ".join(f"{c:02X}" for c in _IDX_TYPES)
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
    dtype = np.dtype(_IDX_TYPES[data[2]])
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
    code = _IDX_CODES.get(arr.dtype.newbyteorder("="))
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


def _digest(array):
    """sha256 of *array* written as an IDX file, i.e. of the file's decompressed content."""
    header, data = _idx_parts(array)
    h = hashlib.sha256(header)
    h.update(data.reshape(-1).view(np.uint8))
    return h.hexdigest()


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
    data = _read_bytes(path)
    array = _parse_idx(data, path)
    if sha256 is not None:
        _check_sha256(path, hashlib.sha256(data).hexdigest(), sha256.lower())
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


def _check_sha256(path, got, want, what=""):
    if got != want:
        raise CorruptDataError(
            path,
            f"checksum mismatch: the decompressed content has sha256 {got}, "
            f"expected {want}{what}; the file is corrupt or a different file",
        )


# --- the data sets -----------------------------------------------------------

#: The four files of every MNIST-format set, by role.
FILES = {
    "train_images": "train-images-idx3-ubyte.gz",
    "train_labels": "train-labels-idx1-ubyte.gz",
    "test_images": "t10k-images-idx3-ubyte.gz",
    "test_labels": "t10k-labels-idx1-ubyte.gz",
}
_NUM_CLASSES = 10
_IMAGE_SHAPE = (28, 28)


@dataclass(frozen=True)
class _DataSet:
    name: str
    title: str
    mirrors: tuple
    #: sha256 of the decompressed files (checked on every read), by file name
    sha256: dict | None = None
    #: md5 of the .gz files as the mirrors serve them (checked on download only)
    gz_md5: dict | None = None


def _by_file(*values):
    return dict(zip(FILES.values(), values, strict=True))


_SETS = {
    ds.name: ds
    for ds in (
        _DataSet(
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
        _DataSet(
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
        _DataSet(
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
MIRRORS = {name: ds.mirrors for name, ds in _SETS.items()}


def _data_set(name):
    try:
        return _SETS[name]
    except (KeyError, TypeError):
        raise ValueError(f"name must be one of {sorted(_SETS)}, got {name!r}") from None


def _check_member(array, key, path):
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
    elif array.size and int(array.max()) >= _NUM_CLASSES:
        raise CorruptDataError(path, f"label {int(array.max())} is out of range 0..9")


def _read_member(ds, key, path):
    """Read and verify file *key* of *ds* at *path*; returns (array, sha256)."""
    data = _read_bytes(path)
    kind, magic = (
        ("images", b"\0\0\x08\x03") if key.endswith("images") else ("labels", b"\0\0\x08\x01")
    )
    if data[:4] != magic:
        raise CorruptDataError(
            path,
            f"bad magic number 0x{data[:4].hex().upper()}: IDX {kind} files of an MNIST-format "
            f"set start with 0x{magic.hex().upper()}",
        )
    array = _parse_idx(data, path)
    _check_member(array, key, path)
    digest = hashlib.sha256(data).hexdigest()
    if ds.sha256 is not None:
        _check_sha256(path, digest, ds.sha256[FILES[key]], f" for {ds.title} {FILES[key]}")
    return array, digest


# --- where the files are -----------------------------------------------------


def user_cache_dir():
    """The per-user cache directory of numbann (a ``Path``; not created here).

    ``$XDG_CACHE_HOME/numbann`` if XDG_CACHE_HOME is set (on any platform),
    else ``~/.cache/numbann`` on Linux, ``~/Library/Caches/numbann`` on macOS
    and ``%LOCALAPPDATA%\\numbann`` on Windows.
    """
    xdg = os.environ.get("XDG_CACHE_HOME")
    if xdg and os.path.isabs(xdg):
        base = Path(xdg)
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Caches"
    elif os.name == "nt":
        base = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
    else:
        base = Path.home() / ".cache"
    return base / "numbann"


@dataclass(frozen=True)
class _Download:
    """Whether and how missing files are downloaded."""

    enabled: bool
    mirrors: tuple
    timeout: float
    opener: object


@dataclass(frozen=True)
class _Where:
    directory: Path
    origin: str
    #: True for the per-user cache, which numbann manages (and may repair)
    managed: bool


def _where(ds, data_dir):
    if data_dir is not None:
        return _Where(Path(data_dir).expanduser(), "the data_dir argument", False)
    env = os.environ.get("NUMBANN_DATA")
    if env:
        return _Where(Path(env).expanduser() / ds.name, f"$NUMBANN_DATA/{ds.name}", False)
    return _Where(user_cache_dir() / ds.name, "the per-user cache directory", True)


def _dir_writable(path):
    """Whether numbann may write into *path*.

    A directory without any write permission bit counts as read-only even
    for root, who could write into it anyway.
    """
    try:
        mode = Path(path).stat().st_mode
    except OSError:
        return False
    return stat.S_ISDIR(mode) and bool(mode & 0o222) and os.access(path, os.W_OK)


def _find(directory, filename):
    for candidate in (filename, filename.removesuffix(".gz")):
        path = directory / candidate
        if path.is_file():
            return path
    return None


def _help(ds, where, missing, problem):
    """The message of a DatasetNotFoundError: what is needed, where, and what to do."""
    lines = [
        f"{ds.title} data not available: {problem}",
        f"numbann looked in {where.directory} ({where.origin}) for these files:",
    ]
    for key, filename in FILES.items():
        status = "missing" if key in missing else "found"
        lines.append(f"  {filename} (or uncompressed {filename.removesuffix('.gz')}): {status}")
    lines += [
        "To use files you already have, either",
        "  - pass data_dir='/path/to/dir' (the directory holding the four files), or",
        f"  - set NUMBANN_DATA=/path/to/root with the files in /path/to/root/{ds.name}/.",
        "numbann downloads missing files when online (download=True, the default); by hand,",
        "fetch the .gz files from one of:",
        *(f"  {mirror}" for mirror in ds.mirrors),
    ]
    return "\n".join(lines)


# --- download ----------------------------------------------------------------


def _urlopen(url, timeout):
    request = urllib.request.Request(url, headers={"User-Agent": f"numbann/{__version__}"})
    return urllib.request.urlopen(request, timeout=timeout)


def _fetch(ds, key, where, net, note="", missing=None):
    """Download file *key* into *where*, trying the mirrors in turn; returns its path.

    Each attempt writes a temporary file in the target directory, verifies it
    and renames it into place; a failed or interrupted attempt removes it.
    """
    filename = FILES[key]
    missing = [key] if missing is None else missing
    try:
        where.directory.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise DatasetNotFoundError(
            _help(ds, where, missing, f"cannot create {where.directory} ({err})")
        ) from None
    if not _dir_writable(where.directory):
        problem = f"{where.directory} is read-only, so {filename} cannot be downloaded into it"
        raise DatasetNotFoundError(_help(ds, where, missing, problem + note))
    failures = []
    for mirror in net.mirrors:
        url = mirror.rstrip("/") + "/" + filename
        try:
            return _fetch_one(ds, key, url, where.directory / filename, net)
        except (OSError, http.client.HTTPException, ValueError) as err:
            reason = err.problem if isinstance(err, CorruptDataError) else f"{err!r}"
            failures.append(f"  {url}: {reason}")
    tried = "\n".join(failures) if failures else "  (no mirrors given)"
    problem = f"downloading {filename} failed{note}:\n{tried}"
    raise DatasetNotFoundError(_help(ds, where, missing, problem))


@contextmanager
def _atomic_write(target):
    """Yield a new binary file beside *target* that replaces *target* if the block succeeds.

    The file is written under a temporary name and renamed (atomically) onto
    *target* at the end of the block; if the block raises or is interrupted,
    the temporary file is removed, so no partial file is ever left behind.
    """
    tmp = target.with_name(f".{target.name}.{secrets.token_hex(6)}.part")
    try:
        with open(tmp, "xb") as out:
            yield out
        os.replace(tmp, target)
    finally:
        with suppress(FileNotFoundError):
            os.unlink(tmp)


def _fetch_one(ds, key, url, target, net):
    print(f"numbann: downloading {url}", file=sys.stderr)
    with _atomic_write(target) as out:
        with net.opener(url, timeout=net.timeout) as response:
            shutil.copyfileobj(response, out, 1 << 20)
            promised = getattr(response, "headers", {}).get("Content-Length")
        out.close()
        size = os.path.getsize(out.name)
        if promised is not None and promised.isdigit() and int(promised) != size:
            raise OSError(f"the connection ended after {size} of {promised} bytes")
        if ds.gz_md5 is not None:
            md5 = hashlib.md5(Path(out.name).read_bytes(), usedforsecurity=False).hexdigest()
            if md5 != ds.gz_md5[target.name]:
                raise CorruptDataError(url, f"md5 {md5} differs from the published one")
        try:
            _read_member(ds, key, out.name)
        except CorruptDataError as err:
            raise CorruptDataError(url, err.problem) from None
    return target


def _locate(ds, where, net):
    """Paths of the four files, downloading missing ones if allowed."""
    paths = {key: _find(where.directory, filename) for key, filename in FILES.items()}
    missing = [key for key, path in paths.items() if path is None]
    if missing and not net.enabled:
        problem = "files are missing and downloading is off (download=False)"
        raise DatasetNotFoundError(_help(ds, where, missing, problem))
    for i, key in enumerate(missing):
        paths[key] = _fetch(ds, key, where, net, missing=missing[i:])
    return paths


def _repair(ds, key, path, err, where, net):
    """Handle a corrupt file: report it, or in the cache set it aside and download it again."""
    if not where.managed:
        raise CorruptDataError(
            path,
            f"{err.problem}. numbann does not modify files in a directory you chose "
            f"({where.origin}): replace this file with a good copy, or delete it and "
            "load again to download it",
        ) from None
    aside = path.with_name(path.name + ".corrupt")
    os.replace(path, aside)
    print(f"numbann: {path} is corrupt ({err.problem}); moved it to {aside}", file=sys.stderr)
    note = f" (the cached copy was corrupt and was moved to {aside})"
    if not net.enabled:
        raise CorruptDataError(path, f"{err.problem}; moved it to {aside}. Load with download=True")
    return _fetch(ds, key, where, net, note)


# --- parsed cache (.npz, never pickle) -------------------------------------------

_CACHE_VERSION = 1


def _fingerprint(ds, paths):
    """A string that changes when any source file changes (path, size, mtime)."""
    files = []
    for key in FILES:
        st = paths[key].stat()
        files.append([key, str(paths[key].resolve()), st.st_size, st.st_mtime_ns])
    return json.dumps({"name": ds.name, "files": files})


def _cache_paths(ds, where):
    """(beside the data, in the per-user cache): where the parsed arrays may be cached."""
    beside = where.directory / f"numbann-{ds.name}-cache.npz"
    tag = hashlib.sha256(str(where.directory.resolve()).encode()).hexdigest()[:16]
    return beside, user_cache_dir() / "parsed" / f"{ds.name}-{tag}.npz"


def _read_cache(ds, where, fingerprint):
    for path in _cache_paths(ds, where):
        if path.is_file():
            arrays = _read_npz(ds, path, fingerprint)
            if arrays is not None:
                return arrays
    return None


def _read_npz(ds, path, fingerprint):
    """The arrays cached in *path* if it is current and verifies, else None."""
    try:
        with np.load(path, allow_pickle=False) as z:
            if int(z["version"]) != _CACHE_VERSION or str(z["fingerprint"]) != fingerprint:
                return None
            arrays = {key: z[key] for key in FILES}
            digests = [str(d) for d in z["sha256"]]
        for key, digest in zip(FILES, digests, strict=True):
            _check_member(arrays[key], key, path)
            _check_sha256(path, _digest(arrays[key]), digest)
            if ds.sha256 is not None:
                _check_sha256(path, digest, ds.sha256[FILES[key]])
    except Exception as err:  # a bad cache is only a cache miss
        log.debug("ignoring the parsed cache %s: %s", path, err)
        return None
    return arrays


def _write_cache(ds, where, fingerprint, arrays, digests):
    """Save the parsed arrays; failing to do so is logged, never raised."""
    beside, fallback = _cache_paths(ds, where)
    targets = [beside, fallback] if _dir_writable(where.directory) else [fallback]
    content = dict(arrays, version=_CACHE_VERSION, fingerprint=fingerprint)
    content["sha256"] = np.array([digests[key] for key in FILES])
    for target in targets:
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            with _atomic_write(target) as out:
                np.savez(out, **content)
            return target
        except Exception as err:  # the cache is optional
            log.debug("could not write the parsed cache %s: %s", target, err)
    return None


# --- public loaders ----------------------------------------------------------


def _raw_arrays(name, data_dir, download, mirrors, timeout, opener):
    """The four verified uint8 arrays of set *name* (from the cache if current)."""
    ds = _data_set(name)
    where = _where(ds, data_dir)
    net = _Download(
        download,
        ds.mirrors if mirrors is None else tuple(mirrors),
        timeout,
        _urlopen if opener is None else opener,
    )
    paths = _locate(ds, where, net)
    cached = _read_cache(ds, where, _fingerprint(ds, paths))
    if cached is not None:
        return cached
    arrays, digests = {}, {}
    for key in FILES:
        try:
            arrays[key], digests[key] = _read_member(ds, key, paths[key])
        except CorruptDataError as err:
            paths[key] = _repair(ds, key, paths[key], err, where, net)
            arrays[key], digests[key] = _read_member(ds, key, paths[key])
    for split in ("train", "test"):
        images, labels = arrays[f"{split}_images"], arrays[f"{split}_labels"]
        if len(images) != len(labels):
            raise CorruptDataError(
                paths[f"{split}_labels"],
                f"{len(labels)} labels for {len(images)} images in {paths[f'{split}_images']}",
            )
    _write_cache(ds, where, _fingerprint(ds, paths), arrays, digests)
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
    opener=None,
):
    """MNIST as ``(x_train, t_train), (x_test, t_test)``, with the textbook's flags.

    - ``normalize``: images as *dtype* in [0, 1] (pixel / 255); else uint8 0..255.
    - ``flatten``: images of shape (N, 784); else (N, 1, 28, 28).
    - ``one_hot_label``: labels as (N, 10) one-hot rows of *dtype*; else (N,) int64.

    N is 60000 for the training set and 10000 for the test set. Every array
    is new, writable and C-contiguous.

    ``name`` picks the set: ``"mnist"``, ``"fashion-mnist"`` or ``"kmnist"``
    (same file names and shapes). The files are looked for in *data_dir*,
    else in ``$NUMBANN_DATA/<name>``, else in ``user_cache_dir() / <name>``;
    missing ones are downloaded when *download* is true, from *mirrors*
    (default ``MIRRORS[name]``) in turn, each with *timeout* seconds per
    network operation. *opener* ``(url, timeout=...)`` returns a binary
    response to read (default: urllib's ``urlopen``). Raises
    :class:`DatasetNotFoundError` when the files are missing and cannot be
    downloaded, :class:`CorruptDataError` when a file does not verify.
    """
    dtype = np.dtype(dtype)
    if dtype not in FLOAT_DTYPES:
        raise TypeError(f"dtype must be float32 or float64, got {dtype}")
    raw = _raw_arrays(name, data_dir, download, mirrors, timeout, opener)
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
            labels = _validate.one_hot(labels, _NUM_CLASSES, dtype)
        out.append((np.require(x, requirements="CW"), np.require(labels, requirements="CW")))
    return out[0], out[1]


def download_mnist(name="mnist", *, data_dir=None, mirrors=None, timeout=30.0, opener=None):
    """Make sure the four files of set *name* are present and verified; returns their directory.

    Looks, downloads and verifies exactly as :func:`load_mnist` does (and
    writes its parsed cache), without building the output arrays: run it once
    on a machine with internet access, then copy the directory or point
    ``data_dir`` / ``NUMBANN_DATA`` at it.
    """
    ds = _data_set(name)
    _raw_arrays(name, data_dir, True, mirrors, timeout, opener)
    return _where(ds, data_dir).directory
