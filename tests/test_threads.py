"""The thread team (kernels/_threads.py) and the data-parallel engine built on it."""

import numba
import numpy as np
import pytest

import numbann as nb
from numbann import _runners
from numbann.datasets import load_digits
from numbann.kernels import _threads, engine_split
from numbann.kernels._threads import atomic_add, atomic_load, meet, new_sync, run_team

THREADS = 3  # more workers than this machine may have cores: meetings must still hold


@numba.njit(nogil=True)
def _count(t, n, counter, sync):
    for _ in range(n):
        atomic_add(counter, 0, 1)
    return atomic_load(counter, 0)


def test_atomic_add_loses_no_increment_between_threads():
    counter = np.zeros(1, np.int64)
    run_team(_count, THREADS, (20000, counter), new_sync())
    assert counter[0] == THREADS * 20000


@numba.njit(nogil=True)
def _rounds(t, rounds, slots, seen, sync):
    """Each round: write the round into my slot, meet, check every slot, meet."""
    threads = slots.size
    bad = 0
    for r in range(1, rounds + 1):
        slots[t] = r
        if not meet(sync, 2 * r - 1, threads):
            return -1
        for i in range(threads):
            bad += slots[i] != r
        if not meet(sync, 2 * r, threads):
            return -1
    seen[t] = bad
    return bad


def test_meetings_let_no_worker_run_ahead():
    slots, seen = np.zeros(THREADS, np.int64), np.full(THREADS, -1, np.int64)
    sync = new_sync()
    assert run_team(_rounds, THREADS, (500, slots, seen), sync) == 0
    np.testing.assert_array_equal(seen, 0)  # every worker saw every other's write each round
    assert sync[0] == 2 * 500 * THREADS


def test_a_failing_worker_releases_the_others_and_its_error_is_raised():
    slots, seen = np.zeros(2, np.int64), np.full(2, -1, np.int64)
    results = []

    def worker(t, sync):
        if t == 1:
            raise ValueError("worker 1 broke")
        results.append(_rounds(t, 10, slots, seen, sync))  # waits for worker 1: released

    with pytest.raises(ValueError, match="worker 1 broke"):
        run_team(worker, 2, (), new_sync())
    assert results == [-1]


# --- the data-parallel engine --------------------------------------------------------------


@pytest.fixture(scope="module")
def digits():
    return load_digits(normalize=True)


def _model():
    return nb.Sequential(nb.Linear(64, 32, rng=0), nb.ReLU(), nb.Linear(32, 10, rng=1))


def _fit(x, t, split, monkeypatch, epochs=2, weight_decay=0.0, batch_size=64):
    calls = []
    original = engine_split.train_steps_split

    def spy(*args):
        calls.append(args[2] - args[1])
        return original(*args)

    monkeypatch.setattr(_runners, "SPLIT", split)
    monkeypatch.setattr(engine_split, "train_steps_split", spy)
    model = _model()
    model.weight_decay_lambda = weight_decay
    opt = nb.optim.Adam(model.parameters(), lr=3e-3)
    hist = nb.fit(model, nb.CrossEntropyLoss(), opt, x, t, epochs=epochs,
                  batch_size=batch_size, seed=3, verbose=0)
    return model, opt, hist, sum(calls)


