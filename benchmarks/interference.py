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

* ``after numpy`` / ``after torch``: 0.2 s of aggressor calls, then victim
  calls, timed in windows of time since the aggressor stopped (three times);
* ``interleaved numpy`` / ``interleaved torch``: aggressor and victim
  alternate call by call (a benchmark loop that mixes libraries);
* ``numpy after numbann``: the reverse direction (NumPy's product is timed).

Each process first times the victim alone (after a second of idling), and
reports the scenario's time as a multiple of that — so that a change of the
machine's load between processes cancels out; each scenario runs in three
processes and the table gives the median. All of it under the default
settings and with ``OPENBLAS_THREAD_TIMEOUT=4`` (idle workers sleep at once).
Usage::

    python benchmarks/interference.py            # table on stdout
    python benchmarks/interference.py --json F   # also the raw figures to F
"""

import functools
import json
import subprocess
import sys
import time

from subproc import script_main, thread_env, threads

THREADS = str(threads())
WINDOWS = ((0.0, 0.01), (0.01, 0.05), (0.05, 0.1), (0.1, 0.2), (0.2, 0.5))


REPEATS = 3


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

        torch_mm = functools.partial(torch.mm, ta, tb, out=tc)
        torch_mm()

    def numbann_dot():
        victim_dot(a, b, c)

    def numpy_dot():
        np.dot(a, b, out=c2)

    reverse = scenario == "numpy after numbann"
    victim = numpy_dot if reverse else numbann_dot
    aggressor = numbann_dot if reverse else torch_mm if "torch" in scenario else numpy_dot
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

    # the baseline, in this same process just before: the victim alone after idling
    time.sleep(0.5)
    base = float(np.median([d for _, d in timed_calls(victim, 0.3)]))
    result = {"scenario": scenario, "alone_us": 1e6 * base}
    if scenario.startswith("interleaved"):
        times = []
        end = clock() + 0.5
        while clock() < end:
            aggressor()
            t0 = clock()
            victim()
            times.append(clock() - t0)
        result["ratio"] = float(np.median(times)) / base
    else:
        windows = {w: [] for w in WINDOWS}
        for _ in range(3):
            time.sleep(0.6)
            timed_calls(aggressor, 0.2)
            stop = clock()
            for t0, d in timed_calls(victim, WINDOWS[-1][1]):
                for lo, hi in WINDOWS:
                    if lo <= t0 - stop < hi:
                        windows[(lo, hi)].append(d)
        result["windows"] = {f"{int(lo * 1e3)}–{int(hi * 1e3)} ms":
                             float(np.median(v)) / base if v else None
                             for (lo, hi), v in windows.items()}
    print(json.dumps(result))


SCENARIOS = ("after numpy", "interleaved numpy", "after torch", "interleaved torch",
             "numpy after numbann")
SETTINGS = (("default", {}), ("OPENBLAS_THREAD_TIMEOUT=4", {"OPENBLAS_THREAD_TIMEOUT": "4"}))


def run_all(have_torch, repeats=REPEATS):
    """Every scenario under every setting, *repeats* fresh processes each."""
    results = []
    for label, extra in SETTINGS:
        env = thread_env(**extra)
        for scenario in SCENARIOS:
            if "torch" in scenario and not have_torch:
                continue
            for _ in range(repeats):
                out = subprocess.run([sys.executable, __file__, "--child", scenario], env=env,
                                     capture_output=True, text=True, check=True)
                res = json.loads(out.stdout.strip().splitlines()[-1])
                res["setting"] = label
                results.append(res)
    return results


def _median(values):
    values = sorted(v for v in values if v is not None)
    if not values:
        return None
    mid = len(values) // 2
    return values[mid] if len(values) % 2 else 0.5 * (values[mid - 1] + values[mid])


def table(results):
    """Markdown: the victim's time in each scenario over its time alone in the same process
    (median over the repeated processes), per setting."""
    settings = [s for s, _ in SETTINGS]
    lines = ["| scenario | " + " | ".join(settings) + " |", "|---|" + "---:|" * len(settings)]
    rows = {}
    alone = {}
    for r in results:
        who = "numpy" if r["scenario"] == "numpy after numbann" else "numbann"
        alone.setdefault((who, r["setting"]), []).append(r["alone_us"])
        if "windows" in r:
            for w, v in r["windows"].items():
                name = (f"NumPy's product, {w} after numbann's stopped"
                        if r["scenario"] == "numpy after numbann"
                        else f"numbann's product, {w} after {r['scenario'][6:]}'s stopped")
                rows.setdefault(name, {}).setdefault(r["setting"], []).append(v)
        else:
            name = f"numbann's product alternating call by call with {r['scenario'][12:]}'s"
            rows.setdefault(name, {}).setdefault(r["setting"], []).append(r["ratio"])
    for who in ("numbann", "numpy"):
        cells = [_median(alone.get((who, s), [])) for s in settings]
        lines.append(f"| {who}'s product alone (µs) | "
                     + " | ".join(f"{c:.0f} µs" if c else "—" for c in cells) + " |")
    for name, by_setting in rows.items():
        cells = [_median(by_setting.get(s, [])) for s in settings]
        lines.append(f"| {name} | " + " | ".join(f"{c:.2f}×" if c else "—" for c in cells) + " |")
    return "\n".join(lines)


def main(argv=None):
    import importlib.util

    have_torch = importlib.util.find_spec("torch") is not None
    script_main(__doc__, child, lambda: run_all(have_torch), table, argv)


if __name__ == "__main__":
    main()
