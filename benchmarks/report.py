"""Run the benchmark suite and write benchmarks/RESULTS.md and benchmarks/results.png.

One command, from the repository root (the ``bench`` extra brings PyTorch and
JAX; without them their rows are skipped with the reason)::

    pip install -e ".[test,bench]" && python -m benchmarks.report

It runs, each in fresh processes with 2 threads pinned for every library
(``NUMBANN_BENCH_THREADS``):

1. ``benchmarks/jit_times.py`` — cold compile and warm-cache start-up;
2. ``benchmarks/interference.py`` — how one library's idle BLAS threads slow
   another's (skip with ``--skip-interference``);
3. the pytest-benchmark suite, timed: ``python -m pytest benchmarks
   --benchmark-enable --benchmark-only --benchmark-autosave
   --benchmark-json=… --benchmark-max-time=2`` (the autosaved run lands in ``.benchmarks/``, so
   ``python -m pytest benchmarks --benchmark-enable --benchmark-compare``
   later compares a change against it);

then writes ``benchmarks/results.json`` (the condensed figures),
``benchmarks/RESULTS.md`` (tables of medians, min/max, rounds, ratios
numbann/peer and implementation/yardstick, the speed targets, the
environment and date), ``benchmarks/results.png`` (bar chart) and the
results table of ``docs/performance.md``. It takes about a quarter of an
hour (each calibrated benchmark samples for up to 2 s; long ones run 5 to 30
rounds filling about 4 s).

Other uses::

    python -m benchmarks.report -k epoch            # only groups matching a pytest -k
    python -m benchmarks.report --from-json FILE    # re-render from a pytest-benchmark JSON
    python -m benchmarks.report --render-only       # re-render from benchmarks/results.json
"""

import argparse
import datetime as _dt
import json
import re
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from subproc import thread_env  # noqa: E402

ROOT = HERE.parent
RESULTS_MD = HERE / "RESULTS.md"
RESULTS_JSON = HERE / "results.json"
RESULTS_PNG = HERE / "results.png"
PERF_DOC = ROOT / "docs" / "performance.md"
WORK = ROOT / ".benchmarks" / "numbann-report"

COMMAND = 'pip install -e ".[test,bench]" && python -m benchmarks.report'
IMPL_ORDER = ("numbann", "numbann-objects", "numpy", "torch", "jax", "yardstick")
IMPL_LABEL = {
    "numbann": "numbann",
    "numbann-objects": "numbann objects",
    "numpy": "NumPy (textbook style)",
    "torch": "PyTorch",
    "jax": "JAX",
    "yardstick": "yardstick: matrix products alone",
}
PEERS = ("numpy", "torch", "jax")
COLORS = {"numbann": "#d62728", "numbann-objects": "#ff9896", "numpy": "#1f77b4",
          "torch": "#ff7f0e", "jax": "#2ca02c", "yardstick": "#7f7f7f"}
SECTION_ORDER = ("epoch", "step", "inference", "numerical gradient", "peak sgemm", "kernel")


# --- running ------------------------------------------------------------------------


def run_script(script, json_path):
    """Run a measuring script; its figures, or None (with a warning) if it failed."""
    cmd = [sys.executable, str(HERE / script), "--json", str(json_path)]
    print(f"$ {' '.join(cmd)}", flush=True)
    if subprocess.run(cmd, env=thread_env(), cwd=ROOT).returncode != 0:
        print(f"warning: {script} failed; RESULTS.md keeps its previous figures", flush=True)
        return None
    return json.loads(Path(json_path).read_text())


