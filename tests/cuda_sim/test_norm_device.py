"""Batch norm and dropout on the GPU: the layers on a model moved to the device, the PyTorch
loop with tapes, fit through the GPU engine and its divergence replay — each against the
same work on the CPU (tiny shapes; the simulator is slow).

SGD, not Adam, where parameters are compared: the bias of a Linear before a batch norm
has a gradient of rounding size (batch norm subtracts the batch mean), and Adam, which
divides by its root mean square, turns that noise into steps of ±lr, which then differ
between any two summation orders.
"""

import numpy as np
import pytest

import numbann as nb
from numbann._runners import engine_network
from numbann.kernels import engine as cpu_engine

N, D, H, K, C = 21, 9, 6, 5, 4  # batches of 8, 8 and 5 rows


@pytest.fixture
def data(rng):
    x = rng.standard_normal((N, D)).astype(np.float32)
    return x, rng.integers(0, C, N)


def _model(norm=nb.BatchNorm1d, inverted=True, seed=0):
    """Linear → batch norm → ReLU → dropout → Linear → the textbook's batch norm → tanh
    → Linear: every batch-norm and dropout form in one chain the engine runs."""
    return nb.Sequential(nb.Linear(D, H, rng=seed), norm(H), nb.ReLU(),
                         nb.Dropout(0.3, inverted=inverted, rng=seed),
                         nb.Linear(H, K, rng=seed + 1), nb.BatchNormalization(K), nb.Tanh(),
                         nb.Linear(K, C, rng=seed + 2))


def _state(model):
    model.to("cpu")
    return (model.flat_parameters.copy(), model.flat_gradients.copy(), model.flat_stats.copy(),
            [m.num_batches_tracked for m in model if isinstance(m, nb.BatchNorm1d)],
            [m.draws for m in model if isinstance(m, nb.Dropout)])


def _assert_states_close(gpu, cpu):
    for got, want in zip(gpu[:3], cpu[:3]):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-6)
    assert gpu[3:] == cpu[3:]


@pytest.mark.parametrize("norm,inverted", [
    (nb.BatchNorm1d, True),
    (lambda c: nb.BatchNorm1d(c, momentum=None, affine=False), True),
    (nb.BatchNormalization, False),
], ids=["torch", "cumulative-no-affine", "textbook"])
def test_the_layers_on_the_device_equal_the_cpu_in_both_modes(norm, inverted, data):
    """Forward and backward (loss.backward(), two training steps and one in evaluation
    mode) of the layers on a model moved to the GPU: outputs, losses, gradients, running
    statistics and counters as on the CPU."""
    x, t = data
    runs = {}
    for device in ("cpu", "cuda"):
        model = _model(norm, inverted).to(device)
        loss_fn = nb.CrossEntropyLoss()
        outputs, losses = [], []
        for training in (True, True, False):
            model.train(training)
            y = model(x)
            loss = loss_fn(y, t)
            loss.backward()  # adds up over the three (no zero_grad)
            outputs.append(model.backend.to_host(y))
            losses.append(loss.item())
        runs[device] = (outputs, losses, _state(model))
    (out_g, loss_g, state_g), (out_c, loss_c, state_c) = runs["cuda"], runs["cpu"]
    for got, want in zip(out_g, out_c):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(loss_g, loss_c, rtol=1e-5)
    _assert_states_close(state_g, state_c)
    assert state_c[3] == [2, 2] and state_c[4] == [2]  # two training forwards counted
    assert np.abs(state_c[1]).max() > 0  # the backwards did something


def test_the_pytorch_loop_with_tapes_on_the_device_equals_the_cpu(data):
    """The tutorial loop of issue 13 on a model on the GPU: two forwards alive per step
    (training and test set), each loss back-propagating its own forward, a no_grad
    evaluation between steps; the recorded losses and the parameters as on the CPU."""
    x, t = data
    x_test, t_test = x[:7] + 0.5, t[:7]
    runs = {}
    for device in ("cpu", "cuda"):
        model = _model().to(device)
        opt = nb.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        loss_fn = nb.CrossEntropyLoss()
        record = []
        for _ in range(3):
            opt.zero_grad()
            y_train = model(x)
            y_test = model(x_test)
            loss_train, loss_test = loss_fn(y_train, t), loss_fn(y_test, t_test)
            record.append((loss_train.item(), loss_test.item()))
            loss_train.backward()
            opt.step()
            with pytest.raises(RuntimeError, match="parameters changed"):
                loss_test.backward()  # its forward was before the step
            with nb.no_grad():
                model.eval()
                record.append((loss_fn(model(x_test), t_test).item(), 0.0))
                model.train()
        runs[device] = (record, _state(model))
    np.testing.assert_allclose(runs["cuda"][0], runs["cpu"][0], rtol=1e-5, atol=1e-7)
    _assert_states_close(runs["cuda"][1], runs["cpu"][1])
    assert runs["cpu"][1][3] == [6, 6]  # both forwards of each step count


