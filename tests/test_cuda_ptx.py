"""Every CUDA kernel, for every dtype it supports, compiled to PTX for Ampere and Hopper.

``numba.cuda.compile_ptx`` needs no GPU. The float32 kernels must be
float32 throughout: a single float64 literal or intermediate shows up as
``.f64`` instructions (and runs at 1/2 to 1/64 of the float32 rate). No
kernel may use a float ``max``/``min`` instruction: PTX ``max.f32`` (what
numba-cuda makes of a float ``max``, via libdevice ``fmaxf``) returns the
non-NaN operand, so ReLU(NaN) would be 0 on a GPU — something the simulator,
which runs Python's ``max``, cannot show. If ``ptxas`` is on PATH, the
register, spill and shared-memory use of each kernel is printed, and the
float32 kernels must not spill.
"""

import re
import shutil
import subprocess
import types
from functools import cache

import numpy as np
import pytest

from numbann._config import CUDA_TILE
from numbann._cuda import SIMULATOR, cuda

pytestmark = pytest.mark.skipif(
    cuda is None or SIMULATOR,
    reason="needs Numba's CUDA target (numbann[cuda]), not the simulator")

if cuda is not None and not SIMULATOR:
    from numbann.kernels.cuda import MODULES
else:  # pragma: no cover
    MODULES = ()

CCS = [(8, 0), (9, 0)]
DTYPES = [np.float32, np.float64]
KERNELS = [(mod, name, np.dtype(dt)) for mod in MODULES for dt in DTYPES
           for name in mod.signatures(dt)]


def _short(mod):
    return mod.__name__.rsplit(".", 1)[-1]


@pytest.fixture(scope="module", autouse=True)
def _compute_capability_without_a_gpu():
    """numba-cuda 0.30 asks the driver for the compute capability when it types
    a call to a device function (dispatcher.compile_device), even inside
    compile_ptx; without a GPU, stand in a device that reports one."""
    if cuda is None or SIMULATOR or cuda.is_available():
        yield
        return
    mp = pytest.MonkeyPatch()
    mp.setattr(cuda.dispatcher, "get_current_device",
               lambda: types.SimpleNamespace(compute_capability=CCS[0]))
    yield
    mp.undo()


@cache
def ptx_of(mod, name, dtype, cc):
    kernel = getattr(mod.kernels(dtype), name)
    ptx, _ = cuda.compile_ptx(kernel.py_func, mod.signatures(dtype)[name], cc=cc)
    return ptx


@pytest.mark.parametrize("mod", MODULES, ids=_short)
@pytest.mark.parametrize("dtype", DTYPES)
def test_every_kernel_has_a_signature(mod, dtype):
    assert set(vars(mod.kernels(dtype))) == set(mod.signatures(dtype))


@pytest.mark.parametrize("mod,name,dtype", KERNELS,
                         ids=[f"{_short(m)}.{n}-{d.name}" for m, n, d in KERNELS])
def test_compiles_to_ptx_and_float32_stays_float32(mod, name, dtype):
    for cc in CCS:
        ptx = ptx_of(mod, name, dtype, cc)
        assert f".target sm_{cc[0]}{cc[1]}" in ptx
        assert ptx.count(".entry ") == 1
        f64 = [line.strip() for line in ptx.splitlines() if re.search(r"\.f64\b", line)]
        if dtype == np.float32:
            assert not f64, f"{name} float32 has float64 PTX:\n" + "\n".join(f64[:20])
        else:
            assert f64, f"{name} float64 compiled without a float64 instruction"


#: a float max/min instruction (any rounding or NaN modifier), or a libdevice call to one
_FLOAT_MINMAX = re.compile(r"\b(?:max|min)(?:\.\w+)*\.f(?:16|32|64)\b|__nv_f(?:max|min)")


@pytest.mark.parametrize("mod,name,dtype", KERNELS,
                         ids=[f"{_short(m)}.{n}-{d.name}" for m, n, d in KERNELS])
def test_no_float_max_or_min_that_would_drop_nan(mod, name, dtype):
    for cc in CCS:
        found = [line.strip() for line in ptx_of(mod, name, dtype, cc).splitlines()
                 if _FLOAT_MINMAX.search(line)]
        assert not found, f"{name} {dtype.name} sm_{cc[0]}{cc[1]}:\n" + "\n".join(found[:10])


def test_the_float_max_check_sees_what_a_python_max_compiles_to():
    """The pattern above matches what a float ``max`` in a kernel turns into."""
    import numba

    def relu_with_max(x, y):
        i = cuda.grid(1)
        if i < x.size:
            y[i] = max(x[i], numba.float32(0))

    ptx, _ = cuda.compile_ptx(relu_with_max, (numba.float32[::1], numba.float32[::1]),
                              cc=CCS[0])
    assert _FLOAT_MINMAX.search(ptx)


_PTXAS_ENTRY = re.compile(r"Compiling entry function '(\w+)' for 'sm_(\d+)'")
_PTXAS_USE = re.compile(r"Used (\d+) registers")
_PTXAS_SPILL = re.compile(r"(\d+) bytes spill stores, (\d+) bytes spill loads")
_PTXAS_SMEM = re.compile(r"(\d+) bytes smem")


def _ptxas(ptx, cc, tmp_path):
    path = tmp_path / "k.ptx"
    path.write_text(ptx)
    proc = subprocess.run(["ptxas", f"-arch=sm_{cc[0]}{cc[1]}", "-v", str(path), "-o", "/dev/null"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    info = proc.stdout + proc.stderr
    assert _PTXAS_ENTRY.search(info), info
    regs = int(_PTXAS_USE.search(info).group(1))
    spill = _PTXAS_SPILL.search(info)
    smem = _PTXAS_SMEM.search(info)
    return regs, int(spill.group(1)) + int(spill.group(2)), int(smem.group(1)) if smem else 0


@pytest.mark.skipif(shutil.which("ptxas") is None, reason="ptxas not on PATH")
def test_ptxas_resources(tmp_path, capsys):
    rows, spilled = [], []
    for mod, name, dtype in KERNELS:
        for cc in CCS:
            regs, spills, smem = _ptxas(ptx_of(mod, name, dtype, cc), cc, tmp_path)
            rows.append((f"{_short(mod)}.{name}", dtype.name, f"sm_{cc[0]}{cc[1]}", regs, spills,
                         smem))
            if spills and dtype == np.float32:
                spilled.append(rows[-1])
            if name.startswith("gemm"):  # two (TILE, TILE + 1) operand tiles
                assert smem >= 2 * CUDA_TILE * (CUDA_TILE + 1) * dtype.itemsize
            assert regs <= 255
    with capsys.disabled():
        print("\nptxas -v (CUDA launch config from numbann._config):")
        print(f"  {'kernel':<30}{'dtype':<9}{'arch':<7}{'regs':>5}{'spill B':>9}{'smem B':>8}")
        for row in rows:
            print(f"  {row[0]:<30}{row[1]:<9}{row[2]:<7}{row[3]:>5}{row[4]:>9}{row[5]:>8}")
    assert not spilled, spilled
