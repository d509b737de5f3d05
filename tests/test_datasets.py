"""numbann.datasets: IDX files, loading and caching MNIST-format sets, downloads, digits, utils.

Everything here runs on files the tests make themselves (and the shipped
digits); tests against the real MNIST files are in test_mnist.py.
"""

import dataclasses
import errno
import gzip
import hashlib
import http.client
import io
import os
import socket
import ssl
import stat
import time
import urllib.error
from importlib import resources

import numpy as np
import pytest
from datasets_support import (
    DIGITS_CSV,
    IDX_TYPES,
    Mirror,
    Unreachable,
    fake_set,
    idx_bytes,
    listing,
    set_bytes,
    write_set,
)

from numbann import datasets
from numbann.datasets import (
    CorruptDataError,
    DatasetNotFoundError,
    _registry,
    batches,
    load_digits,
    load_idx,
    load_mnist,
    one_hot,
    sample_batch,
    save_idx,
    train_test_split,
)
from numbann.datasets._idx import IDX_CODES
from numbann.datasets._registry import FILES, SETS

FASHION = "fashion-mnist"  # a set without known checksums: synthetic files pass


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path, monkeypatch):
    """Every test gets its own per-user cache and no NUMBANN_DATA."""
    cache = tmp_path / "xdg-cache"
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    monkeypatch.delenv("NUMBANN_DATA", raising=False)
    return cache / "numbann"


@pytest.fixture
def arrays():
    return fake_set(np.random.default_rng(7))


@pytest.fixture
def mirror():
    server = Mirror({})
    yield server
    server.close()


def check_same(loaded, arrays):
    (x, t), (xt, tt) = loaded
    np.testing.assert_array_equal(x.reshape(-1, 28, 28), arrays["train_images"])
    np.testing.assert_array_equal(t, arrays["train_labels"])
    np.testing.assert_array_equal(xt.reshape(-1, 28, 28), arrays["test_images"])
    np.testing.assert_array_equal(tt, arrays["test_labels"])


def raw(**kwargs):
    """load_mnist of the synthetic set as stored: uint8 (N, 1, 28, 28) images, int labels."""
    return load_mnist(False, False, False, name=FASHION, **kwargs)


# --- IDX files ---------------------------------------------------------------


@pytest.mark.parametrize("code", sorted(IDX_TYPES))
@pytest.mark.parametrize("shape", [(7,), (3, 5), (2, 3, 4)])
@pytest.mark.parametrize("gz", [False, True])
def test_load_idx_reads_every_idx_type(tmp_path, code, shape, gz):
    big = np.dtype(IDX_TYPES[code])
    rng = np.random.default_rng(code)
    want = (rng.standard_normal(shape) * 50).astype(big.newbyteorder("="))
    content = idx_bytes(want, code)
    path = tmp_path / ("f.idx.gz" if gz else "f.idx")
    path.write_bytes(gzip.compress(content) if gz else content)
    got = load_idx(path)
    np.testing.assert_array_equal(got, want)
    assert got.shape == shape
    assert got.dtype == big.newbyteorder("=") and got.dtype.isnative
    assert got.flags.c_contiguous and got.flags.writeable


def test_load_idx_tells_gzip_by_content_not_name(tmp_path):
    want = np.arange(6, dtype=np.uint8).reshape(2, 3)
    plain, packed = tmp_path / "plain.gz", tmp_path / "packed"
    plain.write_bytes(idx_bytes(want, 0x08))
    packed.write_bytes(gzip.compress(idx_bytes(want, 0x08)))
    np.testing.assert_array_equal(load_idx(plain), want)
    np.testing.assert_array_equal(load_idx(packed), want)


@pytest.mark.parametrize("dtype", ["u1", "i1", ">i2", "<i4", "f4", ">f8"])
def test_save_idx_writes_what_load_idx_and_the_format_expect(tmp_path, dtype):
    array = (np.arange(24).reshape(2, 3, 4) - 5).astype(dtype)
    save_idx(tmp_path / "a.idx", array)
    save_idx(tmp_path / "a.idx.gz", array)
    code = IDX_CODES[array.dtype.newbyteorder("=")]
    assert (tmp_path / "a.idx").read_bytes() == idx_bytes(array, code)
    assert gzip.decompress((tmp_path / "a.idx.gz").read_bytes()) == idx_bytes(array, code)
    np.testing.assert_array_equal(load_idx(tmp_path / "a.idx.gz"), array)


def test_save_idx_refuses_types_idx_cannot_hold(tmp_path):
    with pytest.raises(TypeError, match="IDX cannot store dtype int64"):
        save_idx(tmp_path / "x.idx", np.arange(3))
    with pytest.raises(ValueError, match="1 to 255 dimensions"):
        save_idx(tmp_path / "x.idx", np.uint8(3))


