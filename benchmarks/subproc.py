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