def run_pytest(json_path, extra):
    cmd = [sys.executable, "-m", "pytest", "benchmarks", "--benchmark-enable",
           "--benchmark-only", "--benchmark-autosave", f"--benchmark-json={json_path}",
           "--benchmark-max-time=2", *extra]
    print(f"$ {' '.join(cmd)}", flush=True)
    proc = subprocess.Popen(cmd, env=thread_env(), cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    skipped = []
    for line in proc.stdout:
        sys.stdout.write(line)
        m = re.match(r"SKIPPED \[(\d+)\] (\S+?):\d+: (.*)", line.strip())
        if m and "--benchmark-only" not in m.group(3):
            skipped.append({"count": int(m.group(1)), "where": m.group(2),
                            "reason": m.group(3)})
    rc = proc.wait()
    if rc not in (0, 1) or not Path(json_path).exists():
        raise SystemExit(f"pytest failed (exit {rc})")
    if rc == 1:
        print("warning: some benchmark tests failed; the report shows what ran", flush=True)
    return skipped


def _row_note(info):
    """A second label line for a scaled figure: per step of a multi-step call, or
    extrapolated from a subset."""
    if "steps_per_call" in info:
        return f"\n(per step of {info['steps_per_call']})"
    return "\n(extrapolated)" if "extrapolate" in info else ""


# --- condensing --------------------------------------------------------------------------


def condense(raw, skipped=(), jit=None, interference=None):
    """The figures RESULTS.md is made of, from a pytest-benchmark JSON."""
    rows = []
    for b in raw["benchmarks"]:
        info = dict(b.get("extra_info", {}))
        st = b["stats"]
        factor = float(info.get("extrapolate", 1.0))
        rows.append({
            "group": b["group"], "impl": info.get("impl", b["name"]), "name": b["name"],
            "median": st["median"] * factor, "min": st["min"] * factor,
            "max": st["max"] * factor, "mean": st["mean"] * factor,
            "stddev": st["stddev"] * factor, "rounds": st["rounds"],
            "iterations": st.get("iterations", 1), "extra_info": info,
        })
    mi = raw.get("machine_info", {})
    return {
        "date": raw.get("datetime", _dt.datetime.now().isoformat()),
        "command": COMMAND,
        "machine": {k: mi.get(k) for k in (
            "cpu_model", "cpus_usable", "bench_threads", "numba_threads",
            "numba_threading_layer", "thread_env", "thread_pools", "versions", "system",
            "release", "python_implementation", "python_version")},
        "cpu": mi.get("cpu", {}).get("brand_raw") or mi.get("cpu_model"),
        "commit": {k: raw.get("commit_info", {}).get(k) for k in ("id", "dirty", "branch")},
        "benchmarks": rows,
        "skipped": list(skipped),
        "jit": jit,
        "interference": interference,
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
    out = {}
    for r in data["benchmarks"]:
        out.setdefault(r["group"], {})[r["impl"]] = r
    return out


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
    if info.get("flops"):
        notes.append(f"{info['flops'] / r['median'] / 1e9:.0f} GFLOP/s")
    if info.get("note"):
        notes.append(info["note"])
    return "; ".join(notes)


def disturbed(rows):
    """Whether a group looks disturbed: an implementation's median more than 15% below the
    yardstick's — the matrix products alone cannot be beaten by that much, so one of the two
    was slowed by something else on the machine."""
    yard = rows.get("yardstick")
    if not yard:
        return False
    return any(r["median"] < 0.85 * yard["median"] for i, r in rows.items() if i != "yardstick")


DISTURBED = " ⚠"


def group_table(rows):
    nb_row = numbann_row(rows)
    yard = rows.get("yardstick")
    lines = ["| implementation | median | min | max | rounds | numbann ÷ this | × yardstick | "
             "throughput |", "|---|---:|---:|---:|---:|---:|---:|---|"]
    for impl in IMPL_ORDER:
        r = rows.get(impl)
        if r is None:
            continue
        ratio = nb_row["median"] / r["median"] if nb_row and r is not nb_row else None
        ystick = r["median"] / yard["median"] if yard and impl != "yardstick" else None
        name = IMPL_LABEL.get(impl, impl)
        if r["extra_info"].get("api"):
            name += f" ({r['extra_info']['api']})"
        if r is nb_row:
            name = f"**{name}**"
        lines.append(f"| {name} | {fmt_time(r['median'])} | {fmt_time(r['min'])} | "
                     f"{fmt_time(r['max'])} | {r['rounds']} | {fmt_ratio(ratio)} | "
                     f"{fmt_ratio(ystick)} | {rate(r)} |")
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


# --- speed targets (issue 5) ------------------------------------------------------------------


def find_group(groups, prefix, *must):
    for g in sorted(groups):
        if g.startswith(prefix) and all(m in g for m in must):
            return g
    return None


def targets(data, groups):
    """[(target, measured, verdict)] for the trainer issue's speed targets."""
    out = []

    def verdict(ok):
        return "met" if ok else "**not met**"

    for label, sizes in (("784-50-10 sigmoid SGD epoch", "784-50-10 "),
                         ("784-256-128-10 ReLU Adam epoch", "784-256-128-10")):
        g = find_group(groups, "epoch", sizes)
        rows = groups.get(g, {})
        nb = rows.get("numbann")
        yard = rows.get("yardstick")
        peers = {p: rows[p]["median"] for p in PEERS if p in rows}
        context = ", ".join(f"{p} {fmt_time(v)}" for p, v in peers.items())
        if nb and yard:
            r = nb["median"] / yard["median"]
            out.append((f"{label}: ≤ 1.2× the matrix products alone",
                        f"{fmt_time(nb['median'])} = {r:.2f}× yardstick "
                        f"({fmt_time(yard['median'])})",
                        verdict(r <= 1.2) + (" (⚠ disturbed group)" if disturbed(rows)
                                             else "")))
            slower = [p for p, v in peers.items() if v <= nb["median"]]
            out.append((f"{label}: faster than every peer", context or "no peers ran",
                        verdict(not slower) if peers else "not measured"))
        else:
            objs = rows.get("numbann-objects")
            out.append((f"{label}: ≤ 1.2× the matrix products alone",
                        "engine not measured" + (f" (object API: {fmt_time(objs['median'])})"
                                                 if objs else ""), "not measured"))
    g = find_group(groups, "step 784-50-10", "batch 1")
    rows = groups.get(g, {})
    nb = rows.get("numbann")
    ctx = ", ".join(f"{p} {fmt_time(rows[p]['median'])}" for p in PEERS if p in rows)
    if nb:
        out.append(("one training step at batch 1 (784-50-10): < 10 µs",
                    f"{fmt_time(nb['median'])} (per step of nb.fit over 200 steps in one "
                    f"compiled call; per call: {ctx})",
                    verdict(nb["median"] < 10e-6)))
    objs = rows.get("numbann-objects")
    if objs:
        out.append(("… the same step through the object API (for reference)",
                    fmt_time(objs["median"]), "—"))
    g = find_group(groups, "inference", "batch 10000")
    rows = groups.get(g, {})
    nb = rows.get("numbann")
    if nb:
        ips = nb["extra_info"]["images"] / nb["median"]
        ctx = ", ".join(f"{p} {rows[p]['extra_info']['images'] / rows[p]['median'] / 1e6:.2f} M"
                        for p in PEERS if p in rows)
        out.append(("inference, 10,000 test images in one batch: > 1.6 M images/s",
                    f"{ips / 1e6:.2f} M images/s ({ctx})", verdict(ips > 1.6e6)))
    g = find_group(groups, "numerical gradient")
    rows = groups.get(g, {})
    nb = rows.get("numbann")
    if nb:
        ctx = (f"textbook NumPy loop {fmt_time(rows['numpy']['median'])}, extrapolated"
               if "numpy" in rows else "")
        out.append(("numerical gradient, 784-50-10, batch 100: well under 1 s (< 0.5 s)",
                    f"{fmt_time(nb['median'])} ({ctx})", verdict(nb["median"] < 0.5)))
    jit = data.get("jit")
    if jit:
        fc, fw = jit["fit_cold"], jit["fit_warm"]
        cold = fc["import_s"] + fc["fit_A_first_s"] + fc["fit_B_first_s"]
        warm = fw["import_plus_first_fit_s"]
        call = fc.get("training_call", "nb.fit")
        out.append((f"JIT: fresh process, warm cache, import + first {call} ≤ 0.5 s",
                    f"{warm:.2f} s", verdict(warm <= 0.5)))
        out.append(("JIT: cold compile of the whole training path ≤ 5 s",
                    f"{cold:.1f} s (import + first fit of both networks, empty cache)",
                    verdict(cold <= 5.0)))
    return out


# --- RESULTS.md --------------------------------------------------------------------------------


def environment(data):
    m = data["machine"]
    v = m.get("versions") or {}
    env = m.get("thread_env") or {}
    pools = m.get("thread_pools") or []
    lines = [
        f"- date: {data['date'][:19].replace('T', ' ')} UTC; commit "
        f"{(data.get('commit') or {}).get('id', '?')[:10]}"
        + (" (with uncommitted changes)" if (data.get("commit") or {}).get("dirty") else ""),
        f"- CPU: {data.get('cpu') or m.get('cpu_model')}, {m.get('cpus_usable')} usable cores; "
        f"{m.get('system', '')} {m.get('release', '')}",
        f"- threads: {m.get('bench_threads')} for every library (Numba "
        f"{m.get('numba_threads')}, threading layer {m.get('numba_threading_layer')}); "
        + ", ".join(f"{k}={val}" for k, val in env.items() if val is not None),
        "- thread pools loaded: " + (", ".join(f"{lib} ({api}) {n}" for lib, api, n in pools)
                                     or "threadpoolctl not installed"),
        "- versions: " + ", ".join(f"{k} {val}" for k, val in v.items()),
        "- dtype float32 everywhere (the numerical gradient: float64, as numbann computes it)",
    ]
    return "\n".join(lines)


INTRO = """\
# numbann benchmark results

Generated by `python -m benchmarks.report` (see docs/performance.md) from one
run of the suite in `benchmarks/`: {n} benchmarks in {g} groups. Each group
is the same work — same data, same initial float32 weights, same batch order,
same thread count — done by each implementation; JIT and XLA compilation
happen in an untimed warm-up call. Times are per call: the **median**, with
min and max over the rounds. **numbann ÷ this** below 1 means numbann is
faster; **× yardstick** is the time over the matrix products of the same
workload alone through the same BLAS (SciPy's OpenBLAS via Numba's
`np.dot`), a floor no implementation can go far below.

**Read the ratios, not the absolute times.** The machine is shared and
noisy; figures from one run move together, so ratios within one run are the
figures that count. {note}
"""


def render_md(data):
    groups = groups_of(data)
    names = sorted(groups, key=group_sort_key)
    by_section = {}
    for g in names:
        by_section.setdefault(section(g), []).append(g)
    out = [INTRO.format(n=len(data["benchmarks"]), g=len(groups),
                        note=data.get("note") or "")]
    out.append("![results](results.png)\n")
    out.append("## Environment\n\n" + environment(data) + "\n")
    t = targets(data, groups)
    if t:
        out.append("## Speed targets (issue 5)\n")
        out.append("| target | measured | verdict |\n|---|---|---|")
        out.extend(f"| {a} | {b} | {c} |" for a, b, c in t)
        out.append("")
    main = [g for s in ("epoch", "step", "inference", "numerical gradient", "peak sgemm")
            for g in by_section.get(s, [])]
    if main:
        out.append("## Summary (medians)\n")
        out.append(summary_table(groups, main) + "\n")
        out.append("numbann stands for the compiled engine (`nb.fit`) where it ran, else the "
                   "object API (in bold). The numerical-gradient NumPy figure is extrapolated "
                   "from a subset of parameters (see its group). ⚠ marks a group where an "
                   "implementation's median came out more than 15% below the matrix products "
                   "alone — impossible on a quiet machine, so something else slowed the "
                   "yardstick (or the others) there: treat that group's ratios with care.\n")
    if by_section.get("kernel"):
        out.append("## Kernels (medians)\n")
        out.append(summary_table(groups, by_section["kernel"]) + "\n")
    titles = {"epoch": "One MNIST epoch", "step": "One training step",
              "inference": "Inference", "numerical gradient": "Numerical gradient",
              "peak sgemm": "Peak float32 GEMM", "kernel": "Kernels, in detail"}
    for sec in SECTION_ORDER:
        if not by_section.get(sec):
            continue
        out.append(f"## {titles[sec]}\n")
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
        out.extend(f"- {s['count']} × {s['where']}: {s['reason']}" for s in data["skipped"])
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
other costs little. The suite therefore never alternates libraries inside a
timed function and waits `NUMBANN_BENCH_QUIESCE` seconds (0.3) before each
timed benchmark; it keeps OpenBLAS's default timeout, so that every library
runs as its users run it. See docs/performance.md.

"""


# --- chart ---------------------------------------------------------------------------------------


def render_png(data, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups = groups_of(data)
    panels = []
    for prefix, must, title in (
            ("epoch", ("784-50-10 ",), "epoch, 784-50-10 sigmoid SGD b100"),
            ("epoch", ("784-256-128-10",), "epoch, 784-256-128-10 ReLU Adam b128"),
            ("step 784-50-10", ("batch 1",), "step, 784-50-10, batch 1"),
            ("step 784-256-128-10", ("batch 128",), "step, 784-256-128-10, batch 128"),
            ("inference", ("batch 100",), "inference 10k images, batch 100"),
            ("inference", ("batch 10000",), "inference 10k images, one batch"),
            ("numerical gradient", (), "numerical gradient, 784-50-10 b100"),
            ("peak sgemm", (), "peak sgemm (GFLOP/s, higher is better)")):
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
        rows = groups[g]
        impls = [i for i in IMPL_ORDER if i in rows]
        is_rate = g.startswith("peak sgemm")
        if is_rate:
            vals = [rows[i]["extra_info"]["flops"] / rows[i]["median"] / 1e9 for i in impls]
            lo = hi = [0] * len(impls)
            unit, scale = "GFLOP/s", 1.0
        else:
            med = [rows[i]["median"] for i in impls]
            top = max(med)
            unit, scale = (("s", 1.0) if top >= 1 else ("ms", 1e3) if top >= 1e-3
                           else ("µs", 1e6))
            vals = [m * scale for m in med]
            lo = [(rows[i]["median"] - rows[i]["min"]) * scale for i in impls]
            hi = [(rows[i]["max"] - rows[i]["median"]) * scale for i in impls]
            hi = [min(h, 2 * v) for h, v in zip(hi, vals)]  # keep outliers from squashing
        y = range(len(impls))
        ax.barh(list(y), vals, color=[COLORS.get(i, "k") for i in impls],
                xerr=None if is_rate else [lo, hi], error_kw=dict(lw=0.8, capsize=2))
        ax.set_yticks(list(y))
        ax.set_yticklabels([i.replace("numbann-objects", "numbann objects")
                            + _row_note(rows[i]["extra_info"])
                            for i in impls], fontsize=8)
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
    fig.suptitle(f"numbann benchmarks, {data.get('cpu') or ''}, "
                 f"{data['machine'].get('bench_threads')} threads, float32 — "
                 f"{data['date'][:10]} (shared machine: compare within a panel)", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# --- docs/performance.md --------------------------------------------------------------------------

DOC_START, DOC_END = "<!-- results-table:start -->", "<!-- results-table:end -->"


def doc_wanted(group):
    """The groups docs/performance.md shows: epochs, steps at batch 1 and at each network's
    own batch size, inference, numerical gradient."""
    sec = section(group)
    if sec == "step":
        return (group.endswith(" batch 1") or ("784-50-10 " in group and group.endswith(" 100"))
                or ("784-256-128-10" in group and group.endswith(" 128")))
    return sec in ("epoch", "inference", "numerical gradient")


def doc_table(data):
    groups = groups_of(data)
    names = [g for g in sorted(groups, key=group_sort_key) if doc_wanted(g)]
    body = summary_table(groups, names)
    return (f"{DOC_START}\n<!-- generated by python -m benchmarks.report from "
            f"benchmarks/results.json; do not edit by hand -->\n\n"
            f"Run of {data['date'][:10]} on {data.get('cpu')}, "
            f"{data['machine'].get('bench_threads')} threads, float32 (medians; full tables "
            f"in [benchmarks/RESULTS.md](../benchmarks/RESULTS.md)):\n\n{body}\n\n{DOC_END}")


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


def write_all(data):
    RESULTS_JSON.write_text(json.dumps(data, indent=1, sort_keys=False) + "\n")
    RESULTS_MD.write_text(render_md(data))
    render_png(data, RESULTS_PNG)
    update_doc(data)
    print(f"wrote {RESULTS_MD.relative_to(ROOT)}, {RESULTS_PNG.relative_to(ROOT)}, "
          f"{RESULTS_JSON.relative_to(ROOT)} and the table in docs/performance.md")


def main(argv=None):
    p = argparse.ArgumentParser(description="Run the benchmark suite and write RESULTS.md.",
                                epilog="Arguments after -- go to pytest.")
    p.add_argument("-k", help="only benchmarks matching this pytest -k expression")
    p.add_argument("--from-json", help="render from this pytest-benchmark JSON, run nothing")
    p.add_argument("--render-only", action="store_true",
                   help="re-render from benchmarks/results.json")
    p.add_argument("--skip-jit", action="store_true")
    p.add_argument("--skip-interference", action="store_true")
    p.add_argument("--note", default="", help="a sentence for RESULTS.md (e.g. machine load)")
    args, pytest_args = p.parse_known_args(argv)
    pytest_args = [a for a in pytest_args if a != "--"]
    if args.render_only:
        data = json.loads(RESULTS_JSON.read_text())
        if args.note:
            data["note"] = args.note
        write_all(data)
        return
    old = json.loads(RESULTS_JSON.read_text()) if RESULTS_JSON.exists() else {}
    WORK.mkdir(parents=True, exist_ok=True)
    skipped = []
    if args.from_json:
        raw_path = Path(args.from_json)
        jit, inter = old.get("jit"), old.get("interference")
    else:
        jit = None if args.skip_jit else run_script("jit_times.py", WORK / "jit.json")
        inter = (None if args.skip_interference
                 else run_script("interference.py", WORK / "interference.json"))
        raw_path = WORK / "pytest-benchmark.json"
        extra = (["-k", args.k] if args.k else []) + pytest_args
        skipped = run_pytest(raw_path, extra)
    raw = json.loads(raw_path.read_text())
    data = condense(raw, skipped, jit if jit is not None else old.get("jit"),
                    inter if inter is not None else old.get("interference"))
    data["note"] = args.note
    write_all(data)


if __name__ == "__main__":
    main()