GOOD = idx_bytes(np.arange(12, dtype=np.uint8).reshape(3, 4), 0x08)
BAD_IDX = {
    "truncated gzip": (gzip.compress(GOOD)[:-12], "not a valid gzip file"),
    "garbage after gzip magic": (b"\x1f\x8b" + b"\x00" * 40, "not a valid gzip file"),
    "wrong magic": (b"\x12\x34" + GOOD[2:], "bad IDX magic number 0x12340802"),
    "unknown type code": (b"\0\0\x0a\x02" + GOOD[4:], "bad IDX magic number 0x00000A02"),
    "no dimensions": (b"\0\0\x08\x00", "bad IDX magic number 0x00000800"),
    "empty file": (b"", "bad IDX magic number"),
    "truncated header": (GOOD[:10], "truncated IDX header"),
    "truncated data": (
        GOOD[:-1],
        r"wrong size \(truncated\).*needs 12 data bytes, the file has 11",
    ),
    "trailing bytes": (GOOD + b"\0", r"wrong size \(trailing bytes.*the file has 13"),
    "wrong dimensions": (
        b"\0\0\x08\x02" + (3).to_bytes(4, "big") + (5).to_bytes(4, "big") + GOOD[12:],
        "needs 15 data bytes",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_IDX))
def test_load_idx_rejects_broken_files_naming_them(tmp_path, case):
    content, message = BAD_IDX[case]
    path = tmp_path / "broken-idx1-ubyte.gz"
    path.write_bytes(content)
    with pytest.raises(CorruptDataError, match=message) as info:
        load_idx(path)
    assert str(path) in str(info.value)
    assert info.value.path == path


def test_load_idx_checks_a_given_sha256(tmp_path):
    path = tmp_path / "a.idx.gz"
    path.write_bytes(gzip.compress(GOOD))
    good = hashlib.sha256(GOOD).hexdigest()
    assert load_idx(path, sha256=good.upper()).shape == (3, 4)
    with pytest.raises(CorruptDataError, match=f"checksum mismatch.*expected {'0' * 64}"):
        load_idx(path, sha256="0" * 64)


# --- loading an MNIST-format set from a directory ------------------------------


@pytest.mark.parametrize("gz", [True, False])
def test_load_mnist_reads_a_set_from_data_dir(tmp_path, arrays, gz):
    write_set(tmp_path / "set", arrays, gz=gz)
    (x, t), (xt, tt) = load_mnist(name=FASHION, data_dir=tmp_path / "set")
    assert x.shape == (12, 784) and xt.shape == (5, 784) and x.dtype == np.float32
    np.testing.assert_array_equal(x, arrays["train_images"].reshape(12, -1) / np.float32(255))
    assert t.dtype == np.int64 and tt.dtype == np.int64
    np.testing.assert_array_equal(tt, arrays["test_labels"])
    check_same(raw(data_dir=tmp_path / "set"), arrays)


def test_load_mnist_looks_in_numbann_data_then_the_user_cache(
    tmp_path, arrays, monkeypatch, isolated_cache
):
    write_set(isolated_cache / FASHION, arrays)
    other = fake_set(np.random.default_rng(99))
    write_set(tmp_path / "root" / FASHION, other)
    check_same(raw(download=False), arrays)
    monkeypatch.setenv("NUMBANN_DATA", str(tmp_path / "root"))
    (_, t), _ = raw(download=False)
    np.testing.assert_array_equal(t, other["train_labels"])
    (_, t), _ = raw(download=False, data_dir=isolated_cache / FASHION)
    np.testing.assert_array_equal(t, arrays["train_labels"])


def test_user_cache_dir_follows_xdg_cache_home(isolated_cache, monkeypatch):
    assert datasets.user_cache_dir() == isolated_cache
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert datasets.user_cache_dir().name == "numbann"
    assert datasets.user_cache_dir() != isolated_cache


def test_load_mnist_refuses_unknown_names_and_dtypes(tmp_path):
    with pytest.raises(ValueError, match="name must be one of"):
        load_mnist(name="cifar10", data_dir=tmp_path)
    with pytest.raises(TypeError, match="dtype must be float32 or float64"):
        load_mnist(data_dir=tmp_path, dtype=np.int32)


def test_offline_error_lists_files_place_and_remedies(tmp_path, arrays):
    paths = write_set(tmp_path / "set", arrays)
    paths["test_images"].unlink()
    with pytest.raises(DatasetNotFoundError) as info:
        raw(data_dir=tmp_path / "set", download=False)
    message = str(info.value)
    assert "download=False" in message
    assert str(tmp_path / "set") in message and "the data_dir argument" in message
    assert "t10k-images-idx3-ubyte.gz (or uncompressed t10k-images-idx3-ubyte): missing" in message
    assert "train-images-idx3-ubyte.gz (or uncompressed train-images-idx3-ubyte): found" in message
    assert "data_dir=" in message and "NUMBANN_DATA" in message
    assert datasets.MIRRORS[FASHION][0] in message


ROLES = ["train_images", "train_labels", "test_images", "test_labels"]


def corrupt(path, how, arrays, key):
    """Damage the file *path* (role *key*) in one of several ways."""
    content = gzip.decompress(path.read_bytes())
    if how == "truncated gzip":
        path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])
    elif how == "wrong magic":
        path.write_bytes(gzip.compress(b"\0\0\x08\x07" + content[4:]))
    elif how == "wrong size":
        path.write_bytes(gzip.compress(content[:-3]))
    elif how == "wrong kind":  # labels where images belong and the other way round
        other = "train_labels" if key.endswith("images") else "train_images"
        path.write_bytes(gzip.compress(idx_bytes(arrays[other], 0x08)))


