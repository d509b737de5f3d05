"""numbann.sklearn.MLPClassifier against scikit-learn's: fit time, accuracy, compile, n_jobs=2.

    python benchmarks/sklearn_bench.py [--data DIR] [--repeats 3] [--cold] [--json FILE]

Fit: 784-100-10, ReLU, Adam, batch 200, 5 epochs (max_iter=5) on the 60,000 MNIST
training images (float32 for both libraries), test accuracy on the 10,000 test
images; wall and CPU seconds, and numbann.fit alone on the same network (what the
estimator adds is the difference). Each library runs in its own fresh process
with every thread pool pinned to NUMBANN_BENCH_THREADS (default 2) threads
(OMP/OPENBLAS/MKL/NUMBA_NUM_THREADS).
numbann's process first fits 1 epoch on 1,000 images: that call loads the compiled
engine from Numba's cache (or compiles it) and is reported as "first fit"; the
timed fits then pay no compile (their ``jit_time_`` is shown). ``--cold`` also
times that first fit with an empty cache (NUMBA_CACHE_DIR in a temporary
folder): the compile a fresh installation pays once.

Search throughput: the same 8 trials (784-100-10, 2 epochs on 10,000 images,
3-fold; a GridSearchCV over alpha × learning_rate_init) run serially on one
thread, then with ``n_jobs=2`` on joblib's process pool, whose workers are started
and warmed by a first search that is timed apart. That process is not pinned:
loky gives each worker cores // n_jobs threads, as for a user who sets nothing.
Trials per trial-time = serial time / parallel time: about 2 on 2 idle cores.

Prints the medians, the ratios, the CPU and the load average before and after;
on a shared machine the figures are indicative only.
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

from subproc import THREAD_VARS, thread_env

HERE = Path(__file__).resolve()
FIT = dict(hidden_layer_sizes=(100,), activation="relu", solver="adam", batch_size=200,
           max_iter=5)


def load(data):
    import numbann as nb

    return nb.datasets.load_mnist(normalize=True, data_dir=data, download=data is None)


def engine_fit(x, t, seed):
    """numbann.fit on the estimator's network and settings: what the estimator wraps."""
    import numbann as nb

    model = nb.Sequential(nb.Linear(784, 100, rng=seed), nb.ReLU(), nb.Linear(100, 10, rng=seed))
    model.weight_decay_lambda = 1e-4 / 200  # alpha / batch size
    nb.fit(model, nb.CrossEntropyLoss(), nb.optim.Adam(model.parameters(), lr=1e-3), x, t,
           epochs=5, batch_size=200, seed=seed, verbose=0)


def child_fit(library, data, repeats):
    """Time fit() *repeats* times: wall and CPU seconds, test accuracy, jit_time_; for
    numbann also the first fit of the process and numbann.fit alone."""
    warnings.simplefilter("ignore")  # ConvergenceWarning: 5 epochs are meant
    (x, t), (x_test, t_test) = load(data)
    if library == "numbann":
        from numbann.sklearn import MLPClassifier
    else:
        from sklearn.neural_network import MLPClassifier
    out = {"times": [], "cpu": [], "accuracy": [], "jit_time": [], "engine": []}
    if library == "numbann":
        start = time.perf_counter()
        MLPClassifier(**{**FIT, "max_iter": 1}, random_state=0).fit(x[:1000], t[:1000])
        out["first_fit"] = time.perf_counter() - start
    for seed in range(repeats):
        est = MLPClassifier(**FIT, random_state=seed)
        start, cpu = time.perf_counter(), time.process_time()
        est.fit(x, t)
        out["times"].append(time.perf_counter() - start)
        out["cpu"].append(time.process_time() - cpu)
        out["accuracy"].append(float(est.score(x_test, t_test)))
        out["jit_time"].append(getattr(est, "jit_time_", None))
        if library == "numbann":
            start = time.perf_counter()
            engine_fit(x, t, seed)
            out["engine"].append(time.perf_counter() - start)
    return out


def child_search(data):
    """Serial and n_jobs=2 searches of the same 8 trials; their wall times."""
    warnings.simplefilter("ignore")
    from sklearn.model_selection import GridSearchCV

    from numbann.sklearn import MLPClassifier

    (x, t), _ = load(data)
    x, t = x[:10000], t[:10000]
    grid = {"alpha": [1e-4, 1e-2], "learning_rate_init": [1e-3, 3e-3, 1e-2, 3e-2]}
    est = MLPClassifier(hidden_layer_sizes=(100,), max_iter=2, random_state=0)

    def search(n_jobs, **params):
        start = time.perf_counter()
        GridSearchCV(est.set_params(**params), grid, cv=3, n_jobs=n_jobs).fit(x, t)
        return time.perf_counter() - start

    search(1, n_threads=1)  # warm this process
    out = {"serial_1_thread": search(1, n_threads=1), "serial_default": search(1,
                                                                                n_threads=None)}
    out["pool_start_and_first_search"] = search(2, n_threads=None)
    out["parallel"] = search(2, n_threads=None)
    out["trials"] = 8 * 3
    return out


