"""load_mnist against the real MNIST files in ../shared/data/mnist (skipped if they are absent).

The shared directory is read-only: the parsed cache goes to a per-user cache
in a temporary directory (shared by the tests here, so that only the first
load parses), and every test checks that nothing was written beside the data.
"""

import gzip
import hashlib
import os
import re
import shutil
import time

import numpy as np
import pytest
from datasets_support import MNIST_DIR, SHARED_DATA, Mirror, listing

from numbann.datasets import CorruptDataError, load_idx, load_mnist
from numbann.datasets._idx import idx_sha256
from numbann.datasets._registry import FILES, SETS

pytestmark = pytest.mark.skipif(
    not all((MNIST_DIR / name).is_file() for name in FILES.values()),
    reason=f"the MNIST files are not in {MNIST_DIR}",
)

SHAPES = {
    "train_images": (60000, 28, 28),
    "train_labels": (60000,),
    "test_images": (10000, 28, 28),
    "test_labels": (10000,),
}
TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


@pytest.fixture(scope="module")
def module_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("mnist-user-cache")


@pytest.fixture(autouse=True)
def cache_and_untouched_shared_data(module_cache, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(module_cache))
    monkeypatch.delenv("NUMBANN_DATA", raising=False)
    before = {p.name: p.stat().st_mtime_ns for p in MNIST_DIR.iterdir()}
    yield
    assert {p.name: p.stat().st_mtime_ns for p in MNIST_DIR.iterdir()} == before


def readme_sha256():
    """{file name: sha256 of the decompressed content}, from the table in the README."""
    text = (MNIST_DIR / "README.md").read_text(encoding="utf-8")
    return dict(re.findall(r"^\| (\S+\.gz) \|[^|\n]*\| ([0-9a-f]{64}) \|$", text, re.M))


def test_the_known_checksums_are_the_readmes():
    assert SETS["mnist"].sha256 == readme_sha256()
    assert len(readme_sha256()) == 4


@pytest.mark.parametrize("key", list(FILES))
def test_each_file_verifies_and_has_the_standard_shape(key):
    name = FILES[key]
    want = readme_sha256()[name]
    array = load_idx(MNIST_DIR / name, sha256=want)
    assert array.shape == SHAPES[key] and array.dtype == np.uint8
    assert hashlib.sha256(gzip.decompress((MNIST_DIR / name).read_bytes())).hexdigest() == want
    assert idx_sha256(array) == want  # what the parsed cache checks


@pytest.mark.parametrize("normalize", [True, False])
@pytest.mark.parametrize("flatten", [True, False])
@pytest.mark.parametrize("one_hot_label", [True, False])
def test_every_flag_combination(normalize, flatten, one_hot_label):
    (x, t), (xt, tt) = load_mnist(normalize, flatten, one_hot_label, data_dir=MNIST_DIR)
    for images, labels, n in ((x, t, 60000), (xt, tt, 10000)):
        assert images.shape == ((n, 784) if flatten else (n, 1, 28, 28))
        if normalize:
            assert images.dtype == np.float32
            assert images.min() == 0.0 and images.max() == 1.0
        else:
            assert images.dtype == np.uint8
            assert images.min() == 0 and images.max() == 255
        if one_hot_label:
            assert labels.shape == (n, 10) and labels.dtype == np.float32
            assert np.all(labels.sum(axis=1) == 1) and set(np.unique(labels)) == {0.0, 1.0}
        else:
            assert labels.shape == (n,) and labels.dtype == np.int64
            assert labels.min() == 0 and labels.max() == 9
        for a in (images, labels):
            assert a.flags.c_contiguous and a.flags.writeable
    first = t.argmax(axis=1) if one_hot_label else t
    first_test = tt.argmax(axis=1) if one_hot_label else tt
    assert first[0] == 5
    assert first_test[:5].tolist() == [7, 2, 1, 0, 4]
    assert not np.shares_memory(x, xt) and not np.shares_memory(t, tt)


def test_values_labels_and_float64():
    (x8, t), (xt8, tt) = load_mnist(normalize=False, data_dir=MNIST_DIR)
    (x64, _), _ = load_mnist(data_dir=MNIST_DIR, dtype=np.float64)
    (x32, _), _ = load_mnist(data_dir=MNIST_DIR)
    assert x64.dtype == np.float64
    assert np.array_equal(x64, x8 / 255.0)  # (assert_array_equal is slow on 47M values)
    assert np.array_equal(x32, x8.astype(np.float32) / np.float32(255))
    assert np.bincount(t).tolist() == TRAIN_COUNTS
    assert np.bincount(tt).tolist() == TEST_COUNTS
    x8[0, 0] = 200  # the caller owns the arrays: the next load is unaffected
    assert load_mnist(normalize=False, data_dir=MNIST_DIR)[0][0][0, 0] == 0


