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
from pathlib import Path

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

#: the libraries, each timed in its own process (``python -m benchmarks.report`` runs one
#: pytest process per library, ``--bench-impl``), with the implementations it provides —
#: the library's forms, in the order the results list them: "numbann" is the compiled
#: engine (nb.fit, model.predict, …) and "numbann-objects" the step-by-step object API;
#: "jax" is JAX's strongest form (an epoch or a run of steps under one jitted lax.scan) and
#: "jax-step" its loop of jitted steps; "yardstick" the workload's matrix products alone
LIBRARIES = {
    "numbann": ("numbann", "numbann-objects"),
    "numpy": ("numpy",),
    "torch": ("torch",),
    "jax": ("jax", "jax-step"),
    "yardstick": ("yardstick",),
}
#: every implementation, in the order the results list them
IMPLS = tuple(impl for impls in LIBRARIES.values() for impl in impls)
#: the library that provides each implementation
LIBRARY_OF = {impl: lib for lib, impls in LIBRARIES.items() for impl in impls}

def parse_impls(value):
    """The implementations a ``--bench-impl`` value names ("numbann,torch": libraries
    stand for all their implementations); None for an empty value (all of them)."""
    if not value:
        return None
    out = []
    for name in value.split(","):
        name = name.strip()
        if name not in LIBRARIES and name not in IMPLS:
            raise ValueError(f"unknown implementation {name!r} (libraries: "
                             f"{', '.join(LIBRARIES)}; implementations: {', '.join(IMPLS)})")
        out.extend(LIBRARIES.get(name, (name,)))
    return tuple(dict.fromkeys(out))


def split_items(items, keep, root):
    """(kept, dropped) pytest items: a benchmark under *root* is kept when its ``impl``
    parameter is in *keep*; tests elsewhere (tests/ in the same run) are left alone."""
    chosen, dropped = [], []
    for item in items:
        params = getattr(item, "callspec", None)
        impl = params.params.get("impl") if params else None
        ours = Path(root) in Path(item.path).parents
        (chosen if impl in keep or not ours else dropped).append(item)
    return chosen, dropped


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


#: the instruction-set extensions RESULTS.md names (Linux /proc/cpuinfo spelling)
ISA_FLAGS = ("sse4_2", "avx", "avx2", "fma", "f16c", "avx_vnni", "avx512f", "avx512dq",
             "avx512bw", "avx512vl", "avx512_vnni", "avx512_bf16", "avx512_fp16", "amx_tile",
             "amx_bf16", "amx_int8", "amx_fp16")


def _llvm_feature(flag):
    if flag.startswith("amx_"):
        return flag.replace("_", "-")
    return "sse4.2" if flag == "sse4_2" else flag.replace("_", "")


def cpu_facts():
    """{'model', 'vendor', 'flags', 'simd', 'llvm_cpu'} of this machine's CPU.

    *flags*: which of :data:`ISA_FLAGS` it has (from /proc/cpuinfo, else from LLVM's
    view of the host); *simd*: the widest vector extension among them (AMX, AVX-512,
    AVX2, …); *llvm_cpu*: the CPU Numba compiles for (``NUMBA_CPU_NAME`` or LLVM's host
    CPU, e.g. ``znver3`` or ``sapphirerapids``).
    """
    info = {}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if not line.strip():
                    break  # the first processor's block is enough
                key, _, value = line.partition(":")
                info[key.strip()] = value.strip()
    except OSError:
        pass
    import llvmlite.binding as ll

    if "flags" in info:
        flags = [f for f in ISA_FLAGS if f in info["flags"].split()]
    else:  # LLVM spells them sse4.2, avxvnni, avx512vnni, amx-tile
        features = ll.get_host_cpu_features()
        flags = [f for f in ISA_FLAGS if features.get(_llvm_feature(f))]
    simd = ("AMX" if "amx_tile" in flags else "AVX-512" if "avx512f" in flags
            else "AVX2" if "avx2" in flags else "AVX" if "avx" in flags
            else "SSE4.2" if "sse4_2" in flags else platform.machine())
    return {"model": info.get("model name") or platform.processor() or platform.machine(),
            "vendor": info.get("vendor_id"), "flags": flags, "simd": simd,
            "llvm_cpu": os.environ.get("NUMBA_CPU_NAME") or ll.get_host_cpu_name()}


def pools():
    """The thread pools loaded now (threadpoolctl), one dict each: library file, user and
    internal API (e.g. blas / openblas), version, threads, and where the library says,
    its kernels' architecture (OpenBLAS: e.g. Haswell, SkylakeX) and threading layer."""
    if threadpool_info is None:
        return []
    keys = ("user_api", "internal_api", "version", "num_threads", "architecture",
            "threading_layer")
    return [{"library": os.path.basename(p["filepath"]),
             **{k: p[k] for k in keys if p.get(k) is not None}} for p in threadpool_info()]


