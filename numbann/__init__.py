"""numbann: dense neural networks made fast with Numba.

Compiled CPU (and CUDA) kernels for the forward and backward passes,
activations, losses, optimizers and numerical gradients, under a small
PyTorch-like object layer, covering chapters 3 to 6 of
「ゼロから作るDeep Learning」.

    import numbann as nb
    model = nb.Sequential(nb.Linear(64, 32), nb.ReLU(), nb.Linear(32, 10))
    loss_fn = nb.CrossEntropyLoss()
    opt = nb.optim.SGD(model.parameters(), lr=0.01)
"""

from . import datasets, functional, gradient, models, optim
from ._info import show_config
from ._version import __version__
from ._warmup import warmup
from .autograd import LossValue, enable_grad, is_grad_enabled, no_grad
from .gradient import GradCheck, gradient_check
from .layers import Identity, Linear, ReLU, Sigmoid, Softmax, Step, Tanh, manual_seed
from .losses import BCEWithLogitsLoss, CrossEntropyError, CrossEntropyLoss, MSELoss, SumSquaredError
from .normalization import BatchNorm1d, BatchNormalization, Dropout
from .parameter import Parameter
from .sequential import Sequential
from .serialization import load, save
from .training import (
    Callback,
    EarlyStopping,
    History,
    ModelCheckpoint,
    Trainer,
    TrainingDiverged,
    evaluate,
    fit,
)


def __getattr__(name):
    # numbann.plot imports matplotlib, which is slow: load it on first use only
    if name == "plot":
        import importlib

        return importlib.import_module(".plot", __name__)
    raise AttributeError(f"module 'numbann' has no attribute {name!r}")


__all__ = [
    "__version__", "show_config", "functional", "gradient", "datasets", "models", "optim",
    "Parameter", "Linear", "Identity", "ReLU", "Sigmoid", "Softmax", "Step", "Tanh",
    "manual_seed", "Sequential", "gradient_check", "GradCheck", "CrossEntropyLoss",
    "CrossEntropyError", "MSELoss", "SumSquaredError", "BCEWithLogitsLoss", "save", "load",
    "fit", "evaluate", "Trainer", "History", "Callback", "EarlyStopping", "ModelCheckpoint",
    "TrainingDiverged", "plot", "warmup", "no_grad", "enable_grad", "is_grad_enabled",
    "LossValue", "BatchNorm1d", "BatchNormalization", "Dropout",
]
