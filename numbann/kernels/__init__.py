"""Compiled kernels: pure functions on arrays, outputs passed in.

One module per concern — :mod:`.activations`, :mod:`.dense`, :mod:`.losses`,
:mod:`.optim`, :mod:`.numgrad`, :mod:`.engine`, and :mod:`.plan` (the layout of
a network in its flat buffers) — for the CPU (``@njit``), and
twins with the same names under :mod:`numbann.kernels.cuda`. Nothing here
imports from the object layer; callers validate shapes, dtypes and index
ranges first, because compiled code does not check bounds.
"""