@pytest.mark.skipif(numba.get_num_threads() < 2, reason="needs two Numba threads")
@pytest.mark.parametrize("weight_decay", [0.0, 0.05])
def test_split_engine_trains_as_the_serial_engine(digits, monkeypatch, weight_decay):
    x, t = digits
    split = _fit(x, t, True, monkeypatch, weight_decay=weight_decay)
    serial = _fit(x, t, False, monkeypatch, weight_decay=weight_decay)
    steps = 2 * -(-len(x) // 64)
    assert split[3] == steps and serial[3] == 0  # which engine ran each batch
    assert split[1].step_count == serial[1].step_count == steps
    # the same steps, the gradient of each batch summed in two shares: rounding only
    np.testing.assert_allclose(split[0].flat_parameters, serial[0].flat_parameters,
                               rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(split[2].train_loss_list, serial[2].train_loss_list, rtol=1e-4)
    assert split[2].history["accuracy"][-1] == pytest.approx(serial[2].history["accuracy"][-1],
                                                            abs=0.01)


@pytest.mark.skipif(numba.get_num_threads() < 2, reason="needs two Numba threads")
def test_a_last_batch_too_small_to_share_runs_on_one_thread(digits, monkeypatch):
    # 32-row batches are shared; the last, of 31 rows, is not: thread 0 takes all 31
    x, t = digits[0][:95], digits[1][:95]
    split = _fit(x, t, True, monkeypatch, batch_size=32)
    serial = _fit(x, t, False, monkeypatch, batch_size=32)
    assert split[3] == 2 * 3 and serial[3] == 0
    np.testing.assert_allclose(split[0].flat_parameters, serial[0].flat_parameters,
                               rtol=1e-4, atol=1e-5)


@pytest.mark.skipif(numba.get_num_threads() < 2, reason="needs two Numba threads")
def test_batches_too_small_to_share_split_only_the_update(digits, monkeypatch):
    # rows of a 4-row batch run on one thread, the Adam update on all: the same
    # arithmetic as the serial engine, so the same bits
    x, t = digits[0][:400], digits[1][:400]
    monkeypatch.setattr(_runners, "SPLIT_UPDATE_PARAMS", 0)
    split = _fit(x, t, True, monkeypatch, batch_size=4)
    serial = _fit(x, t, False, monkeypatch, batch_size=4)
    assert split[3] == 2 * 100 and serial[3] == 0
    np.testing.assert_array_equal(split[0].flat_parameters, serial[0].flat_parameters)
    assert split[2].train_loss_list == serial[2].train_loss_list
    # plain SGD keeps the serial engine, which fuses its update into the backward pass
    monkeypatch.setattr(_runners, "SPLIT", True)
    model = _model()
    plan = model.network_plan()
    sgd, adam = nb.optim.SGD(model.parameters(), lr=0.1), nb.optim.Adam(model.parameters())
    assert _runners._split_workspace(model, plan, 4, sgd) is None
    assert _runners._split_workspace(model, plan, 4, adam) is not None
    monkeypatch.setattr(_runners, "SPLIT_UPDATE_PARAMS", model.flat_parameters.size + 1)
    assert _runners._split_workspace(model, plan, 4, adam) is None  # too small an update


@pytest.mark.skipif(numba.get_num_threads() < 2, reason="needs two Numba threads")
@pytest.mark.parametrize("weight_decay", [0.0, 0.05])
def test_split_engine_is_bit_identical_for_a_seed_and_a_thread_count(digits, monkeypatch,
                                                                     weight_decay):
    x, t = digits
    first = _fit(x, t, True, monkeypatch, weight_decay=weight_decay)
    second = _fit(x, t, True, monkeypatch, weight_decay=weight_decay)
    assert first[3] > 0 and second[3] > 0
    np.testing.assert_array_equal(first[0].flat_parameters, second[0].flat_parameters)
    assert first[2].train_loss_list == second[2].train_loss_list


@pytest.mark.skipif(numba.get_num_threads() < 2, reason="needs two Numba threads")
def test_split_engine_stops_every_worker_at_a_non_finite_loss(digits, monkeypatch):
    x, t = digits
    monkeypatch.setattr(_runners, "SPLIT", True)
    model = nb.Sequential(nb.Linear(64, 32, rng=0), nb.Linear(32, 10, rng=1))
    opt = nb.optim.SGD(model.parameters(), lr=5.0)
    onehot = np.eye(10, dtype=np.float32)[t]
    with pytest.raises(nb.TrainingDiverged) as info:  # far too high a rate: it explodes
        nb.fit(model, nb.MSELoss(), opt, x, onehot, epochs=5, batch_size=64, seed=0,
               verbose=0)
    losses = info.value.history.train_loss_list
    assert not np.isfinite(losses[-1]) and np.isfinite(losses[:-1]).all()
    assert opt.step_count == len(losses) - 1  # the diverged batch was not applied
    assert np.isfinite(model.flat_parameters).all()


@pytest.mark.skipif(numba.get_num_threads() < 2, reason="needs two Numba threads")
@pytest.mark.parametrize("rows", [31, 100, 1797])
@pytest.mark.parametrize("batch_size", [None, 1, 7, 600])
def test_predict_split_matches_the_layer_by_layer_forward(digits, rows, batch_size,
                                                          monkeypatch):
    x, _ = digits
    model = _model()
    expected = x[:rows]
    for layer in model:
        expected = layer(expected)
    chunks = []
    original = engine_split.predict_split

    def spy(X, net, work, chunk, out):
        chunks.append(chunk)
        return original(X, net, work, chunk, out)

    monkeypatch.setattr(engine_split, "predict_split", spy)
    got = model.predict(x[:rows], batch_size=batch_size)
    threads = numba.get_num_threads()
    share = -(-rows // threads)
    # each thread forwards its share of the rows, at most batch_size (or 512) at a time;
    # too few rows to share take the layers' own kernels
    assert chunks == ([min(share, batch_size or engine_split.PREDICT_CHUNK)]
                      if rows >= threads * engine_split.MIN_ROWS else [])
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


def test_the_team_uses_no_numba_parallel_loop():
    # the point of the team: no parfor to compile (see the module docstring)
    for func in (engine_split._split_worker, engine_split._forward_share):
        assert not func.targetoptions.get("parallel")
    assert _threads.run_team is engine_split.run_team


@pytest.mark.skipif(numba.get_num_threads() < 2, reason="needs two Numba threads")
def test_warmup_runs_the_data_parallel_engine_and_inference(monkeypatch):
    # what `numbann warmup` compiles must include what a real run takes: the shared
    # batches of the data-parallel engine and the split inference, not only the
    # one-thread engine of tiny batches
    calls = {"train": [], "predict": []}
    train, predict = engine_split.train_steps_split, engine_split.predict_split

    def train_spy(batches, first, last, *args):
        calls["train"].append(last - first)
        return train(batches, first, last, *args)

    def predict_spy(X, *args):
        calls["predict"].append(X.shape[0])
        return predict(X, *args)

    monkeypatch.setattr(engine_split, "train_steps_split", train_spy)
    monkeypatch.setattr(engine_split, "predict_split", predict_spy)
    took = nb.warmup()
    assert set(took) == {"float32"}
    assert sum(n > 0 for n in calls["train"]) == 1  # one run of shared batches
    assert len(calls["predict"]) == 1 and calls["predict"][0] >= 2 * engine_split.MIN_ROWS
