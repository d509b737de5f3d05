"""fit/evaluate: compiled engine vs object path, History, sampling, callbacks, divergence."""

import math
import time

import numpy as np
import pytest

import numbann as nb
from numbann.datasets import load_digits


@pytest.fixture(scope="module")
def digits():
    x, t = load_digits(normalize=True)
    return x, t


def net(dtype=np.float32, act=nb.Tanh, out=10, final=None):
    layers = [nb.Linear(64, 16, rng=0, dtype=dtype), act(), nb.Linear(16, out, rng=1, dtype=dtype)]
    if final is not None:
        layers.append(final())
    return nb.Sequential(*layers)


def train_both(make_model, make_opt, loss_fn, x, t, **kw):
    out = {}
    for engine in ("compiled", "objects"):
        model = make_model()
        opt = make_opt(model)
        hist = nb.fit(model, loss_fn, opt, x, t, verbose=0, engine=engine, **kw)
        out[engine] = (model, opt, hist)
    return out


#: engine against object path: the engine splits each batch between threads, so its gradient
#: sums run in another order, and float32 rounding (~1e-7 per operation) accumulates
ENGINE_TOL = dict(rtol=1e-5, atol=1e-6)

OPTIMIZERS = [
    lambda m: nb.optim.SGD(m.parameters(), lr=0.2),
    lambda m: nb.optim.SGD(m.parameters(), lr=0.1, momentum=0.9, nesterov=True,
                           weight_decay=1e-3),
    lambda m: nb.optim.AdaGrad(m.parameters(), lr=0.05),
    lambda m: nb.optim.RMSProp(m.parameters(), lr=1e-3, momentum=0.5, centered=True),
    lambda m: nb.optim.Adam(m.parameters(), lr=3e-3, amsgrad=True),
]


@pytest.mark.parametrize("make_opt", OPTIMIZERS, ids=["sgd", "nesterov", "adagrad", "rmsprop",
                                                      "adam"])
def test_compiled_engine_equals_object_path(make_opt, digits):
    x, t = digits
    runs = train_both(net, make_opt, nb.CrossEntropyLoss(), x, t, epochs=2, batch_size=64,
                      seed=1)
    (m1, o1, h1), (m2, o2, h2) = runs["compiled"], runs["objects"]
    assert h1.params["engine"] == "compiled" and h2.params["engine"] == "objects"
    np.testing.assert_allclose(m1.flat_parameters, m2.flat_parameters, **ENGINE_TOL)
    np.testing.assert_allclose(h1.train_loss_list, h2.train_loss_list, rtol=1e-5)
    assert h1.history["accuracy"] == h2.history["accuracy"]
    assert o1.step_count == o2.step_count == 2 * math.ceil(len(x) / 64)
    for name in o1.state:
        np.testing.assert_allclose(o1.state[name], o2.state[name], **ENGINE_TOL)


@pytest.mark.parametrize("loss_fn,target,final", [
    (nb.MSELoss(), "onehot", None),
    (nb.MSELoss(reduction="sum"), "onehot", None),
    (nb.SumSquaredError(), "onehot", nb.Sigmoid),
    (nb.BCEWithLogitsLoss(), "onehot", None),
    (nb.CrossEntropyError(), "labels", nb.Softmax),
])
def test_engine_equals_object_path_for_every_loss(loss_fn, target, final, digits):
    x, t = digits
    x, t = x[:300], t[:300]
    targets = np.eye(10, dtype=np.float32)[t] if target == "onehot" else t
    # summed losses (no 1/N) get a 50x smaller rate: at lr 0.05 they drove the weights to
    # 1e18, where float rounding of any two summation orders drifts apart
    lr = 0.001 if loss_fn.scale(50, 10) >= 0.5 else 0.05
    runs = train_both(lambda: net(final=final),
                      lambda m: nb.optim.SGD(m.parameters(), lr=lr, momentum=0.9),
                      loss_fn, x, targets, epochs=2, batch_size=50, seed=2)
    np.testing.assert_allclose(runs["compiled"][0].flat_parameters,
                               runs["objects"][0].flat_parameters, **ENGINE_TOL)
    np.testing.assert_allclose(runs["compiled"][2].history["loss"],
                               runs["objects"][2].history["loss"], rtol=1e-5)