def numba_threading_layer():
    """The threading layer Numba's parallel loops use in this process. It is chosen when
    the first parallel function runs; in a process that ran none, a tiny one runs now (the
    benchmarks are over by then) — unless this process never loaded Numba."""
    if "numba" not in sys.modules:
        return "Numba not loaded"
    import numba

    try:
        return numba.threading_layer()
    except ValueError:
        pass
    from yardstick import parallel_probe

    parallel_probe(numba.get_num_threads())
    return numba.threading_layer()


def core_scaling(threads=THREADS, repeats=5):
    """How much work *threads* threads do at once, as a multiple of one thread's:
    ``{"vector": x, "chain": y}`` for vectorised multiply-adds (which need the core's
    execution units) and for a dependent scalar chain (which mostly waits on latency);
    the fastest of *repeats* tries alone over the fastest of *repeats* tries together.

    Two full cores give about 2 for both. Two vCPUs that are SMT siblings of one core
    give about 1 for vector work (they share its units) and about 2 for the chain; a host
    that time-slices them gives about 1 for both. Matrix products behave like the vector
    work, so this says how much a second thread can speed up any library here."""
    import threading

    from yardstick import chain_work, vector_work

    ys = [np.ones(2048, np.float32) for _ in range(threads)]
    work = {"vector": (vector_work, lambda k, size: (ys[k], size), 40_000),
            "chain": (chain_work, lambda k, size: (size,), 40_000_000)}

    def together(fn, make, size):
        team = [threading.Thread(target=fn, args=make(k, size)) for k in range(threads)]
        t0 = time.perf_counter()
        for th in team:
            th.start()
        for th in team:
            th.join()
        return time.perf_counter() - t0

    out = {}
    for name, (fn, make, size) in work.items():
        fn(*make(0, 1))  # compile (or load from the cache) first
        alone, both = [], []
        for _ in range(repeats):
            t0 = time.perf_counter()
            fn(*make(0, size))
            alone.append(time.perf_counter() - t0)
            both.append(together(fn, make, size))
        out[name] = round(threads * min(alone) / min(both), 2)
    return out


def machine_facts(machine_info, impls=None):
    """Add CPU, threads, versions and thread pools to pytest-benchmark's machine_info
    (*impls*: the implementations this process timed, None for all)."""
    cpu = cpu_facts()
    machine_info["cpu_model"] = cpu["model"]
    machine_info["cpu_facts"] = cpu
    machine_info["bench_threads"] = THREADS
    machine_info["bench_impls"] = list(impls) if impls else list(IMPLS)
    machine_info["cpus_usable"] = (len(os.sched_getaffinity(0))
                                   if hasattr(os, "sched_getaffinity") else os.cpu_count())
    machine_info["versions"] = versions()
    machine_info["thread_env"] = {k: os.environ.get(k) for k in (
        *THREAD_VARS, "OPENBLAS_THREAD_TIMEOUT", "NUMBANN_BENCH_QUIESCE", "XLA_FLAGS")}
    machine_info["numba_threading_layer"] = numba_threading_layer()
    if "numba" in sys.modules:
        machine_info["numba_threads"] = sys.modules["numba"].get_num_threads()
    machine_info["thread_pools"] = pools()
    machine_info["core_scaling"] = core_scaling()


def impl_version(impl):
    v = versions()
    lib = LIBRARY_OF[impl]
    if lib == "numbann":
        return f"numbann {v['numbann']} / numba {v['numba']}"
    if lib == "yardstick":
        return f"numba {v['numba']} np.dot → scipy {v['scipy']} OpenBLAS"
    return f"{lib} {v.get(lib, '?')}"


def measure(benchmark, fn, *, group, impl, api, form=None, rounds=None, setup=None, **info):
    """Time *fn* in *group* as implementation *impl* calling *api*; returns fn's last result.

    The caller has already called fn once (JIT/XLA warm-up and the agreement
    check), so compilation is never timed. With *rounds* the benchmark runs
    in pedantic mode (one call per round, *setup* before each); ``"auto"``
    times one more call first and takes as many rounds as fill ``BUDGET``
    seconds (between 5 and 30) — long calls (epochs) get few rounds, short
    ones enough to ride out a passing disturbance on a shared machine.
    Otherwise pytest-benchmark calibrates the iterations per round. *info*
    (shapes, flops, …) goes to ``extra_info`` with the implementation, the API
    timed (every result says which: "nb.fit (compiled engine)", "torch eager",
    "jax lax.scan", …), its version, threads and dtype. *form* names a second
    row of the same implementation in a group (e.g. the object API's textbook
    form beside its default one); RESULTS.md lists such rows in the group's
    table only.
    """
    if impl not in IMPLS or not api:
        raise ValueError(f"measure: unknown implementation {impl!r} or no api ({api!r})")
    benchmark.group = group
    benchmark.extra_info.update(impl=impl, api=api, version=impl_version(impl),
                                threads=THREADS, dtype="float32", **info)
    if form is not None:
        benchmark.extra_info["form"] = form
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