@pytest.mark.parametrize("engine", ["compiled", "objects"])
def test_fit_with_batch_norm_and_dropout_on_the_device_equals_the_cpu_engine(engine, data):
    """fit(device='cuda') through the GPU engine (and through the object path on the
    device) against the CPU engine: every iteration's loss, accuracies, validation losses
    (evaluation mode: running statistics, no dropout), parameters, running statistics and
    counters."""
    x, t = data
    results = {}
    for device, how in (("cpu", "compiled"), ("cuda", engine)):
        model = _model(nb.BatchNorm1d, inverted=False)
        opt = nb.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
        hist = nb.fit(model, nb.CrossEntropyLoss(), opt, x, t, epochs=2, batch_size=8, seed=5,
                      verbose=0, engine=how, device=device, validation_data=(x[:7], t[:7]))
        assert hist.params["engine"] == how
        results[device] = (hist, _state(model))
    (h_gpu, s_gpu), (h_cpu, s_cpu) = results["cuda"], results["cpu"]
    np.testing.assert_allclose(h_gpu.train_loss_list, h_cpu.train_loss_list, rtol=1e-5)
    assert h_gpu.history["accuracy"] == h_cpu.history["accuracy"]
    np.testing.assert_allclose(h_gpu.history["val_loss"], h_cpu.history["val_loss"], rtol=1e-5)
    _assert_states_close(s_gpu, s_cpu)
    assert s_cpu[3] == [6, 6] and s_cpu[4] == [6]


def _engine_call(model, x, t, first, last):
    """Batches first … last − 1 (in order, 8 rows) through the model's engine; returns the
    batches done and the losses."""
    bk = model.backend
    opt = nb.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    opt.sync_state()
    plan = model.network_plan()
    batches = cpu_engine.Batches(bk.from_host(x), bk.from_host(np.eye(C, dtype=np.float32)[t]),
                                 np.arange(len(x)), True, 8)
    state = cpu_engine.OptimizerState(opt.kernel_hyper(), opt.state_rows, 0)
    ws = cpu_engine.workspace(plan, 8, model.dtype, bk.empty)
    losses = np.full(last, np.nan)
    done = bk.kernels.engine.train_steps(batches, first, last, engine_network(model, plan),
                                         nb.CrossEntropyLoss().spec(), state, ws, losses,
                                         np.zeros(last, np.int64))
    return done, losses


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # the simulator's NumPy on inf and NaN
def test_divergence_replay_restores_the_running_statistics(data):
    """An infinite input row in batch 3 makes its batch mean, and so its loss, NaN. The GPU
    engine learns it at the end of the call, restores the parameters and the running
    statistics, and replays batches 1 and 2: the model is then as after a call on those
    two alone — its running statistics too, not touched by batch 3."""
    x, t = data
    x = x.copy()
    x[18] = np.inf
    diverged, clean = _model().to("cuda"), _model().to("cuda")
    done, losses = _engine_call(diverged, x, t, 0, 3)
    assert done == 2 and np.isfinite(losses[:2]).all() and np.isnan(losses[2])
    assert _engine_call(clean, x, t, 0, 2)[0] == 2
    for got, want in zip(_state(diverged)[:3], _state(clean)[:3]):
        np.testing.assert_array_equal(got, want)
    cpu = _model()
    assert _engine_call(cpu, x, t, 0, 2)[0] == 2
    _assert_states_close(_state(diverged), _state(cpu))
    assert np.isfinite(_state(diverged)[2]).all()


def test_evaluate_and_predict_in_evaluation_mode_equal_the_cpu(data, rng):
    """The engine's evaluation (nb.evaluate) and predict: the textbook's dropout (×(1 − p))
    without a batch norm before it, a batch norm without γ, β at its running statistics."""
    x, t = data
    model = nb.Sequential(nb.Linear(D, H, rng=0), nb.Sigmoid(), nb.Dropout(0.4, inverted=False),
                          nb.Linear(H, K, rng=1), nb.BatchNorm1d(K, affine=False),
                          nb.Linear(K, C, rng=2))
    model[4].running_mean.data = rng.standard_normal(K)
    model[4].running_var.data = rng.uniform(0.2, 3, K)
    cpu = nb.evaluate(model, nb.CrossEntropyLoss(), x, t, batch_size=8), model.predict(x)
    model.to("cuda")
    gpu = nb.evaluate(model, nb.CrossEntropyLoss(), x, t, batch_size=8), model.predict(x)
    assert gpu[0][0] == pytest.approx(cpu[0][0], rel=1e-5) and gpu[0][1] == cpu[0][1]
    np.testing.assert_allclose(gpu[1], cpu[1], rtol=1e-5, atol=1e-6)
    model.train()
    assert not np.allclose(model.predict(x, training=True), gpu[1])  # the modes differ
