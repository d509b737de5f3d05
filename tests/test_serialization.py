"""save/load: bit-exact round trips, optimizer state, corrupt files, atomic writes."""

import json
import zipfile

import numpy as np
import pytest

import numbann as nb
from numbann import serialization
from numbann._io import sha256_of


def trained(rng, dtype=np.float32):
    model = nb.Sequential(nb.Linear(5, 4, rng=0, dtype=dtype), nb.Sigmoid(),
                          nb.Linear(4, 4, bias=False, rng=1, dtype=dtype), nb.ReLU(),
                          nb.Linear(4, 3, rng=2, dtype=dtype))
    opt = nb.optim.Adam(model.parameters(), lr=0.01, amsgrad=True)
    loss_fn = nb.CrossEntropyLoss()
    x, t = rng.standard_normal((16, 5)), rng.integers(0, 3, 16)
    for _ in range(3):
        opt.zero_grad()
        loss_fn(model(x), t)
        model.backward(loss_fn.backward())
        opt.step()
    return model, opt, x, t


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_round_trip_is_bit_exact_including_optimizer(tmp_path, rng, dtype):
    model, opt, x, t = trained(rng, dtype)
    path = tmp_path / "model.npz"
    nb.save(model, path, optimizer=opt)
    loaded, opt2 = nb.load(path, with_optimizer=True)
    assert repr(loaded) == repr(model) and loaded.dtype == dtype
    np.testing.assert_array_equal(loaded.flat_parameters, model.flat_parameters)
    assert type(opt2) is nb.optim.Adam and opt2.hyperparameters == opt.hyperparameters
    assert opt2.step_count == 3
    for name in opt.state:
        np.testing.assert_array_equal(opt2.state[name], opt.state[name])
    # both continue identically
    loss_fn = nb.CrossEntropyLoss()
    for m, o in ((model, opt), (loaded, opt2)):
        o.zero_grad()
        loss_fn(m(x), t)
        m.backward(loss_fn.backward())
        o.step()
    np.testing.assert_array_equal(loaded.flat_parameters, model.flat_parameters)
    assert nb.load(path).__class__ is nb.Sequential


def test_no_pickle_inside(tmp_path, rng):
    model, opt, *_ = trained(rng)
    path = tmp_path / "m.npz"
    nb.save(model, path, optimizer=opt)
    with np.load(path, allow_pickle=False) as npz:
        for name in npz.files:
            assert npz[name].dtype != object
        meta = json.loads(str(npz["__numbann__"]))
    assert meta["format"] == "numbann-model" and meta["model"]["type"] == "Sequential"
    assert nb.load(path, with_optimizer=False) is not None


def test_textbook_networks_round_trip(tmp_path):
    net = nb.models.MultiLayerNet(6, [5, 4], 3, activation="sigmoid", weight_init_std=0.1,
                                  weight_decay_lambda=0.1, rng=0)
    nb.save(net, tmp_path / "net.npz")
    back = nb.load(tmp_path / "net.npz")
    assert isinstance(back, nb.models.MultiLayerNet) and back.weight_decay_lambda == 0.1
    np.testing.assert_array_equal(back.params["W2"], net.params["W2"])
    nb.save(nb.models.TwoLayerNet(4, 3, 2, rng=1), tmp_path / "two.npz")
    assert isinstance(nb.load(tmp_path / "two.npz"), nb.models.TwoLayerNet)


def test_load_state_dict_errors():
    model = nb.Sequential(nb.Linear(3, 2))
    sd = model.state_dict()
    with pytest.raises(KeyError, match=r"missing key\(s\) \['0.bias'\]"):
        model.load_state_dict({"0.weight": sd["0.weight"]})
    with pytest.raises(KeyError, match="unexpected key"):
        model.load_state_dict({**sd, "1.weight": np.zeros(2)})
    with pytest.raises(ValueError, match=r"size mismatch for 0.weight.*\(2, 3\).*\(3, 2\)"):
        model.load_state_dict({**sd, "0.weight": np.zeros((2, 3))})
    model.load_state_dict({"0.bias": np.ones(2)}, strict=False)
    assert np.all(model[0].bias.data == 1)


