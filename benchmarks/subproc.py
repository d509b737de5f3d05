"""Small helpers shared by the benchmark scripts that run fresh processes (no NumPy here:
jit_times.py times ``import numbann`` in processes that import this module first)."""

import argparse
import json
import os

#: the variables that fix each library's thread count when it loads
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
               "NUMBA_NUM_THREADS")


def threads():
    return int(os.environ.get("NUMBANN_BENCH_THREADS", "2"))


def thread_env(**extra):
    """A copy of os.environ with every library pinned to ``NUMBANN_BENCH_THREADS`` threads."""
    env = dict(os.environ)
    for var in THREAD_VARS:
        env[var] = str(threads())
    env.setdefault("JAX_PLATFORMS", "cpu")
    env.update(extra)
    return env


def bench_cpus():
    """The CPUs a measuring process may run on: the first ``NUMBANN_BENCH_THREADS`` of
    this process's (all of them on a machine with no more cores than that)."""
    if not hasattr(os, "sched_getaffinity"):
        return None
    return sorted(os.sched_getaffinity(0))[:threads()]


def restrict_cpus():
    """Run this process on :func:`bench_cpus` only. Called in a child before it starts
    Python (``preexec_fn``), every thread any library creates inherits the set — JAX,
    which has no thread-count setting, sizes its pool from it."""
    cpus = bench_cpus()
    if cpus is not None:
        os.sched_setaffinity(0, cpus)


def run_pinned(cmd, **kwargs):
    """subprocess.Popen(cmd) with every library pinned: the thread variables set in its
    environment and its CPUs restricted, both before anything loads."""
    import subprocess

    kwargs.setdefault("env", thread_env())
    preexec = restrict_cpus if hasattr(os, "sched_setaffinity") else None
    return subprocess.Popen(cmd, preexec_fn=preexec, **kwargs)


def script_main(doc, child, run_all, table, argv=None):
    """The command line of a measuring script: ``--child MODE`` runs one measurement in
    this (fresh) process; otherwise run them all, print the table, save ``--json``."""
    p = argparse.ArgumentParser(description=doc.split("\n")[0])
    p.add_argument("--child", help=argparse.SUPPRESS)
    p.add_argument("--json", help="also write the raw figures to this file")
    args = p.parse_args(argv)
    if args.child:
        child(args.child)
        return
    res = run_all()
    if args.json:
        with open(args.json, "w") as f:
            json.dump(res, f, indent=1)
    print(table(res))