def test_engine_equals_object_path_with_l2_penalty_and_float64(digits):
    x, t = digits

    def make():
        return nb.models.MultiLayerNet(64, [12, 12], 10, weight_decay_lambda=0.01, rng=3,
                                       dtype=np.float64)

    runs = train_both(make, lambda m: nb.optim.Adam(m.parameters(), lr=1e-2),
                      nb.CrossEntropyLoss(), x, t, epochs=2, batch_size=100, seed=4)
    np.testing.assert_allclose(runs["compiled"][0].flat_parameters,
                               runs["objects"][0].flat_parameters, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(runs["compiled"][2].train_loss_list,
                               runs["objects"][2].train_loss_list, rtol=1e-12)


def test_unsupported_setups_fall_back_to_objects(digits):
    x, t = digits
    odd = nb.Sequential(nb.Tanh(), nb.Linear(64, 10, rng=0))  # an activation first
    h = nb.fit(odd, nb.CrossEntropyLoss(), nb.optim.SGD(odd.parameters(), lr=0.1), x, t,
               epochs=1, verbose=0)
    assert h.params["engine"] == "objects" and h.history["loss"][0] < 2.5
    with pytest.raises(ValueError, match="compiled engine cannot run this: the model is not"):
        nb.fit(odd, nb.CrossEntropyLoss(), nb.optim.SGD(odd.parameters(), lr=0.1), x, t,
               epochs=1, verbose=0, engine="compiled")
    model = net()
    partial = nb.optim.SGD(model[0].parameters(), lr=0.1)  # only the first layer
    before = model[2].weight.data.copy()
    h = nb.fit(model, nb.CrossEntropyLoss(), partial, x, t, epochs=1, verbose=0)
    assert h.params["engine"] == "objects"
    np.testing.assert_array_equal(model[2].weight.data, before)


def test_history_contents_and_partial_last_batch(digits):
    x, t = digits  # 1797 rows: 17 full batches of 100 and one of 97
    model = net()
    val = (x[:200], t[:200])
    h = nb.fit(model, nb.CrossEntropyLoss(), nb.optim.Adam(model.parameters(), lr=1e-2), x, t,
               epochs=3, batch_size=100, seed=0, verbose=0, validation_data=val)
    assert h.epoch == [0, 1, 2]
    assert len(h.train_loss_list) == 3 * 18
    for key in ("loss", "accuracy", "val_loss", "val_accuracy", "epoch_time"):
        assert len(h.history[key]) == 3
    assert h.history["loss"][0] == pytest.approx(np.mean(h.train_loss_list[:18]))
    assert h.history["loss"][2] < h.history["loss"][0]
    assert all(0 < a <= 1 for a in h.history["accuracy"])
    assert all(s > 0 for s in h.history["epoch_time"])
    loss, acc = nb.evaluate(model, nb.CrossEntropyLoss(), *val)
    assert h.history["val_loss"][-1] == pytest.approx(loss)
    assert h.history["val_accuracy"][-1] == acc == pytest.approx(model.accuracy(*val))
    assert h.params["steps"] == 18 and h.params["samples"] == 1797
    assert "History(epochs=3" in repr(h)


def test_engine_compiles_before_the_first_epoch_and_trains_nothing_doing_so(digits,
                                                                            monkeypatch):
    from numbann import _runners

    x, t = digits
    model = net()
    opt = nb.optim.SGD(model.parameters(), lr=0.1)
    loss_fn = nb.CrossEntropyLoss()
    runner = _runners.CompiledRunner(model, loss_fn, opt, 100,
                                     _runners.TrainingData(model, loss_fn, x, t, "x"))
    before = model.flat_parameters.copy()
    assert runner.prepare(0) >= 0
    assert runner.prepare(0, evaluation=True) >= 0  # also the evaluation kernel, on no rows
    np.testing.assert_array_equal(model.flat_parameters, before)
    assert opt.step_count == 0

    run = _runners.CompiledRunner.run

    def run_slow_when_empty(self, order, contiguous, lo, hi, *rest):
        if lo == hi:  # the preparing call, standing in for a cold compile
            time.sleep(0.3)
        return run(self, order, contiguous, lo, hi, *rest)

    monkeypatch.setattr(_runners.CompiledRunner, "run", run_slow_when_empty)
    h = nb.fit(model, loss_fn, opt, x, t, epochs=1, verbose=0)
    assert h.params["jit_time"] >= 0.3 > h.history["epoch_time"][0]
    h = nb.fit(model, loss_fn, opt, x, t, epochs=1, verbose=0, engine="objects")
    assert h.params["jit_time"] is None


def test_a_slow_compile_is_announced_only_when_verbose(monkeypatch, capsys):
    from numbann import _progress

    monkeypatch.setattr(_progress, "NOTICE_AFTER", 0.05)
    for verbose in (0, 1):
        with _progress.notice_if_slow(verbose, "compiling ..."):
            time.sleep(0.3)
        err = capsys.readouterr().err
        assert (("compiling ..." in err and "done in" in err) if verbose else err == "")
    with _progress.notice_if_slow(1, "compiling ..."):
        pass  # finishes before the notice is due
    assert capsys.readouterr().err == ""


def test_evaluate_matches_a_direct_computation(digits):
    x, t = digits
    model = net()
    loss, acc = nb.evaluate(model, nb.CrossEntropyLoss(), x, t, batch_size=250)
    assert loss == pytest.approx(nb.CrossEntropyLoss()(model(x), t), rel=1e-5)
    assert acc == model.accuracy(x, t)
    odd = nb.Sequential(nb.Sigmoid(), nb.Linear(64, 10, rng=5))
    loss2, acc2 = nb.evaluate(odd, nb.CrossEntropyLoss(), x, t, batch_size=300)
    assert loss2 == pytest.approx(nb.CrossEntropyLoss()(odd(x), t), rel=1e-5)
    assert acc2 == odd.accuracy(x, t)


def test_training_is_reproducible_and_seed_dependent(digits):
    x, t = digits
    params = []
    for seed in (7, 7, 8):
        model = net()
        nb.fit(model, nb.CrossEntropyLoss(), nb.optim.SGD(model.parameters(), lr=0.1), x, t,
               epochs=1, seed=seed, verbose=0)
        params.append(model.flat_parameters.copy())
    np.testing.assert_array_equal(params[0], params[1])
    assert not np.array_equal(params[0], params[2])


def test_replacement_sampling_reproduces_the_textbook_loop(digits):
    x, t = digits
    loss_fn = nb.CrossEntropyLoss()
    model = net()
    h = nb.fit(model, loss_fn, nb.optim.SGD(model.parameters(), lr=0.1), x, t, epochs=2,
               batch_size=50, seed=9, sampling="replacement", steps_per_epoch=7, verbose=0)
    assert len(h.train_loss_list) == 14
    # the textbook's loop: np.random.choice(train_size, batch_size) every iteration
    ref_model = net()
    opt = nb.optim.SGD(ref_model.parameters(), lr=0.1)
    rng = np.random.default_rng(9)
    losses = []
    for _epoch in range(2):
        masks = rng.choice(len(x), 7 * 50)  # one epoch's draws
        for i in range(7):
            mask = masks[i * 50:(i + 1) * 50]
            opt.zero_grad()
            losses.append(loss_fn(ref_model(x[mask]), t[mask]))
            ref_model.backward(loss_fn.backward())
            opt.step()
    np.testing.assert_allclose(h.train_loss_list, losses, rtol=1e-5)
    np.testing.assert_allclose(model.flat_parameters, ref_model.flat_parameters, **ENGINE_TOL)


def test_no_shuffle_uses_rows_in_order(digits):
    x, t = digits
    x, t = x[:250], t[:250]
    a, b = net(), net()
    nb.fit(a, nb.CrossEntropyLoss(), nb.optim.SGD(a.parameters(), lr=0.1), x, t, epochs=1,
           batch_size=100, shuffle=False, verbose=0)
    loss_fn, opt = nb.CrossEntropyLoss(), nb.optim.SGD(b.parameters(), lr=0.1)
    for lo in (0, 100, 200):
        opt.zero_grad()
        loss_fn(b(x[lo:lo + 100]), t[lo:lo + 100])
        b.backward(loss_fn.backward())
        opt.step()
    np.testing.assert_allclose(a.flat_parameters, b.flat_parameters, **ENGINE_TOL)


def test_validation_split_takes_the_last_fraction_and_eval_every(digits):
    x, t = digits
    model = net()
    h = nb.fit(model, nb.CrossEntropyLoss(), nb.optim.SGD(model.parameters(), lr=0.1), x, t,
               epochs=4, validation_split=0.2, eval_every=3, verbose=0)
    assert h.params["samples"] == 1797 - 359 and h.params["validation_samples"] == 359
    val = h.history["val_loss"]
    assert math.isnan(val[0]) and math.isnan(val[1]) and not math.isnan(val[2])
    assert not math.isnan(val[3])  # the last epoch is always evaluated
    assert h.history["val_loss"][3] == pytest.approx(
        nb.evaluate(model, nb.CrossEntropyLoss(), x[-359:], t[-359:])[0])


def test_callbacks(digits, tmp_path):
    x, t = digits
    seen = []
    model = net()
    stop = nb.EarlyStopping(monitor="val_loss", patience=1, restore_best_weights=True)
    ckpt = nb.ModelCheckpoint(tmp_path / "best.npz", monitor="val_accuracy", save_best_only=True)
    every = nb.ModelCheckpoint(tmp_path / "epoch{epoch}.npz")
    # lr far too high after the first epochs makes val_loss rise → early stop
    opt = nb.optim.SGD(model.parameters(), lr=0.3)

    def hook(epoch, logs):
        seen.append((epoch, sorted(logs)))
        if epoch == 1:
            opt.lr = 50.0

    best_params = {}

    class Spy(nb.Callback):
        def on_epoch_end(self, trainer, epoch, logs):
            best_params[epoch] = trainer.model.flat_parameters.copy()

    h = nb.fit(model, nb.CrossEntropyLoss(), opt, x[:1400], t[:1400], epochs=30,
               validation_data=(x[1400:], t[1400:]), verbose=0,
               callbacks=[hook, stop, ckpt, every, Spy()], seed=0)
    assert seen[0] == (0, ["accuracy", "loss", "val_accuracy", "val_loss"])
    assert len(h.epoch) < 30 and stop.stopped_epoch == h.epoch[-1]
    best = int(np.nanargmin(h.history["val_loss"]))
    assert stop.best_epoch == best
    np.testing.assert_array_equal(model.flat_parameters, best_params[best])
    assert sorted(p.name for p in tmp_path.glob("epoch*.npz")) == sorted(
        f"epoch{e + 1}.npz" for e in h.epoch)
    saved = nb.load(tmp_path / "best.npz")
    best_acc = int(np.argmax(h.history["val_accuracy"]))
    np.testing.assert_array_equal(saved.flat_parameters, best_params[best_acc])


def test_divergence_stops_with_a_clear_error_and_finite_parameters(digits):
    x, t = digits
    model = nb.Sequential(nb.Linear(64, 32, rng=0), nb.Linear(32, 10, rng=1))
    onehot = np.eye(10, dtype=np.float32)[t]
    # a linear model with far too high a learning rate: the squared error explodes
    with pytest.raises(nb.TrainingDiverged, match=r"loss became (nan|inf) at epoch \d+, "
                                                  r"iteration \d+") as info:
        nb.fit(model, nb.MSELoss(), nb.optim.SGD(model.parameters(), lr=5.0), x, onehot,
               epochs=5, verbose=0, seed=0)
    hist = info.value.history
    assert hist.train_loss_list and not np.isfinite(hist.train_loss_list[-1])
    assert all(np.isfinite(hist.train_loss_list[:-1]))
    assert np.isfinite(model.flat_parameters).all()


def test_verbose_modes(digits, capsys):
    x, t = digits
    model = net()
    nb.fit(model, nb.CrossEntropyLoss(), nb.optim.SGD(model.parameters(), lr=0.1), x, t,
           epochs=2, verbose=2, validation_data=(x[:100], t[:100]))
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("Epoch")]
    assert len(lines) == 2 and "Epoch 2/2" in lines[1] and "val_accuracy" in lines[1]
    nb.fit(model, nb.CrossEntropyLoss(), nb.optim.SGD(model.parameters(), lr=0.1), x, t,
           epochs=1, verbose=0)
    assert capsys.readouterr().err == ""
    # verbose=1 writing to a file (not a terminal) gives plain lines, no bar
    nb.fit(model, nb.CrossEntropyLoss(), nb.optim.SGD(model.parameters(), lr=0.1), x, t,
           epochs=1, verbose=1)
    err = capsys.readouterr().err
    assert err.startswith("Epoch 1/1") and "\r" not in err