@pytest.mark.parametrize("how", ["truncated gzip", "wrong magic", "wrong size", "wrong kind"])
@pytest.mark.parametrize("key", ROLES)
def test_a_corrupt_file_in_data_dir_is_reported_and_left_alone(tmp_path, arrays, how, key):
    paths = write_set(tmp_path / "set", arrays)
    corrupt(paths[key], how, arrays, key)
    before = paths[key].read_bytes()
    with pytest.raises(CorruptDataError) as info:
        raw(data_dir=tmp_path / "set")
    assert str(paths[key]) in str(info.value)
    assert "does not modify files in a directory you chose" in str(info.value)
    assert paths[key].read_bytes() == before
    assert sorted(p.name for p in (tmp_path / "set").iterdir()) == sorted(
        p.name for p in paths.values()
    )


def test_labels_out_of_range_and_count_mismatch_are_reported(tmp_path, arrays):
    bad = dict(arrays, test_labels=np.full(5, 10, np.uint8))
    write_set(tmp_path / "a", bad)
    with pytest.raises(CorruptDataError, match="t10k-labels.*label 10 is out of range"):
        raw(data_dir=tmp_path / "a")
    short = dict(arrays, train_labels=arrays["train_labels"][:-1])
    write_set(tmp_path / "b", short)
    with pytest.raises(CorruptDataError, match="train-labels.*11 labels for 12 images"):
        raw(data_dir=tmp_path / "b")


def test_mnist_files_must_match_the_known_checksums(tmp_path, arrays):
    paths = write_set(tmp_path / "set", arrays)
    with pytest.raises(CorruptDataError, match="checksum mismatch") as info:
        load_mnist(data_dir=tmp_path / "set")
    assert str(paths["train_images"]) in str(info.value)
    assert "for MNIST train-images-idx3-ubyte.gz" in str(info.value)


# --- the parsed cache ------------------------------------------------------------


def cache_beside(directory, name=FASHION):
    return directory / f"numbann-{name}-cache.npz"


def test_the_parsed_cache_is_an_npz_without_pickles_and_is_used(tmp_path, arrays, monkeypatch):
    write_set(tmp_path / "set", arrays)
    first = raw(data_dir=tmp_path / "set")
    npz = cache_beside(tmp_path / "set")
    assert npz.is_file()
    with np.load(npz, allow_pickle=False) as z:
        assert {"train_images", "train_labels", "test_images", "test_labels", "sha256"} <= set(
            z.files
        )
        assert all(z[k].dtype != object for k in z.files)
        np.testing.assert_array_equal(z["train_images"], arrays["train_images"])

    def no_parsing(*args):
        raise AssertionError("the source files were parsed although the cache is current")

    monkeypatch.setattr(_registry, "read_member", no_parsing)
    second = raw(data_dir=tmp_path / "set")
    for a, b in zip(first[0] + first[1], second[0] + second[1], strict=True):
        np.testing.assert_array_equal(a, b)
        assert b.flags.writeable and b.flags.c_contiguous


