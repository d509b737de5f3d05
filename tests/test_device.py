"""Device selection on a machine without a GPU: clear errors, nothing half-moved."""

import numpy as np
import pytest

import numbann as nb
from numbann._cuda import CudaUnavailableError, cuda_status
from numbann.device import device_name

pytestmark = pytest.mark.skipif(cuda_status()[0], reason="a GPU (or the simulator) is present")


def test_to_cuda_without_a_gpu_fails_clearly_and_leaves_the_model_usable(rng):
    model = nb.Sequential(nb.Linear(3, 2, rng=0))
    before = model.flat_parameters.copy()
    with pytest.raises(CudaUnavailableError, match="device 'cuda' requested but"):
        model.to("cuda")
    assert model.device == "cpu"
    np.testing.assert_array_equal(model.flat_parameters, before)
    assert model(rng.standard_normal((2, 3))).shape == (2, 2)


def test_fit_on_cuda_without_a_gpu_fails_clearly():
    x, t = nb.datasets.load_digits(normalize=True)
    model = nb.Sequential(nb.Linear(64, 10, rng=0))
    with pytest.raises(CudaUnavailableError, match="cuda"):
        nb.fit(model, nb.CrossEntropyLoss(), nb.optim.SGD(model.parameters(), lr=0.1), x, t,
               epochs=1, verbose=0, device="cuda")


def test_device_names():
    assert device_name("CPU") == "cpu" and device_name("cuda:0") == "cuda"
    with pytest.raises(ValueError, match="one GPU"):
        device_name("cuda:1")
    with pytest.raises(ValueError, match="'cpu' or 'cuda'"):
        device_name("tpu")
    model = nb.Sequential(nb.Linear(3, 2))
    with pytest.raises(ValueError, match=r"to\(\) takes a device"):
        model.to("tpu")