def test_corrupt_and_truncated_files_give_clear_errors(tmp_path, rng):
    model, *_ = trained(rng)
    good = tmp_path / "good.npz"
    nb.save(model, good)
    data = good.read_bytes()
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="truncated.npz.*corrupt or truncated"):
        nb.load(truncated)
    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(b"not a zip file at all")
    with pytest.raises(ValueError, match="garbage.npz"):
        nb.load(garbage)
    plain = tmp_path / "plain.npz"
    np.savez(plain, a=np.zeros(3))
    with pytest.raises(ValueError, match="not a numbann model file"):
        nb.load(plain)
    with pytest.raises(FileNotFoundError, match="no model file"):
        nb.load(tmp_path / "missing.npz")
    # a valid zip whose parameter does not match the architecture
    mismatch = tmp_path / "mismatch.npz"
    with np.load(good) as npz:
        arrays = {k: npz[k] for k in npz.files}
    arrays["0.weight"] = np.zeros((2, 2), np.float32)
    meta = json.loads(str(arrays["__numbann__"]))
    meta["sha256"]["0.weight"] = sha256_of(arrays["0.weight"])
    arrays["__numbann__"] = np.array(json.dumps(meta))
    np.savez(mismatch, **arrays)
    with pytest.raises(ValueError, match=r"'0.weight' has shape \(2, 2\) but the architecture "
                                         r"says \(5, 4\)"):
        nb.load(mismatch)
    # one flipped bit in a weight: caught by the recorded checksum
    with zipfile.ZipFile(good) as zf:
        info = zf.getinfo("2.weight.npy")
        size = info.file_size
    flipped = bytearray(data)
    flipped[info.header_offset + 30 + len(info.filename) + size - 3] ^= 0x01
    bad = tmp_path / "flipped.npz"
    bad.write_bytes(bytes(flipped))
    with pytest.raises(ValueError, match="flipped.npz (is corrupt|is not a readable)"):
        nb.load(bad)
    # a well-formed file whose values were changed: caught by the recorded checksums
    with np.load(good) as npz:
        arrays = {k: npz[k] for k in npz.files}
    arrays["2.weight"] = arrays["2.weight"] + np.float32(1e-3)
    edited = tmp_path / "edited.npz"
    np.savez(edited, **arrays)
    with pytest.raises(ValueError, match="edited.npz is corrupt: entry '2.weight'"):
        nb.load(edited)


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path, rng, monkeypatch):
    model, *_ = trained(rng)
    path = tmp_path / "model.npz"
    nb.save(model, path)
    before = path.read_bytes()

    def crash(f, **arrays):
        f.write(b"half a model")
        raise OSError("disk full")

    monkeypatch.setattr(serialization.np, "savez", crash)
    with pytest.raises(OSError, match="disk full"):
        nb.save(model, path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.npz"]


def test_saved_files_get_the_usual_permissions(tmp_path, rng):
    import os

    model, *_ = trained(rng)
    old = os.umask(0o022)
    try:
        nb.save(model, tmp_path / "shared.npz")
    finally:
        os.umask(old)
    assert (tmp_path / "shared.npz").stat().st_mode & 0o777 == 0o644


def test_save_rejects_a_foreign_optimizer(tmp_path, rng):
    model, *_ = trained(rng)
    other = nb.Sequential(nb.Linear(5, 3))
    with pytest.raises(ValueError, match="exactly this model"):
        nb.save(model, tmp_path / "x.npz", optimizer=nb.optim.SGD(other.parameters(), lr=0.1))


@pytest.mark.parametrize("kind", ["Sequential", "TwoLayerNet"])
def test_an_architecture_larger_than_the_stored_arrays_is_refused_before_allocating(
        kind, tmp_path):
    """A file whose metadata claims in_features = 3e9 must not make load() allocate 134 GiB."""
    import tracemalloc

    model = nb.models.TwoLayerNet(5, 4, 3) if kind == "TwoLayerNet" else nb.Sequential(
        nb.Linear(5, 4), nb.ReLU(), nb.Linear(4, 3))
    path = tmp_path / "m.npz"
    nb.save(model, path)
    with np.load(path) as npz:
        arrays = {k: npz[k] for k in npz.files}
    meta = json.loads(str(arrays["__numbann__"]))
    if kind == "TwoLayerNet":
        meta["model"]["args"]["input_size"] = 3_000_000_000
    else:
        meta["model"]["layers"][0]["in_features"] = 3_000_000_000
    arrays["__numbann__"] = np.array(json.dumps(meta))
    np.savez(path, **arrays)
    tracemalloc.start()
    with pytest.raises(ValueError, match=r"has shape \(5, 4\) but the architecture says "
                                         r"\(3000000000, 4\)"):
        nb.load(path)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 50 * 2**20
