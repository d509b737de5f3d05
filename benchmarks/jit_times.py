"""JIT figures: cold compile and warm-cache start-up, each in a fresh process.

numbann's kernels are ``@njit(cache=True)``: the first process compiles them
and writes machine code to Numba's cache; later processes load it. Run::

    python benchmarks/jit_times.py            # a table on stdout
    python benchmarks/jit_times.py --json F   # also the raw figures to F

Four fresh processes, in two pairs, each pair with ``NUMBA_CACHE_DIR``
pointing at a new, empty temporary directory (so nothing compiled earlier is
reused):

* **training path**: ``import numbann``, then the first training call on 200
  MNIST-shaped rows — ``nb.fit`` of the 784-50-10 sigmoid/SGD network, then
  of the 784-256-128-10 ReLU/Adam network (or, before the engine exists, one
  object-API step of each). First with the empty cache (**cold**: compile),
  then again in a new process (**warm**: load from the cache) — the start-up
  a user sees (issue 5's targets: a cold compile of the training path within
  5 s, a warm first fit within 0.5 s).
* **kernels**: ``import numbann``, the first call of each kernel family at
  float32 (activations, dense, losses, optimizers) and of the compiled
  numerical gradient; cold, then warm. A first call minus a second call of
  the same is its compile (or load) time.

Times are wall-clock seconds from ``time.perf_counter``; the interpreter's
own start-up is reported separately (``python_startup_s``).
"""

import time

T_START = time.perf_counter()

import json  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402

from subproc import script_main, thread_env  # noqa: E402


def _timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def child(mode):
    import numpy as np

    res = {"mode": mode}
    t_import, nb = _timed(lambda: __import__("numbann"))
    res["import_s"] = t_import
    has_fit = hasattr(nb, "fit")
    res["training_call"] = "nb.fit (compiled engine)" if has_fit else "object-API step"
    rng = np.random.default_rng(0)
    x = rng.random((200, 784), dtype=np.float32)
    t = rng.integers(0, 10, 200)

    def make(sizes, act, opt):
        layers = []
        for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
            layers.append(nb.Linear(a, b, rng=i))
            if i < len(sizes) - 2:
                layers.append(act())
        model = nb.Sequential(*layers)
        o = (nb.optim.SGD(model.parameters(), lr=0.1) if opt == "sgd"
             else nb.optim.Adam(model.parameters(), lr=1e-3))
        return model, nb.CrossEntropyLoss(), o

    def train(sizes, act, opt):
        model, loss_fn, o = make(sizes, act, opt)
        if has_fit:
            def run():
                return nb.fit(model, loss_fn, o, x, t, epochs=1, batch_size=100, shuffle=True,
                              seed=0, verbose=0)
        else:
            def run():
                y = model(x[:100])
                loss_fn(y, t[:100])
                o.zero_grad()
                model.backward(loss_fn.backward())
                o.step()
        return run

    if mode == "fit":
        for key, sizes, act, opt in (("fit_A", (784, 50, 10), nb.Sigmoid, "sgd"),
                                     ("fit_B", (784, 256, 128, 10), nb.ReLU, "adam")):
            run = train(sizes, act, opt)
            first, _ = _timed(run)
            second, _ = _timed(run)
            res[f"{key}_first_s"] = first
            res[f"{key}_compile_s"] = max(first - second, 0.0)
            if key == "fit_A":
                res["import_plus_first_fit_s"] = t_import + first
                res["since_process_start_s"] = time.perf_counter() - T_START
        print(json.dumps(res))
        return

    from numbann.kernels import activations as A
    from numbann.kernels import dense as D
    from numbann.kernels import losses as L
    from numbann.kernels import optim as O

    f32 = np.float32
    X = rng.random((100, 784), dtype=f32)
    W = rng.standard_normal((784, 50)).astype(f32)
    b = np.zeros(50, f32)
    Y = np.empty((100, 50), f32)
    dY = rng.standard_normal((100, 50)).astype(f32)
    dZ, dW, db, dX = np.empty_like(dY), np.empty_like(W), np.empty_like(b), np.empty_like(X)
    Z = rng.standard_normal((100, 10)).astype(f32)
    dZl = np.empty_like(Z)
    p = rng.standard_normal(39760).astype(f32)
    g = rng.standard_normal(39760).astype(f32)
    s1, s2, s3 = np.zeros_like(p), np.zeros_like(p), np.zeros_like(p)

    families = {
        "activations": lambda: (A.activation_forward(A.SIGMOID, dY, Y),
                                A.activation_backward(A.SIGMOID, Y, dY, dZ),
                                A.activation_forward(A.RELU, dY, Y),
                                A.activation_backward(A.RELU, Y, dY, dZ)),
        "dense": lambda: (D.dense_forward(X, W, b, A.SIGMOID, Y),
                          D.dense_backward(X, W, Y, dY, A.SIGMOID, dZ, dW, db, dX, True, False)),
        "losses": lambda: L.loss_labels(L.SOFTMAX_CE, Z, t[:100], 0.01, dZl, True),
        "optimizers": lambda: (O.sgd_step(p, g, p[:0], 0.1, 0.0, 0.0, False, 0.0, True),
                               O.adam_step(p, g, s1, s2, s3, 1e-3, 0.9, 0.999, 1e-8, 0.0, 1,
                                           False)),
    }
    for name, fn in families.items():
        first, _ = _timed(fn)
        second, _ = _timed(fn)
        res[f"kernels_{name}_first_s"] = first
        res[f"kernels_{name}_compile_s"] = max(first - second, 0.0)
    model, loss_fn, _ = make((784, 50, 10), nb.Sigmoid, "sgd")
    first, _ = _timed(lambda: model.numerical_gradient(x[:10], t[:10], loss_fn))
    second, _ = _timed(lambda: model.numerical_gradient(x[:10], t[:10], loss_fn))
    res["numgrad_first_s"] = first
    res["numgrad_compile_s"] = max(first - second, 0.0)
    print(json.dumps(res))


