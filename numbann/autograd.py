"""Tapes: what each forward keeps for its own backward, and the loss values that run it.

A forward of a module in grad mode (the default) records a :class:`Tape` —
the module, what each of its layers saved, and the version of its
parameters — and ties it to the output array it returns. A loss called on
that output returns a :class:`LossValue`, a float that also holds ∂L/∂y and
the tape, so ``loss.backward()`` back-propagates exactly the forward the loss
came from and adds into every ``.grad``, as in PyTorch. Several forwards can
be alive at once; a tape lives as long as its output array or a loss value
refers to it, and its saved arrays are freed by the first backward unless
``retain_graph=True``. Under ``with no_grad():`` a forward keeps nothing.

Misuse raises :class:`RuntimeError` instead of giving a wrong gradient:
backward of a loss made under ``no_grad``, a second backward through a freed
tape, and backward after the parameters changed (an optimizer step, a load,
a move) since the forward.
"""

import functools
import threading
import weakref

import numpy as np

__all__ = ["no_grad", "enable_grad", "is_grad_enabled", "LossValue", "Tape"]

_mode = threading.local()


def is_grad_enabled():
    """Whether forwards in this thread keep tapes (True unless inside :class:`no_grad`)."""
    return getattr(_mode, "enabled", True)


class _GradMode:
    enabled = True

    def __enter__(self):
        self._previous = is_grad_enabled()
        _mode.enabled = self.enabled
        return self

    def __exit__(self, *exc):
        _mode.enabled = self._previous
        return False

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with type(self)():
                return fn(*args, **kwargs)

        return wrapper


class no_grad(_GradMode):
    """Context manager (or decorator): forwards inside keep no tape, so they cost no
    memory for a backward and their losses cannot be back-propagated."""

    enabled = False


class enable_grad(_GradMode):
    """Context manager (or decorator) that turns tapes back on inside :class:`no_grad`."""

    enabled = True


class Tape:
    """One forward of *module*: the arrays its backward needs (*saved*, the module's own
    format), its *output* and the parameters' version at the time.

    The output is held here; the caller gets another array object over the same
    memory (:func:`record`), so a tape never keeps alive the object it is found by.
    """

    __slots__ = ("module", "saved", "output", "version")

    def __init__(self, module, saved, output):
        self.module = module
        self.saved = saved
        self.output = output
        self.version = module._parameter_version()

    def backward(self, grad, retain_graph=False, **kwargs):
        """Run the module's backward for ∂L/∂output *grad* (added into ``.grad``); returns
        what the module's ``_backward`` returns. Frees the saved arrays unless
        *retain_graph*."""
        if self.saved is None:
            raise RuntimeError(
                "Trying to backward through the same forward a second time: its saved "
                "arrays were freed by the first backward. Run the forward again, or pass "
                "retain_graph=True to the first backward.")
        if self.module._parameter_version() != self.version:
            raise RuntimeError(
                "the parameters changed (an optimizer step, load_state_dict, to(), …) after "
                "the forward this gradient belongs to, so its saved activations no longer "
                "match them. Run the forward again after the step: zero_grad, forward, loss, "
                "backward, step.")
        saved = self.saved
        if not retain_graph:
            self.saved = None
        return self.module._backward(saved, grad, **kwargs)


#: id(array) → (weak reference to the array, the tape it came from)
_origins = {}


def _forget(key, ref):
    entry = _origins.get(key)
    if entry is not None and entry[0] is ref:
        del _origins[key]


def attach(array, tape):
    """Record that *array* is the output (or the loss gradient) of *tape*'s forward."""
    key = id(array)
    _origins[key] = (weakref.ref(array, functools.partial(_forget, key)), tape)


def record(module, saved, output):
    """Tape one forward of *module* and return the array to hand to the caller: a new
    view of *output* that finds the tape (see :func:`tape_of`)."""
    tape = Tape(module, saved, output)
    user = output.view() if isinstance(output, np.ndarray) else output.reshape(output.shape)
    attach(user, tape)
    return tape, user


def tape_of(array):
    """The tape *array* was attached to, or None."""
    entry = _origins.get(id(array))
    if entry is not None and entry[0]() is array:
        return entry[1]
    return None


class LossValue(float):
    """A loss: a Python float (arithmetic, comparisons, formatting, ``float()``,
    ``np.isfinite``, JSON) with :meth:`item` and :meth:`backward`.

    ``backward()`` adds ∂L/∂p to every ``.grad`` of the model whose forward produced
    the prediction; arithmetic on the value gives plain floats.
    """

    __slots__ = ("_grad", "_tape", "_why")

    def __new__(cls, value, grad=None, tape=None, why=None):
        obj = super().__new__(cls, value)
        obj._grad, obj._tape, obj._why = grad, tape, why
        return obj

    def item(self):
        """The value as a plain float."""
        return float(self)

    def backward(self, retain_graph=False):
        """Back-propagate this loss through the forward it was computed from, adding into
        every parameter's ``.grad`` (call the optimizer's ``zero_grad()`` first)."""
        if self._tape is None:
            raise RuntimeError(f"this loss cannot be back-propagated: {self._why}")
        self._tape.backward(self._grad, retain_graph)

    def __reduce__(self):  # pickles (e.g. in a History) as the plain float
        return (float, (float(self),))
