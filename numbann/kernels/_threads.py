"""Threads that meet inside compiled code: the data-parallel engine's team.

:func:`run_team` calls a compiled ``worker(t, *args)`` (compiled with ``nogil``)
on T threads at once: t = 0 in the caller's thread, 1 … T − 1 in Python threads
started for the call. Inside the compiled code the workers meet with
:func:`meet`, a barrier on an int64 *sync* array: sync[0] counts arrivals (it
only grows: meeting g is complete when it reaches g·T) and sync[1] ≠ 0 tells the
waiting workers that one of them failed, so none waits forever. A worker waits
by spinning (with x86's ``pause``); its share of each step is the same size as
the others', so waits are short.

The team replaces a ``prange`` over the threads: no parallel region is opened
per step, and no Numba parallel compile (its gufunc re-optimises every function
the loop calls, about 14 s of the first fit's compile).
"""

import threading

import numpy as np
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

from .._config import jit
from ._fpenv import X86


def _item_pointer(context, builder, signature, args):
    aryty = signature.args[0]
    ary = context.make_array(aryty)(context, builder, args[0])
    return cgutils.get_item_pointer(context, builder, aryty, ary, [args[1]])


def _int64_vector(arr):
    return isinstance(arr, types.Array) and arr.dtype == types.int64 and arr.ndim == 1


@intrinsic
def atomic_add(typingctx, arr, index, value):
    """arr[index] += value as one atomic operation (sequentially consistent); returns the
    old value. arr: int64 (n,)."""
    if not _int64_vector(arr):
        return None

    def codegen(context, builder, signature, args):
        ptr = _item_pointer(context, builder, signature, args)
        return builder.atomic_rmw("add", ptr, args[2], "seq_cst")

    return types.int64(arr, types.intp, types.int64), codegen


@intrinsic
def atomic_load(typingctx, arr, index):
    """arr[index] read atomically (sequentially consistent). arr: int64 (n,)."""
    if not _int64_vector(arr):
        return None

    def codegen(context, builder, signature, args):
        return builder.load_atomic(_item_pointer(context, builder, signature, args),
                                   "seq_cst", 8)

    return types.int64(arr, types.intp), codegen


@intrinsic
def spin_pause(typingctx):
    """Tell the core this thread is spinning (x86 ``pause``; nothing elsewhere)."""
    def codegen(context, builder, signature, args):
        if X86:
            fnty = ir.FunctionType(ir.VoidType(), [])
            builder.call(cgutils.get_or_insert_function(builder.module, fnty,
                                                        "llvm.x86.sse2.pause"), [])
        return context.get_dummy_value()

    return types.void(), codegen


@jit
def meet(sync, meeting, threads):
    """Arrive at meeting number *meeting* (1, 2, … for each worker) and wait until all
    *threads* workers have; False (at once) if a worker has failed."""
    atomic_add(sync, 0, 1)
    target = meeting * threads
    while atomic_load(sync, 0) < target:
        if atomic_load(sync, 1) != 0:
            return False
        spin_pause()
    return True


def new_sync():
    """A fresh int64 (2,) sync array: no arrivals, no failure."""
    return np.zeros(2, np.int64)


def run_team(worker, threads, args, sync=None):
    """``worker(t, *args, sync)`` for t = 0 … threads − 1 at once (see the module
    docstring; *sync* a fresh :func:`new_sync` unless given); returns worker 0's result.
    An exception in any worker marks *sync* failed, so the others stop waiting, and is
    raised here once all have returned."""
    sync = new_sync() if sync is None else sync
    errors = []

    def run(t):
        try:
            return worker(np.int64(t), *args, sync)
        except BaseException as error:  # noqa: BLE001  (re-raised below, in the caller)
            sync[1] = 1
            errors.append(error)
            return None

    team = [threading.Thread(target=run, args=(t,), daemon=True) for t in range(1, threads)]
    for thread in team:
        thread.start()
    try:
        result = run(0)
    finally:
        for thread in team:
            thread.join()
    if errors:
        raise errors[0]
    return result