def run_child(args, env=None):
    cmd = [sys.executable, str(HERE), "--child", *args]
    done = subprocess.run(cmd, capture_output=True, text=True, env=env or thread_env())
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{done.stdout}\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def cpu_name():
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def median(values):
    values = sorted(values)
    return values[len(values) // 2]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", help="directory of the MNIST .gz files (default: load_mnist's)")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--cold", action="store_true", help="also time a compile from scratch")
    p.add_argument("--no-search", action="store_true", help="skip the n_jobs=2 check")
    p.add_argument("--json", help="also write the raw figures to this file")
    p.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    data = args.data
    if args.child:
        kind = args.child[0]
        res = child_search(data) if kind == "search" else child_fit(kind, data, args.repeats)
        print(json.dumps(res))
        return
    passed = ["--repeats", str(args.repeats)] + (["--data", data] if data else [])
    load_before = os.getloadavg()
    res = {"cpu": cpu_name(), "threads": thread_env()["NUMBA_NUM_THREADS"]}
    res["numbann"] = run_child(["numbann", *passed])
    res["sklearn"] = run_child(["sklearn", *passed])
    if args.cold:
        with tempfile.TemporaryDirectory() as cache:
            res["cold"] = run_child(["numbann", "--repeats", "0", *passed[2:]],
                                    thread_env(NUMBA_CACHE_DIR=cache))
    if not args.no_search:  # unpinned: loky gives its workers cores // n_jobs threads
        unpinned = {k: v for k, v in os.environ.items() if k not in THREAD_VARS}
        res["search"] = run_child(["search", *passed], unpinned)
    res["load_average"] = [load_before, os.getloadavg()]
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=1))
    print(report(res))


def report(res):
    nb_, sk = res["numbann"], res["sklearn"]
    t_nb, t_sk = median(nb_["times"]), median(sk["times"])
    acc_nb = sum(nb_["accuracy"]) / len(nb_["accuracy"])
    acc_sk = sum(sk["accuracy"]) / len(sk["accuracy"])
    lines = [
        f"CPU: {res['cpu']}, {res['threads']} threads per library",
        "fit, 784-100-10, Adam, batch 200, 5 epochs on 60,000 MNIST images (median of "
        f"{len(nb_['times'])}):",
        f"  scikit-learn  {t_sk:7.3f} s (CPU {median(sk['cpu']):6.3f} s)   test accuracy "
        f"{acc_sk:.4f}",
        f"  numbann       {t_nb:7.3f} s (CPU {median(nb_['cpu']):6.3f} s)   test accuracy "
        f"{acc_nb:.4f}   (jit_time_ {max(nb_['jit_time']):.4f} s)",
        f"  numbann.fit alone, same network and settings: {median(nb_['engine']):.3f} s",
        f"  numbann is {t_sk / t_nb:.2f}x faster; accuracy {100 * (acc_nb - acc_sk):+.2f} points",
        f"numbann's first fit in a fresh process (loads the engine from Numba's cache): "
        f"{nb_['first_fit']:.2f} s",
    ]
    if "cold" in res:
        lines.append(f"numbann's first fit with an empty cache (compiles): "
                     f"{res['cold']['first_fit']:.1f} s")
    if "search" in res:
        s = res["search"]
        lines += [
            f"search of {s['trials']} fits (8 settings x 3 folds, 2 epochs on 10,000 images):",
            f"  serial, 1 thread        {s['serial_1_thread']:7.2f} s",
            f"  serial, default threads {s['serial_default']:7.2f} s",
            f"  n_jobs=2 (pool warm)    {s['parallel']:7.2f} s   -> "
            f"{s['serial_1_thread'] / s['parallel']:.2f} trials per trial-time",
            f"  n_jobs=2, first search  {s['pool_start_and_first_search']:7.2f} s (starts the "
            "workers, loads numbann and its compiled engine in each)",
        ]
    before, after = res["load_average"]
    lines.append(f"load average before {before[0]:.2f}, after {after[0]:.2f} "
                 "(a busy machine makes every figure above indicative only)")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
