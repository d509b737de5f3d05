"""Subnormal numbers flushed to zero inside numbann's compiled calls, and only there.

Decaying state — Adam's moments, momentum and RMSProp averages where a gradient
stays zero (weights fed by MNIST's always-black border pixels) — sinks into
subnormal floats, and on Intel cores every operation on a subnormal takes a
microcode assist of about a hundred cycles (a batch-1 Adam step measured 9×
slower). So every compiled entry point of numbann runs with the x86 MXCSR
bits FTZ (results that would be subnormal become 0) and DAZ (subnormal inputs
read as 0) set, and puts the caller's MXCSR back — rounding mode, exception
masks and flags — before it returns:

    csr = fp_enter()
    … the kernel's work …
    fp_leave(csr)

Parallel functions do it only in the body of each parallel chunk: Numba's
worker threads start at a function's first parallel launch (an ``np.zeros``
is one) and inherit the launching thread's state for good, so that must be
the caller's. Values below the smallest
normal float (1.2e-38 in float32, 2.2e-308 in float64) lose nothing a network
can use. OpenBLAS's own worker threads keep their settings; what they read
was written by numbann's loops, so it holds no subnormals. On other
architectures (aarch64 cores handle subnormals at full speed) both functions
do nothing.
"""

import platform

from llvmlite import ir
from numba import types
from numba.extending import intrinsic

from .._config import jit

#: whether this machine has the x86 SSE control register
X86 = platform.machine().lower() in ("x86_64", "amd64", "i386", "i686", "x86")

#: MXCSR bits: flush-to-zero (bit 15) and denormals-are-zero (bit 6)
FTZ_DAZ = 0x8040

_I8P = ir.IntType(8).as_pointer()
_I32 = ir.IntType(32)


def _csr_call(builder, name, slot):
    fnty = ir.FunctionType(ir.VoidType(), [_I8P])
    fn = builder.module.declare_intrinsic(name, fnty=fnty)
    builder.call(fn, [builder.bitcast(slot, _I8P)])


@intrinsic
def _read_csr(typingctx):
    """The thread's MXCSR (0 off x86)."""

    def codegen(context, builder, signature, args):
        if not X86:
            return ir.Constant(_I32, 0)
        slot = builder.alloca(_I32)
        _csr_call(builder, "llvm.x86.sse.stmxcsr", slot)
        return builder.load(slot)

    return types.uint32(), codegen


@intrinsic
def _write_csr(typingctx, value):
    """Set the thread's MXCSR to the low 32 bits of *value* (nothing off x86)."""
    if not isinstance(value, types.Integer):
        return None

    def codegen(context, builder, signature, args):
        if X86:
            slot = builder.alloca(_I32)
            low = args[0]
            if value.bitwidth > 32:
                low = builder.trunc(low, _I32)
            elif value.bitwidth < 32:
                low = builder.zext(low, _I32)
            builder.store(low, slot)
            _csr_call(builder, "llvm.x86.sse.ldmxcsr", slot)
        return context.get_dummy_value()

    return types.void(value), codegen


@jit
def fp_enter():
    """Set FTZ and DAZ for this thread; returns the caller's MXCSR for :func:`fp_leave`."""
    csr = _read_csr()
    _write_csr(csr | FTZ_DAZ)
    return csr


@jit
def fp_leave(csr):
    """Put back the MXCSR that :func:`fp_enter` returned."""
    _write_csr(csr)


@jit
def fp_state():
    """The calling thread's MXCSR (0 off x86): for tests and diagnostics."""
    return _read_csr()
