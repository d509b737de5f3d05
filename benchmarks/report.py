"""Run the benchmark suite and write benchmarks/RESULTS.md and benchmarks/results.png.

One command, from the repository root (the ``bench`` extra brings PyTorch and
JAX; without them their rows are skipped with the reason)::

    pip install -e ".[test,bench]" && python -m benchmarks.report

It runs, each in fresh processes with every library pinned to the same
thread count (``NUMBANN_BENCH_THREADS``, default 2: the thread variables set
and the CPUs restricted before the process starts, so before any library
loads):

1. ``benchmarks/jit_times.py`` — cold compile and warm-cache start-up
   (``--skip-jit`` leaves it out);
2. ``benchmarks/interference.py`` — how one library's idle BLAS threads slow
   another's (``--skip-interference``);
3. the pytest-benchmark suite, timed, **one process per library** (numbann's
   engine and object API; NumPy; PyTorch; JAX's lax.scan and jit-step forms;
   the yardstick — see ``harness.LIBRARIES``), so that no library's thread
   pools fight another's::

       python -m pytest benchmarks --benchmark-enable --benchmark-only \\
           --bench-impl=LIBRARY --benchmark-json=… --benchmark-max-time=2

all of them in ``--passes`` passes (default 2, every other pass in reverse order;
each benchmark keeps the pass with the lower median, and every pass's median), then
merges the processes' JSON into one pytest-benchmark JSON (saved in
``.benchmarks/`` as pytest-benchmark's autosave would, so that ``python -m
pytest benchmarks --benchmark-enable --benchmark-compare`` later compares a
change against it), and writes ``benchmarks/results.json`` (the condensed
figures, with each process's thread pools), ``benchmarks/RESULTS.md``
(tables of medians, min/max, rounds, ratios numbann/peer and
implementation/yardstick, the speed targets, the environment and date),
``benchmarks/results.png`` (bar chart) and the results table of
``docs/performance.md``. It takes about fifteen minutes a pass (each calibrated
benchmark samples for up to 2 s; long ones run 5 to 30 rounds filling about
4 s).

Other uses::

    python -m benchmarks.report -k epoch            # only groups matching a pytest -k
    python -m benchmarks.report --libraries numbann,jax   # only these processes
    python -m benchmarks.report --budget 1 --max-time 0.2 --out /tmp/r   # a short trial
    python -m benchmarks.report --from-json FILE    # re-render from a pytest-benchmark JSON
    python -m benchmarks.report --render-only       # re-render from benchmarks/results.json

``--out DIR`` writes RESULTS.md, results.json and results.png to DIR instead
(and leaves docs/performance.md alone).
"""

import argparse
import datetime as _dt
import json
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from harness import IMPLS, LIBRARIES  # noqa: E402
from subproc import run_pinned, thread_env  # noqa: E402

ROOT = HERE.parent
PERF_DOC = ROOT / "docs" / "performance.md"
WORK = ROOT / ".benchmarks" / "numbann-report"

COMMAND = 'pip install -e ".[test,bench]" && python -m benchmarks.report'
IMPL_ORDER = IMPLS
IMPL_LABEL = {
    "numbann": "numbann",
    "numbann-objects": "numbann objects",
    "numpy": "NumPy (textbook style)",
    "torch": "PyTorch",
    "jax": "JAX",
    "jax-step": "JAX, jit steps",
    "yardstick": "yardstick",
}
PEERS = ("numpy", "torch", "jax", "jax-step")
COLORS = {"numbann": "#d62728", "numbann-objects": "#ff9896", "numpy": "#1f77b4",
          "torch": "#ff7f0e", "jax": "#2ca02c", "jax-step": "#98df8a", "yardstick": "#7f7f7f"}
SECTION_ORDER = ("epoch", "decayed step", "step", "overhead", "inference",
                 "numerical gradient", "peak sgemm", "kernel")
#: the sections of the summary table (the kernels have their own)
MAIN_SECTIONS = SECTION_ORDER[:-1]


# --- running ------------------------------------------------------------------------


def run_script(script, json_path):
    """Run a measuring script; its figures, or None (with a warning) if it failed."""
    cmd = [sys.executable, str(HERE / script), "--json", str(json_path)]
    print(f"$ {' '.join(cmd)}", flush=True)
    if run_pinned(cmd, cwd=ROOT).wait() != 0:
        print(f"warning: {script} failed; RESULTS.md keeps its previous figures", flush=True)
        return None
    return json.loads(Path(json_path).read_text())


SKIP_LINE = re.compile(r"SKIPPED \[(\d+)\] (\S+?):\d+: (.*)")


def run_library(library, json_path, extra, env):
    """One timed pytest-benchmark process for *library*'s implementations.

    Returns (its pytest-benchmark JSON or None, [skip reasons]). None when the
    process timed nothing (every benchmark skipped or deselected) or failed; a
    failure is reported and the other libraries still run.
    """
    json_path = Path(json_path)
    json_path.unlink(missing_ok=True)
    cmd = [sys.executable, "-m", "pytest", "benchmarks", "-p", "no:cacheprovider",
           "--benchmark-enable", "--benchmark-only", f"--bench-impl={library}",
           f"--benchmark-json={json_path}", *extra]
    print(f"$ {' '.join(cmd)}", flush=True)
    import subprocess

    proc = run_pinned(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                      stderr=subprocess.STDOUT, text=True)
    skipped = []
    for line in proc.stdout:
        sys.stdout.write(line)
        m = SKIP_LINE.match(line.strip())
        if m and "--benchmark-only" not in m.group(3):
            skipped.append({"count": int(m.group(1)), "where": m.group(2),
                            "reason": m.group(3), "library": library})
    rc = proc.wait()
    if rc == 1:
        print(f"warning: some {library} benchmarks failed; the report shows what ran",
              flush=True)
    elif rc not in (0, 5):  # 5: nothing collected (a -k that selects none of them)
        print(f"warning: the {library} process failed (pytest exit {rc})", flush=True)
    if not json_path.exists():
        return None, skipped
    return json.loads(json_path.read_text()), skipped


