"""Models on the GPU: .to('cuda'), the step-by-step API, fit and evaluate on the device,
against the same work on the CPU (tiny shapes; the simulator is slow)."""

import numpy as np
import pytest

import numbann as nb

N, D, H, C = 21, 9, 6, 4  # batches of 8, 8 and 5 rows


@pytest.fixture
def data(rng):
    x = rng.standard_normal((N, D)).astype(np.float32)
    t = rng.integers(0, C, N)
    return x, t


def model(act=nb.Tanh, seed=0, dtype=np.float32):
    return nb.Sequential(nb.Linear(D, H, rng=seed, dtype=dtype), act(),
                         nb.Linear(H, C, rng=seed + 1, dtype=dtype))


def test_to_cuda_and_back_keeps_values_and_views():
    m = model()
    before = m.flat_parameters.copy()
    assert m.to("cuda") is m and m.device == "cuda"
    assert hasattr(m.flat_parameters, "copy_to_host")
    assert hasattr(m[0].weight.data, "copy_to_host") and m[0].weight.shape == (D, H)
    np.testing.assert_array_equal(m.state_dict()["0.weight"], before[:D * H].reshape(D, H))
    assert "device='cuda'" in repr(m[0].weight)
    m.cpu()
    assert m.device == "cpu" and isinstance(m.flat_parameters, np.ndarray)
    np.testing.assert_array_equal(m.flat_parameters, before)
    assert np.shares_memory(m[0].weight.data, m.flat_parameters)


