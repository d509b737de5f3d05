"""Shared benchmark machinery: thread pinning, environment facts, timing and checks.

:func:`pin` gives every library the same number of threads
(``NUMBANN_BENCH_THREADS``, default 2). conftest.py calls it when the
benchmarks are timed — not in the quick, untimed run inside the regular test
suite, which must not change the thread settings of the other tests. It
sets ``OMP_NUM_THREADS``, ``OPENBLAS_NUM_THREADS``, ``MKL_NUM_THREADS`` and
``NUMBA_NUM_THREADS`` (read by each library when it loads; ``python -m
benchmarks.report`` already sets them in the environment of the pytest
process, so they are in place before anything loads), restricts the process
to that many CPUs on a larger machine (JAX has no thread-count setting; it
sizes its pool from the cores it may use), sets Numba's thread count and,
with threadpoolctl installed, re-applies the limit to every BLAS and OpenMP
pool already loaded (NumPy's and SciPy's OpenBLAS; PyTorch's OpenMP when its
fixture loads it).
"""

import os
import platform
import sys
import time

import numpy as np
from subproc import THREAD_VARS

try:
    from threadpoolctl import threadpool_info, threadpool_limits
except ImportError:  # optional: the environment variables do the job in a fresh process
    threadpool_info = threadpool_limits = None

THREADS = int(os.environ.get("NUMBANN_BENCH_THREADS", "2"))

#: seconds to let other libraries' spinning worker threads go idle before timing
QUIESCE = float(os.environ.get("NUMBANN_BENCH_QUIESCE", "0.3"))

#: seconds of timed calls a benchmark with rounds="auto" aims at (5 to 30 rounds)
BUDGET = float(os.environ.get("NUMBANN_BENCH_BUDGET", "4"))
MIN_ROUNDS, MAX_ROUNDS = 5, 30

#: implementation names, in the order the results list them
IMPLS = ("numbann", "numbann-objects", "numpy", "torch", "jax", "yardstick")

#: whether :func:`pin` ran in this process
PINNED = False


def pin():
    """Pin every library in this process to THREADS threads (see the module docstring)."""
    global PINNED
    for var in THREAD_VARS:
        os.environ.setdefault(var, str(THREADS))
    if hasattr(os, "sched_getaffinity"):
        cpus = sorted(os.sched_getaffinity(0))
        if len(cpus) > THREADS:
            os.sched_setaffinity(0, cpus[:THREADS])
    import numba
    import scipy.linalg  # noqa: F401  (loads SciPy's OpenBLAS — numbann's — to limit it too)

    numba.set_num_threads(min(THREADS, numba.config.NUMBA_NUM_THREADS))
    PINNED = True
    limit_pools()


def limit_pools():
    """Re-apply the thread limit to every BLAS/OpenMP pool loaded now (threadpoolctl)."""
    if PINNED and threadpool_limits is not None:
        threadpool_limits(limits=THREADS)


def versions():
    import numba
    import scipy

    import numbann

    out = {"python": platform.python_version(), "numbann": numbann.__version__,
           "numba": numba.__version__, "numpy": np.__version__, "scipy": scipy.__version__}
    for name in ("torch", "jax", "jaxlib", "threadpoolctl", "pytest_benchmark"):
        mod = sys.modules.get(name)
        if mod is not None:
            out[name] = getattr(mod, "__version__", "?")
    return out


def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def pools():
    """[(library, api, threads)] of the thread pools loaded now (threadpoolctl)."""
    if threadpool_info is None:
        return []
    return [(os.path.basename(p["filepath"]), p.get("internal_api"), p["num_threads"])
            for p in threadpool_info()]


def machine_facts(machine_info):
    """Add CPU, threads, versions and thread pools to pytest-benchmark's machine_info."""
    import numba

    machine_info["cpu_model"] = cpu_name()
    machine_info["bench_threads"] = THREADS
    machine_info["cpus_usable"] = (len(os.sched_getaffinity(0))
                                   if hasattr(os, "sched_getaffinity") else os.cpu_count())
    machine_info["versions"] = versions()
    machine_info["thread_env"] = {k: os.environ.get(k) for k in (
        *THREAD_VARS, "OPENBLAS_THREAD_TIMEOUT", "NUMBANN_BENCH_QUIESCE", "XLA_FLAGS")}
    machine_info["numba_threads"] = numba.get_num_threads()
    try:
        machine_info["numba_threading_layer"] = numba.threading_layer()
    except ValueError:
        machine_info["numba_threading_layer"] = f"not started ({numba.config.THREADING_LAYER})"
    machine_info["thread_pools"] = [list(p) for p in pools()]


