"""GPU arrays of other libraries (CuPy, PyTorch CUDA tensors) are refused with a clear error.

They carry ``__cuda_array_interface__`` but not a Numba device array's API
(a PyTorch tensor's ``.size`` is a method, its ``.dtype`` a torch dtype), so
numbann does not take them as they are, on either device; the error says how
to pass them. A stand-in with the interface plays the foreign array: no GPU
and neither library are needed.
"""

import numpy as np
import pytest

import numbann as nb
from numbann.device import CPU, backend_of, is_device_array


class ForeignGPUArray:
    """What a PyTorch CUDA tensor looks like from the outside."""

    def __init__(self, shape):
        self.shape = shape

    def size(self):
        return self.shape

    @property
    def __cuda_array_interface__(self):
        return {"shape": self.shape, "typestr": "<f4", "data": (0, False), "version": 3}


MESSAGE = r"GPU array of another library.*numba\.cuda\.as_cuda_array"


def test_is_device_array_refuses_foreign_gpu_arrays():
    assert not is_device_array(np.zeros(3)) and not is_device_array([1.0, 2.0])
    with pytest.raises(TypeError, match=MESSAGE) as info:
        is_device_array(ForeignGPUArray((2, 3)))
    assert "ForeignGPUArray" in str(info.value)
    for check in (CPU.holds, backend_of):
        with pytest.raises(TypeError, match=MESSAGE):
            check(ForeignGPUArray((2, 3)))


def test_the_object_layer_refuses_them_on_the_cpu(rng):
    model = nb.Sequential(nb.Linear(3, 2, rng=0))
    loss_fn = nb.CrossEntropyLoss()
    with pytest.raises(TypeError, match=MESSAGE):
        model(ForeignGPUArray((4, 3)))
    with pytest.raises(TypeError, match=MESSAGE):
        model.predict(ForeignGPUArray((4, 3)))
    y = model(rng.standard_normal((4, 3)))
    with pytest.raises(TypeError, match=MESSAGE):
        loss_fn(y, ForeignGPUArray((4,)))
    with pytest.raises(TypeError, match=MESSAGE):
        nb.fit(model, loss_fn, nb.optim.SGD(model.parameters(), lr=0.1),
               ForeignGPUArray((4, 3)), np.zeros(4, np.int64), epochs=1, verbose=0)