def test_the_cache_follows_changes_of_the_source_files(tmp_path, arrays):
    paths = write_set(tmp_path / "set", arrays)
    raw(data_dir=tmp_path / "set")
    new_labels = (arrays["test_labels"] + 1) % 10
    paths["test_labels"].write_bytes(gzip.compress(idx_bytes(new_labels, 0x08)))
    st = paths["test_labels"].stat()
    os.utime(paths["test_labels"], ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    _, (_, tt) = raw(data_dir=tmp_path / "set")
    np.testing.assert_array_equal(tt, new_labels)


@pytest.mark.parametrize("damage", ["garbage", "tampered arrays"])
def test_a_damaged_cache_is_ignored_and_rewritten(tmp_path, arrays, damage):
    write_set(tmp_path / "set", arrays)
    raw(data_dir=tmp_path / "set")
    npz = cache_beside(tmp_path / "set")
    if damage == "garbage":
        npz.write_bytes(b"PK\x03\x04 not really a zip")
    else:  # same fingerprint and checksums, other pixels: the checksum catches it
        with np.load(npz, allow_pickle=False) as z:
            content = {k: z[k] for k in z.files}
        content["train_images"] = 255 - content["train_images"]
        np.savez(npz, **content)
    (x, _), _ = raw(data_dir=tmp_path / "set")
    np.testing.assert_array_equal(x[:, 0], arrays["train_images"])
    with np.load(npz, allow_pickle=False) as z:
        np.testing.assert_array_equal(z["train_images"], arrays["train_images"])


@pytest.fixture
def read_only(tmp_path):
    made = []

    def make(directory):
        directory.chmod(stat.S_IRUSR | stat.S_IXUSR | stat.S_IRGRP | stat.S_IXGRP)
        made.append(directory)
        return directory

    yield make
    for directory in made:
        directory.chmod(0o755)


def test_a_read_only_data_dir_gets_its_cache_in_the_user_cache(
    tmp_path, arrays, isolated_cache, read_only
):
    write_set(tmp_path / "set", arrays)
    read_only(tmp_path / "set")
    raw(data_dir=tmp_path / "set")
    assert not cache_beside(tmp_path / "set").exists()
    cached = listing(isolated_cache)
    assert (
        len(cached) == 1
        and cached[0].startswith(f"parsed/{FASHION}-")
        and cached[0].endswith(".npz")
    )
    (_, t), _ = raw(data_dir=tmp_path / "set")
    np.testing.assert_array_equal(t, arrays["train_labels"])


def test_failing_to_write_the_cache_never_fails_a_load(tmp_path, arrays, monkeypatch, read_only):
    write_set(tmp_path / "set", arrays)
    read_only(tmp_path / "set")
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("the user cache cannot be created below a file")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    for _ in range(2):
        check_same(raw(data_dir=tmp_path / "set"), arrays)
    assert listing(tmp_path / "set") == sorted(FILES.values())


# --- downloads ---------------------------------------------------------------------


def test_a_download_that_fails_halfway_leaves_nothing_behind(arrays, mirror, isolated_cache):
    mirror.files = set_bytes(arrays)
    mirror.modes["train-images-idx3-ubyte.gz"] = "half"
    with pytest.raises(DatasetNotFoundError) as info:
        raw(mirrors=[mirror.url])
    message = str(info.value)
    assert f"{mirror.url}train-images-idx3-ubyte.gz: the connection ended after" in message
    assert "the per-user cache directory" in message
    assert listing(isolated_cache) == []


def test_each_mirror_is_tried_in_turn_with_a_timeout(arrays, mirror, isolated_cache, monkeypatch):
    good = Mirror(set_bytes(arrays))
    try:
        mirror.files = set_bytes(arrays)
        mirror.modes = {"train-images-idx3-ubyte.gz": "slow", "train-labels-idx1-ubyte.gz": "half"}
        mirror.modes["t10k-images-idx3-ubyte.gz"] = "missing"
        mirror.files["t10k-labels-idx1-ubyte.gz"] = b"\x1f\x8b this is no gzip"
        ds = dataclasses.replace(SETS[FASHION], gz_md5=None)
        monkeypatch.setitem(SETS, FASHION, ds)
        loaded = raw(mirrors=[mirror.url, "unknown-scheme://nowhere/", good.url], timeout=0.3)
        check_same(loaded, arrays)
        assert mirror.requests == list(FILES.values())
        assert good.requests == list(FILES.values())
        assert listing(isolated_cache / FASHION) == sorted(
            [*FILES.values(), f"numbann-{FASHION}-cache.npz"]
        )
    finally:
        good.close()


def test_a_successful_download_lands_verified_files(arrays, mirror, isolated_cache, monkeypatch):
    served = set_bytes(arrays)
    mirror.files = served
    # Fashion-MNIST downloads are checked against the published .gz md5: use ours
    md5 = {name: hashlib.md5(data).hexdigest() for name, data in served.items()}
    monkeypatch.setitem(SETS, FASHION, dataclasses.replace(SETS[FASHION], gz_md5=md5))
    directory = datasets.download_mnist(FASHION, mirrors=[mirror.url])
    assert directory == isolated_cache / FASHION
    for name, data in served.items():
        assert (directory / name).read_bytes() == data
    check_same(raw(download=False), arrays)


def test_a_download_with_the_wrong_md5_is_rejected(arrays, mirror, isolated_cache):
    mirror.files = set_bytes(arrays)  # not the published Fashion-MNIST files
    with pytest.raises(
        DatasetNotFoundError, match="md5 [0-9a-f]{32} differs from the published one"
    ):
        raw(mirrors=[mirror.url])
    assert listing(isolated_cache) == []


class Response(io.BytesIO):
    """A fake HTTP response that raises *error* after *limit* bytes."""

    def __init__(self, data, limit, error):
        super().__init__(data)
        self.limit, self.error = limit, error

    def read(self, size=-1):
        if self.tell() >= self.limit:
            raise self.error
        return super().read(min(size if size >= 0 else self.limit, self.limit - self.tell()))


@pytest.mark.parametrize("error", [ConnectionResetError("reset by peer"), KeyboardInterrupt()])
def test_an_interrupted_download_through_a_patched_opener_leaves_nothing(
    arrays, isolated_cache, error
):
    served = set_bytes(arrays)
    calls = []

    def opener(url, timeout):
        calls.append((url, timeout))
        return Response(served[url.rsplit("/", 1)[1]], 100, error)

    expected = KeyboardInterrupt if isinstance(error, KeyboardInterrupt) else DatasetNotFoundError
    with pytest.raises(expected):
        raw(mirrors=["https://a.example/", "https://b.example/x/"], opener=opener, timeout=7)
    want = [
        "https://a.example/train-images-idx3-ubyte.gz",
        "https://b.example/x/train-images-idx3-ubyte.gz",
    ]
    assert calls == [(url, 7) for url in want[: len(calls)]] and calls
    assert listing(isolated_cache) == []


def test_a_corrupt_file_in_the_cache_is_set_aside_and_downloaded_again(
    arrays, mirror, isolated_cache, monkeypatch
):
    served = set_bytes(arrays)
    mirror.files = served
    monkeypatch.setitem(SETS, FASHION, dataclasses.replace(SETS[FASHION], gz_md5=None))
    paths = write_set(isolated_cache / FASHION, arrays)
    corrupt(paths["test_labels"], "truncated gzip", arrays, "test_labels")
    broken = paths["test_labels"].read_bytes()
    check_same(raw(mirrors=[mirror.url]), arrays)
    assert mirror.requests == ["t10k-labels-idx1-ubyte.gz"]
    assert paths["test_labels"].read_bytes() == served["t10k-labels-idx1-ubyte.gz"]
    aside = paths["test_labels"].with_name("t10k-labels-idx1-ubyte.gz.corrupt")
    assert aside.read_bytes() == broken


def test_a_corrupt_cached_file_without_download_is_set_aside_and_reported(arrays, isolated_cache):
    paths = write_set(isolated_cache / FASHION, arrays)
    corrupt(paths["train_labels"], "wrong size", arrays, "train_labels")
    with pytest.raises(CorruptDataError, match="wrong size.*moved it to .*corrupt.*download=True"):
        raw(download=False)
    assert not paths["train_labels"].exists()
    with pytest.raises(DatasetNotFoundError, match="train-labels-idx1-ubyte.*: missing"):
        raw(download=False)


def test_no_download_into_a_read_only_directory(tmp_path, arrays, read_only):
    paths = write_set(tmp_path / "set", arrays)
    paths["train_labels"].unlink()
    read_only(tmp_path / "set")
    with pytest.raises(
        DatasetNotFoundError, match="is read-only, so train-labels-idx1-ubyte.gz cannot"
    ):
        raw(data_dir=tmp_path / "set", mirrors=["http://127.0.0.1:9/"])


# --- offline and unreachable mirrors: reasons in plain words, failing fast ---------------


@pytest.fixture
def unreachable():
    made = []

    def make(how):
        server = Unreachable(how)
        made.append(server)
        return server

    yield make
    for server in made:
        server.close()


def test_unreachable_mirrors_fail_fast_naming_each_reason(unreachable, isolated_cache, capsys):
    servers = [unreachable(how) for how in ("refuse", "reset", "stall", "stall-connect")]
    start = time.perf_counter()
    with pytest.raises(DatasetNotFoundError) as info:
        raw(mirrors=[s.url for s in servers], connect_timeout=0.5, timeout=30)
    elapsed = time.perf_counter() - start
    # one connect timeout for each of the two stalling mirrors, not 30 s, and only one file
    assert elapsed < 2 * 0.5 + 3.0
    err = info.value
    file = "train-images-idx3-ubyte.gz"
    assert err.problem == f"no mirror could be reached to download {file}"
    assert [f.url for f in err.failures] == [s.url + file for s in servers]
    assert [f.reason for f in err.failures] == [
        "connection refused", "connection reset", "timed out (no answer within 0.5 s)",
        "timed out (no answer within 0.5 s)"]
    assert all(f.unreachable for f in err.failures)
    assert [s.connections for s in servers[1:3]] == [1, 1]  # the other three files: not tried
    for failure in err.failures:
        assert f"  {failure.url}: {failure.reason}\n" in str(err)
    assert (err.name, err.title, err.source) == (FASHION, "Fashion-MNIST", "cache")
    assert err.directory == isolated_cache / FASHION and err.missing == tuple(FILES.values())
    assert "load_digits()" in str(err)  # the data that needs no download
    progress = capsys.readouterr().err.splitlines()
    assert progress == [f"numbann: downloading {s.url}{file} (giving up after 0.5 s without an "
                        "answer)" for s in servers]
    assert listing(isolated_cache) == []


def test_answer_and_read_timeouts_are_separate(arrays, mirror, isolated_cache, monkeypatch):
    mirror.files = set_bytes(arrays)
    mirror.delay = 0.6
    file = "train-images-idx3-ubyte.gz"
    mirror.modes[file] = "late"  # the answer comes after 0.6 s
    with pytest.raises(DatasetNotFoundError) as info:
        raw(mirrors=[mirror.url], connect_timeout=0.2, timeout=5)
    assert info.value.failures[0].reason == "timed out (no answer within 0.2 s)"
    assert info.value.failures[0].unreachable
    mirror.modes[file] = "pause"  # 0.6 s of silence in the middle of the file
    with pytest.raises(DatasetNotFoundError) as info:
        raw(mirrors=[mirror.url], connect_timeout=5, timeout=0.2)
    assert info.value.failures[0].reason == "timed out (no data for 0.2 s)"
    assert not info.value.failures[0].unreachable  # it answered: a bad moment, not no route
    monkeypatch.setitem(SETS, FASHION, dataclasses.replace(SETS[FASHION], gz_md5=None))
    for mode in ("late", "pause"):  # within each timeout, both downloads succeed
        mirror.modes = {file: mode}
        check_same(raw(mirrors=[mirror.url], connect_timeout=2, timeout=2), arrays)
        (isolated_cache / FASHION / file).unlink()


def test_the_built_in_client_speaks_tls_to_https_mirrors(mirror, tmp_path):
    # a plain HTTP server behind an https:// URL: the TLS handshake fails, and says so
    with pytest.raises(DatasetNotFoundError) as info:
        raw(data_dir=tmp_path, mirrors=[mirror.url.replace("http:", "https:")])
    assert info.value.failures[0].reason.startswith("TLS error (")
    assert info.value.failures[0].unreachable


class Opener:
    """Plays mirrors by host: raises an error for some (URL, file), serves the fake set."""

    def __init__(self, files, errors):
        self.files, self.errors, self.calls = files, errors, []

    def __call__(self, url, timeout):
        self.calls.append(url)
        host, name = url.split("/")[2], url.rsplit("/", 1)[1]
        error = self.errors.get((host, name), self.errors.get(host))
        if error is not None:
            raise error
        return io.BytesIO(self.files[name])


def http_error(code, reason):
    return urllib.error.HTTPError("https://x/", code, reason, {}, None)


@pytest.mark.parametrize(("error", "reason"), [
    (urllib.error.URLError(socket.gaierror(-2, "Name or service not known")),
     "no network or DNS (cannot look up {host})"),
    (urllib.error.URLError(socket.gaierror(-3, "Temporary failure in name resolution")),
     "no network or DNS (cannot look up {host})"),
    (urllib.error.URLError(OSError(errno.ENETUNREACH, "Network is unreachable")),
     "no route to {host} (network unreachable)"),
    (urllib.error.URLError(ConnectionRefusedError(errno.ECONNREFUSED, "refused")),
     "connection refused"),
    (urllib.error.URLError(TimeoutError("timed out")), "timed out (no answer within 7 s)"),
    (ConnectionResetError(errno.ECONNRESET, "Connection reset by peer"), "connection reset"),
    (http.client.RemoteDisconnected("closed"),
     "the server closed the connection without an answer"),
    (urllib.error.URLError(ssl.SSLCertVerificationError(1, "certificate verify failed")),
     "TLS certificate not trusted"),
    (urllib.error.URLError("unknown url type: ftpx"), "not a URL numbann can open"),
])
def test_network_failures_in_plain_words(arrays, isolated_cache, error, reason):
    opener = Opener(set_bytes(arrays), {"a.example": error, "b.example": error})
    with pytest.raises(DatasetNotFoundError) as info:
        raw(mirrors=["https://a.example/", "https://b.example/"], opener=opener, timeout=7)
    err = info.value
    for failure, host in zip(err.failures, ("a.example", "b.example"), strict=True):
        assert failure.reason.startswith(reason.format(host=host)), failure
    assert all(f.unreachable for f in err.failures)
    assert err.problem == "no mirror could be reached to download train-images-idx3-ubyte.gz"
    assert len(opener.calls) == 2  # the first file on both mirrors, nothing more


def test_answers_that_are_not_the_file_in_plain_words(arrays, isolated_cache):
    opener = Opener(set_bytes(arrays), {"a.example": http_error(403, "Forbidden"),
                                        "b.example": http_error(404, "Not Found")})
    served = set_bytes(arrays)
    served["train-images-idx3-ubyte.gz"] = gzip.compress(b"\0\0\x08\x03" + b"\0" * 12)
    opener_c = Opener(served, {})
    mirrors = ["https://a.example/", "https://b.example/", "https://c.example/"]
    with pytest.raises(DatasetNotFoundError) as info:
        raw(mirrors=mirrors,
            opener=lambda url, timeout: (opener_c if "c.example" in url else opener)(url, timeout))
    err = info.value
    assert err.problem == "downloading train-images-idx3-ubyte.gz failed on every mirror"
    assert [f.reason for f in err.failures] == ["HTTP 403 Forbidden", "HTTP 404 Not Found",
                                                "checksum mismatch"]
    assert not any(f.unreachable for f in err.failures)
    assert "md5" in err.failures[2].detail and err.failures[2].detail in str(err)


def test_an_unreachable_mirror_is_not_asked_again_for_the_other_files(arrays, isolated_cache,
                                                                     monkeypatch):
    monkeypatch.setitem(SETS, FASHION, dataclasses.replace(SETS[FASHION], gz_md5=None))
    refused = urllib.error.URLError(ConnectionRefusedError(errno.ECONNREFUSED, "refused"))
    opener = Opener(set_bytes(arrays), {"a.example": refused})
    check_same(raw(mirrors=["https://a.example/", "https://b.example/"], opener=opener),
               arrays)
    assert [url.split("/")[2] for url in opener.calls] == ["a.example"] + ["b.example"] * 4
    # when a later file fails too, the message still names the mirror skipped and why
    for path in (isolated_cache / FASHION).iterdir():
        path.unlink()
    opener = Opener(set_bytes(arrays), {"a.example": refused, ("b.example", FILES[
        "test_images"]): http_error(404, "Not Found")})
    with pytest.raises(DatasetNotFoundError) as info:
        raw(mirrors=["https://a.example/", "https://b.example/"], opener=opener)
    assert [f.reason for f in info.value.failures] == [
        "connection refused (for an earlier file; not tried again)", "HTTP 404 Not Found"]
    assert info.value.missing == (FILES["test_images"], FILES["test_labels"])


@pytest.mark.parametrize("bad", [0, -1, float("nan"), float("inf"), "5", True])
def test_timeouts_must_be_positive_numbers(tmp_path, bad):
    for name in ("timeout", "connect_timeout"):
        with pytest.raises(ValueError, match=f"{name} must be a positive number of seconds"):
            raw(data_dir=tmp_path, **{name: bad})


# --- where the files are: one rule for data_dir ---------------------------------------


def test_data_dir_may_be_the_files_directory_or_a_root_of_sets(tmp_path, arrays):
    write_set(tmp_path / "root" / FASHION, arrays)
    check_same(raw(data_dir=tmp_path / "root", download=False), arrays)
    check_same(raw(data_dir=tmp_path / "root" / FASHION, download=False), arrays)
    # a directory that holds any of the files is the files' directory, even with a subdirectory
    write_set(tmp_path / "root", fake_set(np.random.default_rng(1)))
    (tmp_path / "root" / FILES["test_labels"]).unlink()
    with pytest.raises(DatasetNotFoundError) as info:
        raw(data_dir=tmp_path / "root", download=False)
    assert info.value.directory == tmp_path / "root" and info.value.source == "data_dir"
    assert info.value.missing == (FILES["test_labels"],)


def test_download_mnist_into_a_root_uses_the_set_directory(arrays, mirror, tmp_path,
                                                           monkeypatch):
    monkeypatch.setitem(SETS, FASHION, dataclasses.replace(SETS[FASHION], gz_md5=None))
    mirror.files = set_bytes(arrays)
    (tmp_path / FASHION).mkdir()
    directory = datasets.download_mnist(FASHION, data_dir=tmp_path, mirrors=[mirror.url])
    assert directory == tmp_path / FASHION
    assert sorted(FILES.values()) == [p for p in listing(directory) if p.endswith(".gz")]


# --- the shipped 8x8 digits -------------------------------------------------------

DIGIT_COUNTS = [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]


def test_load_digits_shape_dtype_range_and_labels():
    x, t = load_digits()
    assert x.shape == (1797, 64) and x.dtype == np.float32
    assert t.shape == (1797,) and t.dtype == np.int64
    assert x.min() == 0 and x.max() == 16 and np.all(x == np.round(x))
    assert np.bincount(t).tolist() == DIGIT_COUNTS
    assert t[:10].tolist() == [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]
    assert x.flags.writeable and x.flags.c_contiguous and t.flags.writeable


def test_load_digits_flags():
    x, t = load_digits()
    xn, th = load_digits(normalize=True, one_hot_label=True, dtype=np.float64)
    assert xn.dtype == np.float64 and xn.max() == 1.0
    np.testing.assert_array_equal(xn, x.astype(np.float64) / 16)
    assert th.shape == (1797, 10) and th.dtype == np.float64
    np.testing.assert_array_equal(th.argmax(axis=1), t)
    assert np.all(th.sum(axis=1) == 1)
    x[0, 0] = 99  # a caller's copy: the next call is unaffected
    assert load_digits()[0][0, 0] == 0
    with pytest.raises(TypeError, match="dtype must be float32 or float64"):
        load_digits(dtype=np.uint8)


def test_load_digits_equals_the_shared_csv():
    if not DIGITS_CSV.exists():
        pytest.skip(f"the shared digits are not in {DIGITS_CSV}")
    table = np.loadtxt(gzip.open(DIGITS_CSV), delimiter=",", dtype=np.int64)
    x, t = load_digits(dtype=np.float64)
    np.testing.assert_array_equal(x, table[:, :64])
    np.testing.assert_array_equal(t, table[:, 64])


def test_the_digits_ship_with_their_attribution():
    data = resources.files("numbann.datasets").joinpath("data")
    text = data.joinpath("LICENSE-digits.txt").read_text(encoding="utf-8")
    assert "Alpaydin" in text and "Kaynak" in text and "CC BY 4.0" in text
    assert data.joinpath("digits.csv.gz").is_file()


# --- utils ---------------------------------------------------------------------------


def numbered(n):
    """x whose rows and t whose labels name the sample index, to check pairing."""
    x = np.arange(n * 3, dtype=np.float32).reshape(n, 3)
    return x, np.arange(n) * 10


@pytest.mark.parametrize(("test_size", "n_test"), [(0.25, 3), (0.5, 5), (0.01, 1), (4, 4), (9, 9)])
def test_train_test_split_sizes_follow_scikit_learn(test_size, n_test):
    x, t = numbered(10)
    x_train, x_test, t_train, t_test = train_test_split(x, t, test_size, seed=0)
    assert len(x_test) == len(t_test) == n_test and len(x_train) == len(t_train) == 10 - n_test
    np.testing.assert_array_equal(x_train[:, 0] / 3 * 10, t_train)
    np.testing.assert_array_equal(x_test[:, 0] / 3 * 10, t_test)
    assert sorted(np.concatenate([t_train, t_test]).tolist()) == t.tolist()


def test_train_test_split_shuffle_and_seed():
    x, t = numbered(40)
    a = train_test_split(x, t, seed=3)
    b = train_test_split(x, t, seed=np.random.default_rng(3))
    c = train_test_split(x, t, seed=4)
    for u, v in zip(a, b, strict=True):
        np.testing.assert_array_equal(u, v)
    assert not np.array_equal(a[3], c[3])
    assert not np.array_equal(a[2], np.sort(a[2]))  # shuffled
    x_train, x_test, t_train, t_test = train_test_split(x, t, 0.25, shuffle=False)
    np.testing.assert_array_equal(t_train, t[:30])
    np.testing.assert_array_equal(t_test, t[30:])
    x_train[0, 0] = -1
    assert x[0, 0] == 0  # new arrays


@pytest.mark.parametrize("test_size", [0, 0.0, 1.0, 1.5, -0.1, 10, -1, True, "0.2", None, 0.999])
def test_train_test_split_rejects_bad_test_sizes(test_size):
    x, t = numbered(10)
    with pytest.raises(ValueError, match="test_size"):
        train_test_split(x, t, test_size)


def test_utils_reject_unpaired_data_and_bad_seeds():
    x, t = numbered(10)
    for call in (
        lambda: train_test_split(x, t[:-1]),
        lambda: batches(x[:3], t, 2),
        lambda: sample_batch(x, t[:9], 2, 0),
    ):
        with pytest.raises(ValueError, match="same number of samples, got"):
            call()
    with pytest.raises(ValueError, match="at least 1-D"):
        train_test_split(np.float32(1), t)
    for seed in (1.5, -3, True, "abc"):
        with pytest.raises(ValueError, match="seed must be"):
            train_test_split(x, t, seed=seed)


def test_one_hot_builds_rows_and_validates():
    got = one_hot([2, 0, 1], 4)
    np.testing.assert_array_equal(got, [[0, 0, 1, 0], [1, 0, 0, 0], [0, 1, 0, 0]])
    assert got.dtype == np.float32
    assert one_hot(np.array([1.0, 0.0]), 2, dtype=np.float64).dtype == np.float64
    with pytest.raises(ValueError, match="label 4 out of range"):
        one_hot([0, 4], 4)
    with pytest.raises(ValueError, match="label -1 out of range"):
        one_hot([0, -1], 4)
    with pytest.raises(ValueError, match="non-integer"):
        one_hot([0.5], 4)
    with pytest.raises(ValueError, match="1-D"):
        one_hot([[0, 1]], 4)
    with pytest.raises(ValueError, match="num_classes must be a positive integer"):
        one_hot([0], 0)


@pytest.mark.parametrize("shuffle", [True, False])
@pytest.mark.parametrize(("drop_last", "sizes"), [(False, [4, 4, 2]), (True, [4, 4])])
def test_batches_cover_the_data_once(shuffle, drop_last, sizes):
    x, t = numbered(10)
    got = list(batches(x, t, 4, shuffle=shuffle, seed=1, drop_last=drop_last))
    assert [len(xb) for xb, _ in got] == [len(tb) for _, tb in got] == sizes
    for xb, tb in got:
        np.testing.assert_array_equal(xb[:, 0] / 3 * 10, tb)
    seen = np.concatenate([tb for _, tb in got]) // 10
    if shuffle:
        assert len(set(seen.tolist())) == sum(sizes)
        assert not np.array_equal(seen, np.sort(seen)) or drop_last
    else:
        np.testing.assert_array_equal(seen, np.arange(sum(sizes)))


def test_batches_are_reproducible_and_validate_at_the_call():
    x, t = numbered(20)
    a = [tb for _, tb in batches(x, t, 6, seed=5)]
    b = [tb for _, tb in batches(x, t, 6, seed=5)]
    c = [tb for _, tb in batches(x, t, 6, seed=6)]
    assert all(np.array_equal(u, v) for u, v in zip(a, b, strict=True))
    assert not all(np.array_equal(u, v) for u, v in zip(a, c, strict=True))
    assert [len(tb) for tb in a] == [6, 6, 6, 2]
    for size in (0, -2, 2.0, None):
        with pytest.raises(ValueError, match="batch_size must be a positive integer"):
            batches(x, t, size)  # raised before iterating


def test_sample_batch_is_the_textbooks_random_choice():
    x, t = numbered(50)
    xb, tb = sample_batch(x, t, 10, np.random.default_rng(0))
    np.testing.assert_array_equal(tb, np.random.default_rng(0).choice(50, 10) * 10)
    np.testing.assert_array_equal(xb[:, 0] / 3 * 10, tb)
    np.random.seed(1)  # noqa: NPY002 - the textbook draws from the np.random module
    _, tb_module = sample_batch(x, t, 10, np.random)
    np.testing.assert_array_equal(tb_module, np.random.RandomState(1).choice(50, 10) * 10)
    _, tb_seed = sample_batch(x, t, 10, 0)
    np.testing.assert_array_equal(tb_seed, tb)
    _, tb_many = sample_batch(x[:3], t[:3], 30, np.random.default_rng(2))  # with replacement
    assert len(tb_many) == 30 and set(tb_many.tolist()) <= {0, 10, 20}
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        sample_batch(x, t, 0, 0)
    with pytest.raises(ValueError, match="empty data set"):
        sample_batch(x[:0], t[:0], 1, 0)
    with pytest.raises(TypeError, match="rng must be"):
        sample_batch(x, t, 1, "rng")