def impl_version(impl):
    v = versions()
    if impl in ("numbann", "numbann-objects"):
        return f"numbann {v['numbann']} / numba {v['numba']}"
    if impl == "yardstick":
        return f"numba {v['numba']} np.dot → scipy {v['scipy']} OpenBLAS"
    if impl == "numpy":
        return f"numpy {v['numpy']}"
    return f"{impl} {v.get(impl, '?')}"


def measure(benchmark, fn, *, group, impl, rounds=None, setup=None, **info):
    """Time *fn* in *group* as implementation *impl*; returns fn's last result.

    The caller has already called fn once (JIT/XLA warm-up and the agreement
    check), so compilation is never timed. With *rounds* the benchmark runs
    in pedantic mode (one call per round, *setup* before each); ``"auto"``
    times one more call first and takes as many rounds as fill ``BUDGET``
    seconds (between 5 and 30) — long calls (epochs) get few rounds, short
    ones enough to ride out a passing disturbance on a shared machine.
    Otherwise pytest-benchmark calibrates the iterations per round. *info*
    (shapes, flops, …) goes to ``extra_info`` with the implementation, its
    version, threads and dtype.
    """
    benchmark.group = group
    if info.get("api") is None:
        info.pop("api", None)
    benchmark.extra_info.update(impl=impl, version=impl_version(impl), threads=THREADS,
                                dtype="float32", **info)
    if rounds == "auto":
        rounds = MIN_ROUNDS
        if benchmark.enabled:
            if setup is not None:
                setup()
            t0 = time.perf_counter()
            fn()
            once = time.perf_counter() - t0
            rounds = max(MIN_ROUNDS, min(MAX_ROUNDS, int(BUDGET / max(once, 1e-9))))
    if benchmark.enabled and QUIESCE > 0:
        time.sleep(QUIESCE)
    if rounds is not None:
        return benchmark.pedantic(fn, setup=setup, rounds=rounds, iterations=1)
    return benchmark(fn)


def assert_params_agree(flat, ref, net, steps, what="", eval_data=None):
    """Parameters after *steps* identical steps agree with the NumPy reference.

    SGD: every parameter within float32 rounding. Adam normalises each update
    by √v, so rounding-level differences in a gradient (another summation
    order) can move a weight by up to lr per step, and once a ReLU flips the
    trajectories part ways a little (JAX's XLA does this within ten steps):
    there every parameter must stay within 2·lr·steps of the reference, and
    the loss of the trained network on *eval_data* (x, t) within 1e-3
    (relative) of the reference network's.
    """
    flat, ref = np.asarray(flat, np.float64), np.asarray(ref, np.float64)
    assert flat.shape == ref.shape
    assert np.all(np.isfinite(flat)), f"{what}: non-finite parameters"
    diff = np.abs(flat - ref)
    if net.opt == "sgd":
        tol = 2e-5 + 1e-4 * np.abs(ref)
        assert np.all(diff <= tol), (
            f"{what}: parameters differ from the NumPy reference by up to {diff.max():.3g}")
        return
    assert diff.max() <= 2 * net.lr * steps + 1e-5, (
        f"{what}: a parameter differs by {diff.max():.3g}")
    if eval_data is not None:
        from reference_numpy import NumGradNet

        x, t = eval_data
        x = np.asarray(x, np.float64)
        got, want = NumGradNet(net, flat).loss(x, t), NumGradNet(net, ref).loss(x, t)
        assert abs(got - want) <= 1e-3 * abs(want), (
            f"{what}: evaluation loss {got:.6g} vs the reference's {want:.6g}")


def assert_loss_agree(loss, ref, what=""):
    assert loss is not None and np.isfinite(loss), f"{what}: loss {loss}"
    assert abs(float(loss) - float(ref)) <= 1e-4 * max(1.0, abs(float(ref))), (
        f"{what}: loss {float(loss):.7g} vs NumPy reference {float(ref):.7g}")