#: the facts of each process's environment kept per library (the rest is the machine's)
PROCESS_FACTS = ("bench_impls", "thread_pools", "numba_threading_layer", "numba_threads",
                 "thread_env", "versions", "core_scaling")


def merge_runs(runs):
    """One pytest-benchmark JSON from the per-library ones ({library: json}).

    Benchmarks are concatenated, each marked with its ``library``; machine_info
    is the first process's, with ``versions`` the union of all and
    ``processes`` holding each process's own facts (:data:`PROCESS_FACTS`).
    """
    runs = {lib: raw for lib, raw in runs.items() if raw}
    if not runs:
        raise SystemExit("no library process timed anything")
    first = next(iter(runs.values()))
    machine = {k: v for k, v in first.get("machine_info", {}).items()
               if k not in PROCESS_FACTS}
    machine["thread_env"] = first.get("machine_info", {}).get("thread_env")
    machine["versions"] = {}
    machine["processes"] = {}
    benchmarks = []
    for lib, raw in runs.items():
        mi = raw.get("machine_info", {})
        machine["versions"].update(mi.get("versions") or {})
        machine["processes"][lib] = {k: mi.get(k) for k in PROCESS_FACTS}
        for b in raw["benchmarks"]:
            b = dict(b)
            b["extra_info"] = {**b.get("extra_info", {}), "library": lib}
            benchmarks.append(b)
    return {**{k: v for k, v in first.items() if k not in ("benchmarks", "machine_info")},
            "machine_info": machine, "benchmarks": benchmarks}


def pass_order(libraries, k):
    """The library processes of pass *k* (0, 1, …): in the given order, every other pass
    reversed, so that no library always runs first or last."""
    return list(libraries) if k % 2 == 0 else list(reversed(libraries))


def _bench_key(b):
    """What makes a benchmark the same one in another pass (its group, name and form)."""
    return b["group"], b["fullname"], b.get("extra_info", {}).get("form")


def best_of_passes(passes):
    """One pytest-benchmark JSON per library from several passes ([{library: json}], the
    same library processes run again): each benchmark from the pass with the lower median,
    every pass's median kept in its ``extra_info`` (``pass_medians``, None where a pass
    did not time it), and each pass's :func:`harness.core_scaling` in ``machine_info``
    (``core_scaling``: a list). The machine lends the second core unevenly for minutes at
    a time; the best of passes in alternating order compares libraries under the best
    conditions each of them met."""
    out = {}
    libraries = dict.fromkeys(lib for run in passes for lib in run)  # the first pass's order
    for lib in libraries:
        runs = [run.get(lib) for run in passes]
        present = [raw for raw in runs if raw]
        if not present:
            out[lib] = None
            continue
        medians, chosen = {}, {}
        for k, raw in enumerate(runs):
            for b in (raw or {}).get("benchmarks", []):
                key = _bench_key(b)
                medians.setdefault(key, [None] * len(runs))[k] = b["stats"]["median"]
                if key not in chosen or b["stats"]["median"] < chosen[key]["stats"]["median"]:
                    chosen[key] = b
        benchmarks = []
        for key, b in chosen.items():
            b = dict(b)
            b["extra_info"] = {**b.get("extra_info", {}), "pass_medians": medians[key]}
            benchmarks.append(b)
        first = present[0]
        machine = dict(first.get("machine_info", {}))
        machine["core_scaling"] = [(raw or {}).get("machine_info", {}).get("core_scaling")
                                   for raw in runs]
        out[lib] = {**first, "machine_info": machine, "benchmarks": benchmarks}
    return out


def save_for_compare(merged):
    """Save the merged JSON where pytest-benchmark's --benchmark-compare looks for its
    autosaved runs (``.benchmarks/<machine id>/NNNN_<commit>_<date>.json``)."""
    from pytest_benchmark.utils import get_machine_id, get_tag

    folder = ROOT / ".benchmarks" / get_machine_id()
    folder.mkdir(parents=True, exist_ok=True)
    numbers = [int(f.name[:4]) for f in folder.glob("[0-9][0-9][0-9][0-9]_*.json")]
    path = folder / f"{max(numbers, default=0) + 1:04d}_{get_tag()}.json"
    path.write_text(json.dumps(merged, indent=1) + "\n")
    print(f"saved the merged run as {path.relative_to(ROOT)} (for --benchmark-compare)")
    return path


def _row_note(info):
    """A second label line for a scaled figure: per step of a multi-step call, or
    extrapolated from a subset."""
    if "steps_per_call" in info:
        return f"\n(per step of {info['steps_per_call']})"
    return "\n(extrapolated)" if "extrapolate" in info else ""


# --- condensing --------------------------------------------------------------------------


def row_key(row):
    """A row's name in its group: the implementation, with its form if it has one."""
    form = row.get("form") or row["extra_info"].get("form")
    return f"{row['impl']} ({form})" if form else row["impl"]


MACHINE_FACTS = ("cpu_model", "cpu_facts", "cpus_usable", "bench_threads", "thread_env",
                 "versions", "system", "release", "python_implementation", "python_version")