def test_step_by_step_api_on_the_device(data):
    x, t = data
    runs = {}
    for device in ("cpu", "cuda"):
        m = model().to(device)
        opt = nb.optim.Adam(m.parameters(), lr=0.01)
        loss_fn = nb.CrossEntropyLoss()
        losses = []
        for _ in range(3):
            opt.zero_grad()
            y = m(x)
            losses.append(loss_fn(y, t))
            m.backward(loss_fn.backward())
            opt.step()
        assert m.device == device
        runs[device] = (m.to("cpu").flat_parameters.copy(), losses, m.predict(x))
    np.testing.assert_allclose(runs["cuda"][1], runs["cpu"][1], rtol=1e-5)
    np.testing.assert_allclose(runs["cuda"][0], runs["cpu"][0], rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("engine", ["compiled", "objects"])
@pytest.mark.parametrize("make_opt", [
    lambda m: nb.optim.SGD(m.parameters(), lr=0.1, momentum=0.9),
    lambda m: nb.optim.RMSProp(m.parameters(), lr=0.01, centered=True),
], ids=["momentum", "rmsprop"])
def test_fit_on_the_device_equals_the_cpu(data, engine, make_opt):
    x, t = data
    results = {}
    for device in ("cpu", "cuda"):
        m = model(act=nb.ReLU)
        opt = make_opt(m)
        hist = nb.fit(m, nb.CrossEntropyLoss(), opt, x, t, epochs=2, batch_size=8, seed=5,
                      verbose=0, engine=engine, device=device, validation_data=(x[:7], t[:7]))
        assert hist.params["device"] == device and hist.params["engine"] == engine
        results[device] = (m.to("cpu").flat_parameters.copy(), hist)
    (p_cpu, h_cpu), (p_gpu, h_gpu) = results["cpu"], results["cuda"]
    np.testing.assert_allclose(p_gpu, p_cpu, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(h_gpu.train_loss_list, h_cpu.train_loss_list, rtol=1e-5)
    assert h_gpu.history["accuracy"] == h_cpu.history["accuracy"]
    np.testing.assert_allclose(h_gpu.history["val_loss"], h_cpu.history["val_loss"], rtol=1e-5)


def test_evaluate_and_predict_on_the_device(data):
    x, t = data
    m = model()
    cpu = nb.evaluate(m, nb.CrossEntropyLoss(), x, t, batch_size=8)
    scores = m.predict(x)
    m.to("cuda")
    gpu = nb.evaluate(m, nb.CrossEntropyLoss(), x, t, batch_size=8)
    assert gpu[0] == pytest.approx(cpu[0], rel=1e-5) and gpu[1] == cpu[1]
    out = m.predict(x, batch_size=5)
    assert isinstance(out, np.ndarray)
    np.testing.assert_allclose(out, scores, rtol=1e-5, atol=1e-6)
    assert m.accuracy(x, t) == cpu[1]


def test_divergence_on_the_device_keeps_the_last_finite_parameters(data):
    x, _ = data
    target = np.ones((N, C), np.float32)
    params = {}
    for device in ("cpu", "cuda"):
        m = nb.Sequential(nb.Linear(D, C, rng=3))
        with pytest.raises(nb.TrainingDiverged, match="at epoch") as info:
            nb.fit(m, nb.MSELoss(), nb.optim.SGD(m.parameters(), lr=30.0), x * 10, target,
                   epochs=4, batch_size=8, seed=0, verbose=0, device=device)
        params[device] = (m.to("cpu").flat_parameters.copy(), info.value.history)
    assert np.isfinite(params["cuda"][0]).all()
    assert len(params["cuda"][1].train_loss_list) == len(params["cpu"][1].train_loss_list)
    np.testing.assert_allclose(params["cuda"][0], params["cpu"][0], rtol=1e-3)


def test_save_load_and_optimizer_state_across_devices(data, tmp_path):
    x, t = data
    m = model().to("cuda")
    opt = nb.optim.Adam(m.parameters(), lr=0.01)
    nb.fit(m, nb.CrossEntropyLoss(), opt, x, t, epochs=1, batch_size=8, verbose=0, seed=1)
    assert hasattr(opt.state_rows, "copy_to_host")  # the state moved with the model
    nb.save(m, tmp_path / "gpu.npz", optimizer=opt)
    back, opt2 = nb.load(tmp_path / "gpu.npz", with_optimizer=True)
    assert back.device == "cpu"
    np.testing.assert_array_equal(back.flat_parameters, m.flat_parameters.copy_to_host())
    np.testing.assert_array_equal(opt2.state["exp_avg"], opt.state["exp_avg"].copy_to_host())
    m.to("cpu")
    nb.fit(m, nb.CrossEntropyLoss(), opt, x, t, epochs=1, batch_size=8, verbose=0, seed=2)
    assert isinstance(opt.state_rows, np.ndarray)


def test_single_output_accuracy_counts_like_the_cpu(rng):
    x = rng.standard_normal((N, D)).astype(np.float32)
    t = (rng.uniform(size=(N, 1)) > 0.5).astype(np.float32)
    m = nb.Sequential(nb.Linear(D, 1, rng=0))
    cpu = nb.evaluate(m, nb.BCEWithLogitsLoss(), x, t)
    m.to("cuda")
    gpu = nb.evaluate(m, nb.BCEWithLogitsLoss(), x, t)
    assert gpu[1] == cpu[1] and gpu[0] == pytest.approx(cpu[0], rel=1e-5)


class _ForeignGPUArray:
    """What a PyTorch CUDA tensor or a CuPy array looks like from the outside."""

    shape = (N, D)
    __cuda_array_interface__ = {"shape": (N, D), "typestr": "<f4", "data": (0, False),
                                "version": 3}

    def size(self):
        return self.shape


def test_device_arrays_are_taken_and_other_libraries_gpu_arrays_refused(data):
    from numbann._cuda import cuda

    x, t = data
    m = model().to("cuda")
    np.testing.assert_array_equal(m(cuda.to_device(x)).copy_to_host(),
                                  m(x).copy_to_host())
    with pytest.raises(TypeError, match=r"another library.*as_cuda_array"):
        m(_ForeignGPUArray())
    with pytest.raises(TypeError, match=r"another library"):
        nb.fit(m, nb.CrossEntropyLoss(), nb.optim.SGD(m.parameters(), lr=0.1),
               _ForeignGPUArray(), t, epochs=1, verbose=0)
