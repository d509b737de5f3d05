"""numbann: dense neural networks made fast with Numba.

Compiled CPU (and CUDA) kernels for the forward and backward passes,
activations, losses, optimizers and numerical gradients, under a small
PyTorch-like object layer, covering chapters 3 to 6 of
「ゼロから作るDeep Learning」.
"""

from . import functional, gradient
from ._version import __version__
from ._info import show_config

__all__ = ["__version__", "functional", "gradient", "show_config"]