def condense(raw, skipped=(), jit=None, interference=None):
    """The figures RESULTS.md is made of, from a (merged) pytest-benchmark JSON."""
    rows = []
    for b in raw["benchmarks"]:
        info = dict(b.get("extra_info", {}))
        st = b["stats"]
        factor = float(info.get("extrapolate", 1.0))
        rows.append({
            "group": b["group"], "impl": info.get("impl", b["name"]), "name": b["name"],
            "form": info.get("form"), "library": info.get("library"), "api": info.get("api"),
            "median": st["median"] * factor, "min": st["min"] * factor,
            "max": st["max"] * factor, "mean": st["mean"] * factor,
            "stddev": st["stddev"] * factor, "rounds": st["rounds"],
            "iterations": st.get("iterations", 1), "extra_info": info,
        })
    mi = raw.get("machine_info", {})
    processes = mi.get("processes")
    if processes is None:  # one process ran everything (a direct pytest run)
        processes = {"all": {k: mi.get(k) for k in PROCESS_FACTS}}
    return {
        "date": raw.get("datetime", _dt.datetime.now().isoformat()),
        "command": COMMAND,
        "machine": {k: mi.get(k) for k in MACHINE_FACTS},
        "processes": processes,
        "cpu": mi.get("cpu_model"),
        "commit": {k: raw.get("commit_info", {}).get(k) for k in ("id", "dirty", "branch")},
        "benchmarks": rows,
        "skipped": list(skipped),
        "jit": jit,
        "interference": interference,
        "passes": raw.get("passes", 1),
    }


# --- formatting helpers ---------------------------------------------------------------------


def fmt_time(s):
    if s is None:
        return "—"
    if s < 1e-3:
        return f"{s * 1e6:.1f} µs" if s < 1e-4 else f"{s * 1e6:.0f} µs"
    if s < 1:
        return f"{s * 1e3:.2f} ms" if s < 1e-2 else f"{s * 1e3:.1f} ms"
    return f"{s:.2f} s" if s < 100 else f"{s:.0f} s"


def fmt_ratio(r):
    if r is None:
        return "—"
    if r < 0.1:
        return f"{r:.2g}×"
    return f"{r:.2f}×" if r < 10 else f"{r:.1f}×" if r < 100 else f"{r:.0f}×"


def groups_of(data):
    """{group: {row key: row}}, the rows of each group in IMPL_ORDER (forms after)."""
    out = {}
    for r in data["benchmarks"]:
        out.setdefault(r["group"], {})[row_key(r)] = r
    order = {impl: i for i, impl in enumerate(IMPL_ORDER)}
    return {g: dict(sorted(rows.items(), key=lambda kv: (order.get(kv[1]["impl"], 99),
                                                         kv[0])))
            for g, rows in out.items()}


def section(group):
    for s in SECTION_ORDER:
        if group.startswith(s):
            return s
    return "other"


def numbann_row(rows):
    """The figure that stands for numbann in a group: the engine if it ran, else the
    object API (kernel groups: the kernel itself)."""
    return rows.get("numbann") or rows.get("numbann-objects")