def python_startup():
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", "pass"], check=True)
    return time.perf_counter() - t0


def source_stamp():
    """(path, mtime, size) of every numbann source file: if it changes between the cold and
    the warm process, the warm one recompiled and the pair is measured again."""
    import importlib.util
    from pathlib import Path

    root = Path(importlib.util.find_spec("numbann").origin).parent
    return sorted((str(p), p.stat().st_mtime_ns, p.stat().st_size) for p in root.rglob("*.py"))


def run_all(attempts=3):
    env = thread_env()
    out = {"python_startup_s": python_startup(), "cache_dir": "fresh temporary directory"}
    for what in ("fit", "kernels"):
        for _ in range(attempts):
            stamp = source_stamp()
            with tempfile.TemporaryDirectory(prefix="numbann-jit-") as cache:
                env["NUMBA_CACHE_DIR"] = cache
                for state in ("cold", "warm"):
                    proc = subprocess.run([sys.executable, __file__, "--child", what], env=env,
                                          capture_output=True, text=True)
                    if proc.returncode != 0:
                        raise RuntimeError(f"jit_times child '{what}' ({state}) failed "
                                           f"(exit {proc.returncode}):\n{proc.stdout[-2000:]}"
                                           f"\n{proc.stderr[-3000:]}")
                    out[f"{what}_{state}"] = json.loads(proc.stdout.strip().splitlines()[-1])
            if source_stamp() == stamp:
                break
            print(f"numbann's sources changed while measuring '{what}': measuring again",
                  file=sys.stderr)
        else:
            out["warning"] = "numbann's sources kept changing during the measurement"
    return out


def table(res):
    """Markdown table of the figures (seconds)."""
    fc, fw = res["fit_cold"], res["fit_warm"]
    kc, kw = res["kernels_cold"], res["kernels_warm"]
    call = fc.get("training_call", "nb.fit")
    lines = ["| fresh process | cold cache (compile) | warm cache (load) |", "|---|---:|---:|",
             f"| `import numbann` | {fc['import_s']:.3f} s | {fw['import_s']:.3f} s |",
             f"| first {call}: 784-50-10 sigmoid SGD, 200 rows | {fc['fit_A_first_s']:.3f} s "
             f"| {fw['fit_A_first_s']:.3f} s |",
             f"| then first {call}: 784-256-128-10 ReLU Adam | {fc['fit_B_first_s']:.3f} s | "
             f"{fw['fit_B_first_s']:.3f} s |"]
    tc = fc["import_s"] + fc["fit_A_first_s"] + fc["fit_B_first_s"]
    tw = fw["import_s"] + fw["fit_A_first_s"] + fw["fit_B_first_s"]
    lines.append(f"| **training path: import + both first calls** | **{tc:.2f} s** | "
                 f"**{tw:.2f} s** |")
    lines.append(f"| import + first call of the 784-50-10 fit alone | "
                 f"{fc['import_plus_first_fit_s']:.3f} s | "
                 f"**{fw['import_plus_first_fit_s']:.3f} s** |")
    lines.append(f"| *separately:* `import numbann` | {kc['import_s']:.3f} s | "
                 f"{kw['import_s']:.3f} s |")
    for fam in ("activations", "dense", "losses", "optimizers"):
        lines.append(f"| first call: {fam} kernels | {kc[f'kernels_{fam}_first_s']:.3f} s | "
                     f"{kw[f'kernels_{fam}_first_s']:.3f} s |")
    lines.append(f"| first numerical gradient (on every thread) | {kc['numgrad_first_s']:.3f} s "
                 f"| {kw['numgrad_first_s']:.3f} s |")
    lines.append("")
    if res.get("warning"):
        lines.append(f"**Warning:** {res['warning']}; the warm figures may include compiles.")
        lines.append("")
    lines.append(f"The bare interpreter start-up (`python -c pass`) is "
                 f"{res['python_startup_s']:.3f} s and is not included.")
    return "\n".join(lines)


def main(argv=None):
    script_main(__doc__, child, run_all, table, argv)


if __name__ == "__main__":
    main()