def test_fit_argument_errors(digits):
    x, t = digits
    model = net()
    opt = nb.optim.SGD(model.parameters(), lr=0.1)
    loss_fn = nb.CrossEntropyLoss()
    with pytest.raises(ValueError, match="epochs must be a positive integer"):
        nb.fit(model, loss_fn, opt, x, t, epochs=0)
    with pytest.raises(ValueError, match="batch_size"):
        nb.fit(model, loss_fn, opt, x, t, epochs=1, batch_size=0)
    with pytest.raises(ValueError, match="x has 1797 samples but the targets"):
        nb.fit(model, loss_fn, opt, x, t[:10], epochs=1)
    with pytest.raises(ValueError, match=r"label 10 out of range"):
        nb.fit(model, loss_fn, opt, x, t + 1, epochs=1)
    with pytest.raises(ValueError, match=r"shape \(N, 64\)"):
        nb.fit(model, loss_fn, opt, x[:, :10], t, epochs=1)
    with pytest.raises(ValueError, match="sampling"):
        nb.fit(model, loss_fn, opt, x, t, epochs=1, sampling="bootstrap")
    with pytest.raises(ValueError, match="steps_per_epoch goes with"):
        nb.fit(model, loss_fn, opt, x, t, epochs=1, steps_per_epoch=3)
    with pytest.raises(ValueError, match="validation_split"):
        nb.fit(model, loss_fn, opt, x, t, epochs=1, validation_split=1.5)
    with pytest.raises(TypeError, match="optimizer must be a numbann optimizer"):
        nb.fit(model, loss_fn, "sgd", x, t, epochs=1)
    with pytest.raises(TypeError, match="callbacks"):
        nb.fit(model, loss_fn, opt, x, t, epochs=1, callbacks=[42])
    bad = x.copy()
    bad[5, 5] = np.inf
    with pytest.raises(ValueError, match=r"NaN or inf \(first at index \(5, 5\)"):
        nb.fit(model, loss_fn, opt, bad, t, epochs=1)