def group_sort_key(group):
    """Section order, then natural order of the name (batch 1 < 32 < 100)."""
    sec = section(group)
    parts = [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", group)]
    return (SECTION_ORDER.index(sec) if sec in SECTION_ORDER else 99, parts)


def rate(r):
    """Throughput note: GFLOP/s for matrix work, images/s for inference."""
    info = r["extra_info"]
    notes = []
    if "images" in info and r["group"].startswith("inference"):
        notes.append(f"{info['images'] / r['median'] / 1e6:.2f} M images/s")
    if info.get("flops"):  # flops of what the median times (a step, for per-step rows)
        notes.append(f"{info['flops'] / r['median'] / 1e9:.3g} GFLOP/s")
    if info.get("note"):
        notes.append(info["note"])
    return "; ".join(notes)


#: batches below this many rows are not judged against the yardstick: there a BLAS gemm
#: call costs more than its products, and a plain GEMV loop beats it (numbann's own
#: zero-skipping loops, numbann.kernels._blas.SMALL; XLA's)
TINY_BATCH = 4


def disturbed(rows):
    """Whether a group looks disturbed: an implementation's median more than 15% below the
    yardstick's — the matrix products alone cannot be beaten by that much, so one of the two
    was slowed by something else on the machine (not judged below :data:`TINY_BATCH`)."""
    yard = rows.get("yardstick")
    if not yard or yard["extra_info"].get("batch", TINY_BATCH) < TINY_BATCH:
        return False
    return any(r["median"] < 0.85 * yard["median"] for k, r in rows.items() if k != "yardstick")


DISTURBED = " ⚠"


def row_label(key, r):
    name = IMPL_LABEL.get(r["impl"], r["impl"])
    api = r.get("api") or r["extra_info"].get("api")
    return f"{name}: {api}" if api else name


def pass_medians(r):
    """The medians of each pass (scaled like the row), or None for a single-pass run."""
    medians = r["extra_info"].get("pass_medians")
    if not medians or len(medians) < 2:
        return None
    factor = float(r["extra_info"].get("extrapolate", 1.0))
    return [None if m is None else m * factor for m in medians]


def group_table(rows):
    nb_row = numbann_row(rows)
    yard = rows.get("yardstick")
    passes = any(pass_medians(r) for r in rows.values())
    lines = ["| implementation: API timed | median | min | max | rounds | numbann ÷ this | "
             "× yardstick | throughput |" + (" each pass's median |" if passes else ""),
             "|---|---:|---:|---:|---:|---:|---:|---|" + ("---:|" if passes else "")]
    for key, r in rows.items():
        ratio = nb_row["median"] / r["median"] if nb_row and r is not nb_row else None
        ystick = r["median"] / yard["median"] if yard and key != "yardstick" else None
        name = row_label(key, r)
        if r is nb_row:
            name = f"**{name}**"
        line = (f"| {name} | {fmt_time(r['median'])} | {fmt_time(r['min'])} | "
                f"{fmt_time(r['max'])} | {r['rounds']} | {fmt_ratio(ratio)} | "
                f"{fmt_ratio(ystick)} | {rate(r)} |")
        if passes:
            line += " " + " / ".join(fmt_time(m) for m in pass_medians(r) or []) + " |"
        lines.append(line)
    return "\n".join(lines)


def summary_table(groups, names):
    """One row per group: median of each implementation, numbann ÷ fastest peer."""
    impls = [i for i in IMPL_ORDER if any(i in groups[g] for g in names)]
    head = "| group | " + " | ".join(impls) + " | numbann ÷ fastest peer | numbann × yardstick |"
    lines = [head, "|---|" + "---:|" * (len(impls) + 2)]
    for g in names:
        rows = groups[g]
        nb_row = numbann_row(rows)
        label = g + (DISTURBED if disturbed(rows) else "")
        peers = [rows[p]["median"] for p in PEERS if p in rows]
        best = min(peers) if peers else None
        cells = []
        for i in impls:
            r = rows.get(i)
            cell = fmt_time(r["median"]) if r else "—"
            if r is not None and r is nb_row:
                cell = f"**{cell}**"
            cells.append(cell)
        vs_peer = fmt_ratio(nb_row["median"] / best) if nb_row and best else "—"
        yard = rows.get("yardstick")
        vs_yard = fmt_ratio(nb_row["median"] / yard["median"]) if nb_row and yard else "—"
        lines.append(f"| {label} | " + " | ".join(cells) + f" | {vs_peer} | {vs_yard} |")
    return "\n".join(lines)


# --- speed targets ---------------------------------------------------------------------------


def find_group(groups, prefix, *must, exclude=()):
    for g in sorted(groups):
        if (g.startswith(prefix) and all(m in g for m in must)
                and not any(x in g for x in exclude)):
            return g
    return None


def verdict(ok, rows=None):
    text = "met" if ok else "**not met**"
    return text + (" (⚠ disturbed group)" if rows and disturbed(rows) else "")


#: the epoch targets of issue 12: (label, group words, at most × yardstick, at most × JAX)
EPOCH_TARGETS = (("784-50-10 sigmoid SGD epoch", ("784-50-10 ",), 1.2, 0.6),
                 ("784-256-128-10 ReLU Adam epoch", ("784-256-128-10 relu ADAM",), 1.2, 0.8))
#: issue 13: the object API's batch-1 step before tapes, and what tapes may add
OVERHEAD_BEFORE_TAPES, OVERHEAD_BUDGET = 33e-6, 1.10
#: issue 15: what a batch-norm layer after each hidden Linear may add to the Adam epoch
BATCHNORM_BUDGET = 1.15


def _vs(rows, a, b):
    return rows[a]["median"] / rows[b]["median"] if a in rows and b in rows else None


def targets(data, groups):
    """[(issue, target, measured, verdict)] for the speed targets of issues 12, 13, 15,
    5 and 19 that this run measured."""
    out = []
    for label, words, max_yard, max_jax in EPOCH_TARGETS:
        rows = groups.get(find_group(groups, "epoch", *words), {})
        nb = rows.get("numbann")
        if not nb:
            continue
        r = _vs(rows, "numbann", "yardstick")
        if r is not None:
            out.append(("12", f"{label}: ≤ {max_yard}× the matrix products alone",
                        f"{fmt_time(nb['median'])} = {r:.2f}× yardstick "
                        f"({fmt_time(rows['yardstick']['median'])})",
                        verdict(r <= max_yard, rows)))
        r = _vs(rows, "numbann", "jax")
        if r is not None:
            steps = (f"; its jit-step loop {fmt_time(rows['jax-step']['median'])}"
                     if "jax-step" in rows else "")
            out.append(("12", f"{label}: ≤ {max_jax}× JAX's lax.scan epoch",
                        f"{r:.2f}× ({fmt_time(rows['jax']['median'])}{steps})",
                        verdict(r <= max_jax, rows)))
    rows = groups.get(find_group(groups, "decayed step"), {})
    r = _vs(rows, "numbann", "yardstick")
    if r is not None:
        out.append(("12", "batch-1 Adam step after the state has decayed (784-256-128-10): "
                          "≤ 2× its yardstick",
                    f"{fmt_time(rows['numbann']['median'])} per step = {r:.2f}× yardstick "
                    f"({fmt_time(rows['yardstick']['median'])})", verdict(r <= 2.0, rows)))
    rows = groups.get(find_group(groups, "inference", "batch 10000"), {})
    nb = rows.get("numbann")
    if nb:
        peers = {p: rows[p]["median"] for p in PEERS if p in rows}
        ctx = ", ".join(f"{p} {fmt_time(v)}" for p, v in peers.items())
        out.append(("12", "inference, 10,000 images in one batch: faster than every peer",
                    f"{fmt_time(nb['median'])} ({ctx or 'no peers ran'})",
                    verdict(all(v > nb["median"] for v in peers.values()))
                    if peers else "not measured"))
        r = _vs(rows, "numbann", "yardstick")
        if r is not None:
            out.append(("12", "… and ≤ 1.1× its yardstick", f"{r:.2f}× yardstick",
                        verdict(r <= 1.1, rows)))
    rows = groups.get(find_group(groups, "overhead"), {})
    objs = rows.get("numbann-objects")
    if objs:
        out.append(("13", f"object API step at batch 1 (64-32-16-10): tapes add ≤ "
                          f"{OVERHEAD_BUDGET - 1:.0%} (about {OVERHEAD_BEFORE_TAPES * 1e6:.0f}"
                          " µs before them)",
                    f"{fmt_time(objs['median'])} ({objs.get('api') or ''})",
                    "compare with a pre-tape run on this machine: --benchmark-compare"))
    plain = groups.get(find_group(groups, "epoch", "784-256-128-10 relu ADAM"), {})
    bn = groups.get(find_group(groups, "epoch", "784-256-128-10 relu+bn ADAM"), {})
    if "numbann" in plain and "numbann" in bn:
        r = bn["numbann"]["median"] / plain["numbann"]["median"]
        out.append(("15", f"784-256-128-10 Adam epoch with BatchNorm1d: ≤ {BATCHNORM_BUDGET}× "
                          "the epoch without",
                    f"{fmt_time(bn['numbann']['median'])} = {r:.2f}× "
                    f"{fmt_time(plain['numbann']['median'])}",
                    verdict(r <= BATCHNORM_BUDGET)))
    rows = groups.get(find_group(groups, "step 784-50-10", "batch 1"), {})
    nb = rows.get("numbann")
    if nb:
        ctx = ", ".join(f"{p} {fmt_time(rows[p]['median'])}" for p in PEERS if p in rows)
        steps = nb["extra_info"].get("steps_per_call")
        out.append(("5", "one training step at batch 1 (784-50-10): < 10 µs",
                    f"{fmt_time(nb['median'])} (per step of {steps} in one compiled call; "
                    f"{ctx})", verdict(nb["median"] < 10e-6)))
    rows = groups.get(find_group(groups, "numerical gradient"), {})
    nb = rows.get("numbann")
    if nb:
        ctx = (f"textbook NumPy loop {fmt_time(rows['numpy']['median'])}, extrapolated"
               if "numpy" in rows else "")
        out.append(("5", "numerical gradient, 784-50-10, batch 100: < 0.5 s",
                    f"{fmt_time(nb['median'])} ({ctx})", verdict(nb["median"] < 0.5)))
    jit = data.get("jit")
    if jit:
        fc, fw, kc = jit["fit_cold"], jit["fit_warm"], jit.get("kernels_cold", {})
        cold = fc["import_s"] + fc["fit_A_first_s"] + fc["fit_B_first_s"]
        warm = fw["import_plus_first_fit_s"]
        call = fc.get("training_call", "nb.fit")
        out.append(("19", "JIT, empty cache: import + first fit of 784-50-10 SGD, then "
                          "784-256-128-10 Adam ≤ 5 s", f"{cold:.1f} s", verdict(cold <= 5.0)))
        if "numgrad_first_s" in kc:
            out.append(("19", "JIT, empty cache: the first numerical gradient ≤ 2 s",
                        f"{kc['numgrad_first_s']:.1f} s", verdict(kc["numgrad_first_s"] <= 2)))
        out.append(("19", f"JIT, warm cache: import + first {call} ≤ 0.5 s", f"{warm:.2f} s",
                    verdict(warm <= 0.5)))
    return out


# --- RESULTS.md --------------------------------------------------------------------------------


def cpu_line(data):
    m = data["machine"]
    cpu = m.get("cpu_facts") or {}
    line = (f"- CPU: {data.get('cpu') or m.get('cpu_model')}"
            + (f" ({cpu['vendor']})" if cpu.get("vendor") else "")
            + f", {m.get('cpus_usable')} usable cores; {m.get('system', '')} "
              f"{m.get('release', '')}")
    if cpu:
        flags = cpu.get("flags") or []
        lacks = [name for name, flag in (("AVX-512", "avx512f"), ("AMX", "amx_tile"))
                 if flag not in flags]
        line += (f"\n- vector extensions: **{cpu.get('simd')}** ({', '.join(flags)}"
                 + (f"; no {', no '.join(lacks)}" if lacks else "") + "); Numba compiles for "
                 f"`{cpu.get('llvm_cpu')}`")
    return line


def pool_table(processes):
    """Each process's thread pools (threadpoolctl), one row per pool."""
    lines = ["| process | pool | API | version | threads | kernels | threading |",
             "|---|---|---|---|---:|---|---|"]
    for lib, facts in processes.items():
        for p in (facts or {}).get("thread_pools") or []:
            if isinstance(p, (list, tuple)):  # the old [library, api, threads] triple
                p = {"library": p[0], "internal_api": p[1], "num_threads": p[2]}
            api = "/".join(x for x in (p.get("user_api"), p.get("internal_api")) if x)
            lines.append(f"| {lib} | `{p.get('library')}` | {api} | {p.get('version') or '—'} | "
                         f"{p.get('num_threads')} | {p.get('architecture') or '—'} | "
                         f"{p.get('threading_layer') or '—'} |")
    return "\n".join(lines) if len(lines) > 2 else ""


def scaling_line(processes, threads):
    """What a second thread added in each library's process (harness.core_scaling), or ''."""
    seen = {lib: f["core_scaling"] for lib, f in processes.items()
            if f and f.get("core_scaling")}
    if not seen:
        return ""

    def fmt(c):
        return f"{c['vector']:.2f}× / {c['chain']:.2f}×"

    parts = ", ".join(f"{lib} " + (", then ".join(fmt(x) if x else "—" for x in c)
                                   if isinstance(c, list) else fmt(c))
                      for lib, c in seen.items())
    return (f"- {threads} threads at once, as a multiple of one thread's work, measured in "
            f"each library's process right after its benchmarks (vectorised arithmetic / a "
            f"dependent scalar chain; {threads} full cores give about {threads}× for both, "
            f"cores shared with other work less for the first): {parts}")


def environment(data):
    m = data["machine"]
    v = m.get("versions") or {}
    env = m.get("thread_env") or {}
    processes = data.get("processes") or {"all": m}
    layers = {lib: f.get("numba_threading_layer") for lib, f in processes.items()
              if f and f.get("numba_threading_layer")
              and f.get("numba_threading_layer") != "Numba not loaded"}
    layer = layers.get("numbann") or next(iter(layers.values()), "?")
    separate = len(processes) > 1
    lines = [
        f"- date: {data['date'][:19].replace('T', ' ')} UTC; commit "
        f"{(data.get('commit') or {}).get('id', '?')[:10]}"
        + (" (with uncommitted changes)" if (data.get("commit") or {}).get("dirty") else ""),
        cpu_line(data),
        f"- threads: {m.get('bench_threads')} for every library, "
        + ("each library timed in its own process (" + ", ".join(processes) + "), "
           "pinned before anything loads; " if separate else "all in one process; ")
        + ", ".join(f"{k}={val}" for k, val in env.items() if val is not None),
        f"- Numba's threading layer: {layer}",
        *filter(None, [scaling_line(processes, m.get("bench_threads"))]),
        "- versions: " + ", ".join(f"{k} {val}" for k, val in v.items()),
        "- dtype float32 everywhere (the numerical gradient: float64, as numbann computes it)",
    ]
    pools = pool_table(processes)
    if pools:
        lines += ["", "Thread pools in each process (threadpoolctl: library file, API, "
                      "version, threads, the BLAS kernels' architecture, threading layer):",
                  "", pools]
    return "\n".join(lines)


INTRO = """\
# numbann benchmark results

Generated by `python -m benchmarks.report` (see docs/performance.md) from one
run of the suite in `benchmarks/`: {n} benchmarks in {g} groups. Each group
is the same work — same data, same initial float32 weights, same batch order,
same thread count — done by each implementation.
Measured {processes}{passes}; every row names the API it timed. JIT and XLA
compilation happen in an untimed warm-up call. Times are per call (per
step where a row runs many steps in one call): the **median**, with min
and max over the rounds.
**numbann ÷ this** below 1 means numbann is faster; **× yardstick** is the
time over the matrix products of the same workload alone through the same
BLAS (SciPy's OpenBLAS via Numba's `np.dot`), a floor no implementation can
go far below.

**Read the ratios, not the absolute times.** The machine is shared and
noisy; figures from one run move together, so ratios within one run are the
figures that count. {note}
"""

TITLES = {"epoch": "One MNIST epoch",
          "decayed step": "Batch-1 Adam after the optimizer state has decayed (subnormals)",
          "step": "One training step", "overhead": "Per-step overhead of the object API",
          "inference": "Inference", "numerical gradient": "Numerical gradient",
          "peak sgemm": "Peak float32 GEMM", "kernel": "Kernels, in detail",
          "other": "Other groups"}


def passes_text(data):
    n = data.get("passes", 1)
    if n < 2:
        return ""
    return (f", in {n} passes over every library's process (every other pass in reverse "
            "order); each benchmark shows the pass with the lower median, and the last "
            "column of the group tables each pass's median")


def render_md(data):
    groups = groups_of(data)
    names = sorted(groups, key=group_sort_key)
    by_section = {}
    for g in names:
        by_section.setdefault(section(g), []).append(g)
    separate = len(data.get("processes") or {}) > 1
    out = [INTRO.format(n=len(data["benchmarks"]), g=len(groups),
                        processes="each library in its own process" if separate
                        else "all in one process", passes=passes_text(data),
                        note=data.get("note") or "")]
    out.append("![results](results.png)\n")
    out.append("## Environment\n\n" + environment(data) + "\n")
    t = targets(data, groups)
    if t:
        out.append("## Speed targets\n")
        out.append("| issue | target | measured | verdict |\n|---|---|---|---|")
        out.extend(f"| {i} | {a} | {b} | {c} |" for i, a, b, c in t)
        out.append("")
    main = [g for s in MAIN_SECTIONS for g in by_section.get(s, [])]
    if main:
        out.append("## Summary (medians)\n")
        out.append(summary_table(groups, main) + "\n")
        out.append("numbann stands for the compiled engine (`nb.fit`) where it ran, else the "
                   "object API (in bold); jax is JAX's strongest form (lax.scan), jax-step its "
                   "loop of jitted steps. The numerical-gradient NumPy figure is extrapolated "
                   "from a subset of parameters (see its group). ⚠ marks a group where an "
                   "implementation's median came out more than 15% below the matrix products "
                   "alone — impossible on a quiet machine, so something else slowed the "
                   "yardstick (or the others) there: treat that group's ratios with care. "
                   f"Batches of fewer than {TINY_BATCH} rows are not marked: there one BLAS "
                   "call costs more than its products, and a plain loop beats it.\n")
    if by_section.get("kernel"):
        out.append("## Kernels (medians)\n")
        out.append(summary_table(groups, by_section["kernel"]) + "\n")
    for sec in (*SECTION_ORDER, "other"):
        if not by_section.get(sec):
            continue
        out.append(f"## {TITLES[sec]}\n")
        for g in by_section[sec]:
            out.append(f"### {g}{DISTURBED if disturbed(groups[g]) else ''}\n")
            out.append(group_table(groups[g]) + "\n")
    jit = data.get("jit")
    if jit:
        from jit_times import table as jit_table

        out.append("## JIT compile and start-up (fresh processes)\n")
        out.append("Measured by `benchmarks/jit_times.py`: each row in a fresh process with "
                   "`NUMBA_CACHE_DIR` set to a new empty directory (cold: compile), then again "
                   "with that cache filled (warm: load).\n")
        out.append(jit_table(jit) + "\n")
    inter = data.get("interference")
    if inter:
        from interference import table as inter_table

        out.append("## BLAS thread interference\n")
        out.append(INTERFERENCE_NOTE)
        out.append(inter_table(inter) + "\n")
    if data.get("skipped"):
        out.append("## Skipped\n")
        out.extend(f"- {s['count']} × {s['where']}"
                   + (f" ({s['library']} process)" if s.get("library") else "")
                   + f": {s['reason']}" for s in data["skipped"])
        out.append("")
    return "\n".join(out).rstrip() + "\n"


INTERFERENCE_NOTE = """\
NumPy and SciPy each ship their own OpenBLAS (two thread pools), PyTorch its
own OpenMP runtime; an idle OpenBLAS worker spins for 2^OPENBLAS_THREAD_TIMEOUT
cycles (default 2^28, about 0.1 s) before sleeping. Measured by
`benchmarks/interference.py`: numbann's (128, 784) @ (784, 256) product
(SciPy's OpenBLAS) right after another library's products (in windows of
time since they stopped) and alternating with them call by call, and in the
last rows NumPy's product after numbann's — each as a multiple of the same
product alone, timed in the same process just before (median of three
processes). Alternating libraries call by call is what hurts; one after the
other costs little. The suite therefore times each library in its own
process, never alternates libraries inside a timed function, and waits
`NUMBANN_BENCH_QUIESCE` seconds (0.3) before each timed benchmark (after the
NumPy reference's agreement check); it keeps OpenBLAS's default timeout, so
that every library runs as its users run it. See docs/performance.md.

"""


# --- chart ---------------------------------------------------------------------------------------

#: the chart's panels: (group prefix, words it must contain, title)
PANELS = (
    ("epoch", ("784-50-10 ",), "epoch, 784-50-10 sigmoid SGD b100"),
    ("epoch", ("784-256-128-10 relu ADAM",), "epoch, 784-256-128-10 ReLU Adam b128"),
    ("decayed step", (), "Adam batch 1 after decay, per step"),
    ("step 784-50-10", ("batch 1",), "step, 784-50-10, batch 1"),
    ("step 784-256-128-10", ("batch 128",), "step, 784-256-128-10, batch 128"),
    ("overhead", (), "object-API step overhead, 64-32-16-10 b1"),
    ("inference", ("batch 100",), "inference 10k images, batch 100"),
    ("inference", ("batch 10000",), "inference 10k images, one batch"),
    ("numerical gradient", (), "numerical gradient, 784-50-10 b100"),
    ("peak sgemm", (), "peak sgemm (GFLOP/s, higher is better)"),
)


def render_png(data, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups = groups_of(data)
    panels = []
    for prefix, must, title in PANELS:
        g = find_group(groups, prefix, *must)
        if g is not None:
            panels.append((g, title))
    if not panels:
        return
    ncols = 4
    nrows = (len(panels) + ncols - 1) // ncols
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.4 * ncols, 2.9 * nrows), squeeze=False)
    for ax in axes.flat[len(panels):]:
        ax.axis("off")
    for ax, (g, title) in zip(axes.flat, panels):
        rows = {k: r for k, r in groups[g].items() if not r.get("form")}
        keys = list(rows)
        is_rate = g.startswith("peak sgemm")
        if is_rate:
            vals = [rows[k]["extra_info"]["flops"] / rows[k]["median"] / 1e9 for k in keys]
            lo = hi = [0] * len(keys)
            unit, scale = "GFLOP/s", 1.0
        else:
            med = [rows[k]["median"] for k in keys]
            top = max(med)
            unit, scale = (("s", 1.0) if top >= 1 else ("ms", 1e3) if top >= 1e-3
                           else ("µs", 1e6))
            vals = [m * scale for m in med]
            lo = [(rows[k]["median"] - rows[k]["min"]) * scale for k in keys]
            hi = [(rows[k]["max"] - rows[k]["median"]) * scale for k in keys]
            hi = [min(h, 2 * v) for h, v in zip(hi, vals)]  # keep outliers from squashing
        y = range(len(keys))
        ax.barh(list(y), vals, color=[COLORS.get(rows[k]["impl"], "k") for k in keys],
                xerr=None if is_rate else [lo, hi], error_kw=dict(lw=0.8, capsize=2))
        ax.set_yticks(list(y))
        ax.set_yticklabels([k.replace("numbann-objects", "numbann objects")
                            + _row_note(rows[k]["extra_info"]) for k in keys], fontsize=8)
        ax.invert_yaxis()
        ax.set_title(title, fontsize=9)
        ax.set_xlabel(unit if is_rate else f"median time per call ({unit}); bars: min–max",
                      fontsize=7)
        ax.tick_params(axis="x", labelsize=7)
        for yi, v in zip(y, vals):
            ax.text(v, yi, f" {v:.3g}", va="center", fontsize=7)
        if g.startswith("numerical gradient"):  # two orders of magnitude apart: log axis
            ax.set_xscale("log")
            ax.set_xlim(min(vals) / 2, max(vals) * 4)
        else:
            ax.set_xlim(0, max(vals) * 1.3)
    cpu = (data["machine"].get("cpu_facts") or {}).get("simd")
    fig.suptitle(f"numbann benchmarks, {data.get('cpu') or ''}{f' ({cpu})' if cpu else ''}, "
                 f"{data['machine'].get('bench_threads')} threads, float32 — "
                 f"{data['date'][:10]} (shared machine: compare within a panel)", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# --- docs/performance.md --------------------------------------------------------------------------

DOC_START, DOC_END = "<!-- results-table:start -->", "<!-- results-table:end -->"


def doc_wanted(group):
    """The groups docs/performance.md shows: epochs, the decayed-state step, steps at batch
    1 and at each network's own batch size, the object API's overhead, inference,
    numerical gradient."""
    sec = section(group)
    if sec == "step":
        return (group.endswith(" batch 1") or ("784-50-10 " in group and group.endswith(" 100"))
                or ("784-256-128-10" in group and group.endswith(" 128")))
    return sec in ("epoch", "decayed step", "overhead", "inference", "numerical gradient")


def doc_table(data):
    groups = groups_of(data)
    names = [g for g in sorted(groups, key=group_sort_key) if doc_wanted(g)]
    body = summary_table(groups, names)
    cpu = (data["machine"].get("cpu_facts") or {}).get("simd")
    return (f"{DOC_START}\n<!-- generated by python -m benchmarks.report from "
            f"benchmarks/results.json; do not edit by hand -->\n\n"
            f"Run of {data['date'][:10]} on {data.get('cpu')}{f' ({cpu})' if cpu else ''}, "
            f"{data['machine'].get('bench_threads')} threads, each library in its own "
            f"process, float32 (medians; full tables in "
            f"[benchmarks/RESULTS.md](../benchmarks/RESULTS.md)):\n\n{body}\n\n{DOC_END}")


def update_doc(data, path=PERF_DOC):
    if not path.exists():
        return
    text = path.read_text()
    if DOC_START not in text or DOC_END not in text:
        return
    a, rest = text.split(DOC_START, 1)
    _, b = rest.split(DOC_END, 1)
    path.write_text(a + doc_table(data) + b)


# --- main --------------------------------------------------------------------------------------


def write_all(data, out=HERE):
    """results.json, RESULTS.md and results.png into *out*; the docs table too when *out*
    is benchmarks/ itself."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(data, indent=1, sort_keys=False) + "\n")
    (out / "RESULTS.md").write_text(render_md(data))
    render_png(data, out / "results.png")
    wrote = "RESULTS.md, results.png and results.json"
    if out.resolve() == HERE:
        update_doc(data)
        wrote += " in benchmarks/, and the table in docs/performance.md"
    print(f"wrote {wrote}" + ("" if out.resolve() == HERE else f" in {out}"))


def main(argv=None):
    p = argparse.ArgumentParser(description="Run the benchmark suite and write RESULTS.md.",
                                epilog="Arguments after -- go to pytest.")
    p.add_argument("-k", help="only benchmarks matching this pytest -k expression")
    p.add_argument("--libraries", default=",".join(LIBRARIES),
                   help=f"the library processes to run (default: {','.join(LIBRARIES)})")
    p.add_argument("--budget", type=float, default=None,
                   help="seconds of timed calls per long benchmark (NUMBANN_BENCH_BUDGET, "
                        "default 4)")
    p.add_argument("--max-time", type=float, default=2.0,
                   help="pytest-benchmark's --benchmark-max-time for the calibrated ones (2)")
    p.add_argument("--out", default=str(HERE),
                   help="where RESULTS.md, results.json and results.png go (benchmarks/)")
    p.add_argument("--from-json", help="render from this pytest-benchmark JSON, run nothing")
    p.add_argument("--render-only", action="store_true",
                   help="re-render from the results.json in --out")
    p.add_argument("--passes", type=int, default=2,
                   help="run every library process this many times, every other pass in "
                        "reverse order, and keep each benchmark's pass with the lower "
                        "median (2)")
    p.add_argument("--skip-jit", action="store_true")
    p.add_argument("--skip-interference", action="store_true")
    p.add_argument("--note", default="", help="a sentence for RESULTS.md (e.g. machine load)")
    args, pytest_args = p.parse_known_args(argv)
    pytest_args = [a for a in pytest_args if a != "--"]
    out = Path(args.out)
    results_json = out / "results.json"
    if args.render_only:
        data = json.loads(results_json.read_text())
        if args.note:
            data["note"] = args.note
        write_all(data, out)
        return
    libraries = [lib.strip() for lib in args.libraries.split(",") if lib.strip()]
    unknown = [lib for lib in libraries if lib not in LIBRARIES]
    if unknown:
        p.error(f"unknown libraries {unknown}; known: {', '.join(LIBRARIES)}")
    old = json.loads(results_json.read_text()) if results_json.exists() else {}
    work = WORK if out.resolve() == HERE else out / "raw"
    work.mkdir(parents=True, exist_ok=True)
    skipped = []
    if args.from_json:
        raw = json.loads(Path(args.from_json).read_text())
        jit, inter = old.get("jit"), old.get("interference")
    else:
        jit = None if args.skip_jit else run_script("jit_times.py", work / "jit.json")
        inter = (None if args.skip_interference
                 else run_script("interference.py", work / "interference.json"))
        extra = ([f"--benchmark-max-time={args.max_time}"] + (["-k", args.k] if args.k else [])
                 + pytest_args)
        env = thread_env(**({"NUMBANN_BENCH_BUDGET": str(args.budget)}
                            if args.budget is not None else {}))
        passes = []
        for k in range(args.passes):
            runs = {}
            for lib in pass_order(libraries, k):
                runs[lib], skips = run_library(
                    lib, work / f"pytest-benchmark-{lib}-pass{k + 1}.json", extra, env)
                if k == 0:
                    skipped += skips
            passes.append(runs)
        raw = merge_runs(best_of_passes(passes) if len(passes) > 1 else passes[0])
        raw["passes"] = len(passes)
        (work / "pytest-benchmark.json").write_text(json.dumps(raw, indent=1) + "\n")
        save_for_compare(raw)
    data = condense(raw, skipped, jit if jit is not None else old.get("jit"),
                    inter if inter is not None else old.get("interference"))
    data["note"] = args.note
    write_all(data, out)


if __name__ == "__main__":
    main()
