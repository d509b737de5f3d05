"""How one library's idle BLAS/OpenMP threads slow another library's next matrix products.

NumPy and SciPy ship separate OpenBLAS builds (NumPy's ``scipy_openblas64_``,
SciPy's ``scipy_openblas`` — the one Numba's ``np.dot`` and so numbann call),
each with its own pool of worker threads, and PyTorch brings its own OpenMP
runtime. After a call, an OpenBLAS worker keeps spinning for
``2**OPENBLAS_THREAD_TIMEOUT`` CPU cycles (default 2**28, ≈ 0.1 s here)
before it sleeps, and an OpenMP worker spins similarly. On two cores, a
library that runs while another one's workers spin gets only part of the
machine — which is what happens when a benchmark suite alternates between
implementations.

This script measures it. The *victim* is numbann's product (Numba ``np.dot``
→ SciPy's OpenBLAS) of a 784-256-128-10 layer at batch 128
((128, 784) @ (784, 256)); the *aggressor* is the same product through
NumPy (its own OpenBLAS) or PyTorch. Each scenario runs in a fresh process:

* ``alone``: victim calls back to back after a second of idling;
* ``after numpy`` / ``after torch``: 0.2 s of aggressor calls, then victim
  calls, timed in windows of time since the aggressor stopped;
* ``interleaved numpy`` / ``interleaved torch``: aggressor and victim
  alternate call by call (a benchmark loop that mixes libraries);
* ``numpy after numbann``: the reverse direction.

…under the default settings and with ``OPENBLAS_THREAD_TIMEOUT=4`` (workers
sleep at once). Usage::

    python benchmarks/interference.py            # table on stdout
    python benchmarks/interference.py --json F   # also the raw figures to F
"""

import json
import subprocess
import sys
import time

from subproc import script_main, thread_env, threads

THREADS = str(threads())
WINDOWS = ((0.0, 0.01), (0.01, 0.05), (0.05, 0.1), (0.1, 0.2), (0.2, 0.5))


def child(scenario):
    import numpy as np
    from numba import njit

    @njit(cache=True)
    def victim_dot(a, b, c):
        np.dot(a, b, c)

    rng = np.random.default_rng(0)
    a = rng.random((128, 784), dtype=np.float32)
    b = rng.standard_normal((784, 256)).astype(np.float32)
    c = np.empty((128, 256), np.float32)
    c2 = np.empty_like(c)
    victim_dot(a, b, c)  # compile / load
    np.dot(a, b, out=c2)

    torch_mm = None
    if "torch" in scenario:
        import torch

        torch.set_num_threads(int(THREADS))
        ta, tb, tc = torch.from_numpy(a), torch.from_numpy(b), torch.from_numpy(c2)

        def torch_mm():
            torch.mm(ta, tb, out=tc)
        torch_mm()

    def victim():
        victim_dot(a, b, c)

    def numpy_dot():
        np.dot(a, b, out=c2)

    aggressor = torch_mm if "torch" in scenario else numpy_dot
    clock = time.perf_counter

    def timed_calls(fn, seconds):
        out, end = [], clock() + seconds
        while True:
            t0 = clock()
            fn()
            t1 = clock()
            out.append((t0, t1 - t0))
            if t1 > end:
                return out

    result = {"scenario": scenario}
    if scenario == "alone":
        time.sleep(1.0)
        calls = timed_calls(victim, 0.5)
        result["median_us"] = 1e6 * float(np.median([d for _, d in calls]))
    elif scenario.startswith("interleaved"):
        times = []
        end = clock() + 0.5
        while clock() < end:
            aggressor()
            t0 = clock()
            victim()
            times.append(clock() - t0)
        result["median_us"] = 1e6 * float(np.median(times))
    elif scenario in ("after numpy", "after torch", "numpy after numbann"):
        first, second = ((victim, numpy_dot) if scenario == "numpy after numbann"
                         else (aggressor, victim))
        windows = {w: [] for w in WINDOWS}
        for _ in range(5):
            time.sleep(1.0)
            timed_calls(first, 0.2)
            stop = clock()
            for t0, d in timed_calls(second, WINDOWS[-1][1]):
                for lo, hi in WINDOWS:
                    if lo <= t0 - stop < hi:
                        windows[(lo, hi)].append(d)
        result["windows_us"] = {f"{int(lo * 1e3)}-{int(hi * 1e3)} ms":
                                1e6 * float(np.median(v)) if v else None
                                for (lo, hi), v in windows.items()}
        if scenario == "numpy after numbann":
            time.sleep(1.0)
            result["median_us"] = 1e6 * float(np.median([d for _, d in
                                                         timed_calls(numpy_dot, 0.5)]))
    print(json.dumps(result))


SCENARIOS = ("alone", "after numpy", "interleaved numpy", "after torch", "interleaved torch",
             "numpy after numbann")
SETTINGS = (("default", {}), ("OPENBLAS_THREAD_TIMEOUT=4", {"OPENBLAS_THREAD_TIMEOUT": "4"}))


def run_all(have_torch):
    results = []
    for label, extra in SETTINGS:
        env = thread_env(**extra)
        for scenario in SCENARIOS:
            if "torch" in scenario and not have_torch:
                continue
            out = subprocess.run([sys.executable, __file__, "--child", scenario], env=env,
                                 capture_output=True, text=True, check=True)
            res = json.loads(out.stdout.strip().splitlines()[-1])
            res["setting"] = label
            results.append(res)
    return results


def table(results):
    """Markdown: victim time per scenario and setting, and the slowdown against 'alone'."""
    lines = []
    settings = [s for s, _ in SETTINGS]
    alone = {r["setting"]: r["median_us"] for r in results if r["scenario"] == "alone"}
    head = "| scenario (victim: numbann's (128,784)@(784,256) product) | " + " | ".join(
        settings) + " |"
    lines += [head, "|---|" + "---:|" * len(settings)]

    def cell(r, v):
        base = alone[r["setting"]] if r["scenario"] != "numpy after numbann" else r["median_us"]
        return f"{v:.1f} µs ({v / base:.2f}×)" if v is not None else "—"

    rows = {}
    for r in results:
        if "windows_us" in r:
            for w, v in r["windows_us"].items():
                name = (f"{r['scenario']}, {w} later" if r["scenario"] != "numpy after numbann"
                        else f"NumPy's product right after numbann's, {w} later")
                rows.setdefault(name, {})[r["setting"]] = cell(r, v)
        else:
            rows.setdefault(r["scenario"], {})[r["setting"]] = cell(r, r["median_us"])
    for name, cells in rows.items():
        lines.append(f"| {name} | " + " | ".join(cells.get(s, "—") for s in settings) + " |")
    return "\n".join(lines)


def main(argv=None):
    import importlib.util

    have_torch = importlib.util.find_spec("torch") is not None
    script_main(__doc__, child, lambda: run_all(have_torch), table, argv)


if __name__ == "__main__":
    main()