def test_numbann_data_names_the_root_of_the_data_sets(monkeypatch, tmp_path):
    monkeypatch.setenv("NUMBANN_DATA", str(SHARED_DATA))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    (_, t), _ = load_mnist(download=False)
    assert t[:3].tolist() == [5, 0, 4]
    assert listing(tmp_path)[0].startswith("numbann/parsed/mnist-")


def test_second_load_comes_from_the_cache_in_under_a_second(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert listing(tmp_path) == []
    start = time.perf_counter()
    first = load_mnist(data_dir=MNIST_DIR)
    parsed = time.perf_counter() - start
    start = time.perf_counter()
    second = load_mnist(data_dir=MNIST_DIR)
    cached = time.perf_counter() - start
    print(f"MNIST load: first {parsed:.2f} s (parse + verify), second {cached:.2f} s (cache)")
    assert cached < 1.0
    for a, b in zip(first[0] + first[1], second[0] + second[1], strict=True):
        assert np.array_equal(a, b)
    assert len(listing(tmp_path / "numbann" / "parsed")) == 1


@pytest.fixture
def mirror():
    server = Mirror({name: (MNIST_DIR / name).read_bytes() for name in FILES.values()})
    yield server
    server.close()


def damage(path, how):
    content = gzip.decompress(path.read_bytes())
    if how == "truncated gzip":
        path.write_bytes(path.read_bytes()[:-100])
    elif how == "wrong magic":
        path.write_bytes(gzip.compress(b"\0\0\x08\x03" + content[4:]))
    elif how == "wrong size":
        path.write_bytes(gzip.compress(content + b"\0"))
    elif how == "checksum mismatch":  # still a valid IDX label file
        path.write_bytes(gzip.compress(content[:8] + bytes([(content[8] + 1) % 10]) + content[9:]))


@pytest.mark.parametrize(
    "how", ["truncated gzip", "wrong magic", "wrong size", "checksum mismatch"]
)
def test_a_corrupt_cached_file_is_replaced_by_a_download(tmp_path, monkeypatch, mirror, how):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    cache = tmp_path / "numbann" / "mnist"
    cache.mkdir(parents=True)
    for name in FILES.values():
        shutil.copy(MNIST_DIR / name, cache / name)
    labels = cache / "t10k-labels-idx1-ubyte.gz"
    damage(labels, how)
    with pytest.raises(CorruptDataError, match=re.escape(str(labels))):
        load_mnist(data_dir=cache)  # a directory the user names: reported, not repaired
    broken = labels.read_bytes()
    _, (_, tt) = load_mnist(mirrors=[mirror.url])
    assert tt[:5].tolist() == [7, 2, 1, 0, 4]
    assert mirror.requests == ["t10k-labels-idx1-ubyte.gz"]
    assert labels.read_bytes() == (MNIST_DIR / labels.name).read_bytes()
    assert (cache / "t10k-labels-idx1-ubyte.gz.corrupt").read_bytes() == broken


def test_downloads_land_verified_files_and_skip_bad_mirrors(tmp_path, monkeypatch, mirror):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    bad = Mirror(mirror.files)
    try:
        bad.modes["train-images-idx3-ubyte.gz"] = "half"
        tampered = bytearray(gzip.decompress(mirror.files["t10k-labels-idx1-ubyte.gz"]))
        tampered[8] = (tampered[8] + 1) % 10
        bad.files["t10k-labels-idx1-ubyte.gz"] = gzip.compress(bytes(tampered))
        (x, t), (xt, tt) = load_mnist(normalize=False, mirrors=[bad.url, mirror.url])
    finally:
        bad.close()
    assert mirror.requests == ["train-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]
    directory = tmp_path / "numbann" / "mnist"
    for name in FILES.values():
        assert (directory / name).read_bytes() == (MNIST_DIR / name).read_bytes()
    assert sorted(os.listdir(directory)) == sorted([*FILES.values(), "numbann-mnist-cache.npz"])
    assert t[0] == 5 and tt[:5].tolist() == [7, 2, 1, 0, 4] and x.shape == (60000, 784)
