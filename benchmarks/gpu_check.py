"""The one-shot hardware check of numbann's GPU path: ``python -m benchmarks.gpu_check``.

Run it from the repository root, with numbann from the source tree
(``PYTHONPATH=. python -m benchmarks.gpu_check``), on a machine with an NVIDIA
GPU and the packages already installed there (numba-cuda, for CUDA 12 or 13;
NumPy of any version those allow): it installs nothing and uses no network.
MNIST is read from ``$NUMBANN_DATA``, the directory beside the checkout or
numbann's cache when it is there; otherwise the data are synthetic arrays of
MNIST's shape. Eight steps, in order; the first that fails stops the check
with a message saying which and why:

1. preflight: versions, driver, compute capability, NVVM and nvJitLink,
   ``numbann._cuda.cuda_status()``;
2. one tiny kernel (ReLU over NaN, ±inf and ordinary values) against NumPy;
3. every test module of ``tests/cuda_sim``, on the GPU, in a pytest process
   that stops at the first failure (fails if everything was skipped);
4. GEMM TFLOP/s of the forward and the fused backward product of every layer
   shape of the two reference networks, timed with CUDA events;
5. launch cost in µs (an empty kernel; numbann's backward launch, through the
   dispatcher and pre-typed);
6. epoch times of 784-50-10 (sigmoid, SGD, batch 100) and 784-256-128-10
   (ReLU, Adam, batch 128) on the GPU with ``fit``, and of the CPU engine on
   the same machine;
7. PyTorch on the same GPU, when it is importable (the benchmarks' recipe);
8. GPU-against-CPU parameter agreement after the same steps — for the two
   networks and for the deeper one with batch norm and dropout (its running
   statistics and evaluation loss too) — and the launches per step.

A table is printed last; the results go to ``benchmarks/gpu_results.json``:
``device``, ``versions``, per network ``epoch.<shapes>.gpu_s`` and ``cpu_s``
(and the first epoch, compile times, PyTorch's), ``gemm``, ``launch_us``,
``agreement``, each step's status and time. It takes a few minutes (limit:
``--budget``, 300 s).

``--simulator`` runs the same steps on Numba's CUDA simulator with tiny
networks, data and launch sizes and a small selection of the kernel tests, so
that CI keeps the check from rotting; its numbers mean nothing, and its
results go to a temporary file unless ``--out`` says where.
"""

import argparse
import importlib.metadata
import json
import math
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "benchmarks"
RESULTS = BENCH / "gpu_results.json"

#: Numba's CUDA simulator with launch sizes small enough that tiny inputs span several
#: blocks, partial tiles and grid-stride loops (read at import: set before numbann loads)
SIMULATOR_ENV = {
    "NUMBA_ENABLE_CUDASIM": "1",
    "NUMBANN_CUDA_THREADS": "8",
    "NUMBANN_CUDA_TILE": "4",
    "NUMBANN_CUDA_ROW_THREADS": "4",
    "NUMBANN_CUDA_MAX_BLOCKS": "3",
}

#: the kernel tests the simulator run takes (every module is still collected)
SIMULATOR_TESTS = "relu and float32 and not training"


class CheckFailed(Exception):
    """A step found something wrong; the message says what."""


class Check:
    """The run's settings, what it found so far (``results``) and the table rows."""

    def __init__(self, simulator, budget):
        self.simulator, self.budget = simulator, budget
        self.start = time.perf_counter()
        self.results = {"simulator": simulator, "device": None, "steps": {}, "epoch": {}}
        self.rows = []  # (section, item, value)
        self.models = {}  # network name → trained flat parameters per device (step 6)

    def left(self):
        return self.budget - (time.perf_counter() - self.start)

    def row(self, section, item, value):
        self.rows.append((section, item, value))


# --- what runs -------------------------------------------------------------------------


def _nets(check):
    """The two reference networks (benchmarks/workloads.py), or tiny ones of the same depth
    on the simulator."""
    import workloads

    if not check.simulator:
        return workloads.TRAIN_NETS
    a, b = workloads.NET_A, workloads.NET_B
    return (workloads.Net(a.key, (12, 8, 4), a.act, a.opt, a.lr, 8, a.init),
            workloads.Net(b.key, (12, 10, 8, 4), b.act, b.opt, b.lr, 8, b.init))


def _data(check):
    """(x, t, where from): MNIST's training set if it is on this machine, else synthetic
    data of its shape (labels: the argmax of a fixed projection, so there is something to
    learn); 16 rows of 12 features on the simulator."""
    import workloads

    n, d, c = (16, 12, 4) if check.simulator else (60000, 784, 10)
    if not check.simulator:
        if workloads.mnist_available():
            (x, t), _ = workloads.mnist()
            return x, t, f"MNIST ({workloads.data_dir()})"
        try:
            from numbann.datasets import load_mnist

            (x, t), _ = load_mnist(download=False)
            return x, t, "MNIST (numbann's data directory)"
        except Exception:  # noqa: BLE001 - any reason not to have it: use synthetic data
            pass
    rng = np.random.default_rng(0)
    x = rng.random((n, d), dtype=np.float32)
    t = np.argmax(x @ rng.standard_normal((d, c)).astype(np.float32), axis=1)
    return x, t, "synthetic (MNIST's shape)" if not check.simulator else "synthetic (tiny)"


def _optimizer(net, model):
    import numbann as nb

    return (nb.optim.SGD(model.parameters(), lr=net.lr) if net.opt == "sgd" else
            nb.optim.Adam(model.parameters(), lr=net.lr))


def _model(net, device):
    import workloads

    import numbann as nb

    acts = {"sigmoid": nb.Sigmoid, "relu": nb.ReLU}
    layers = []
    for m, (a, b) in enumerate(net.layer_shapes):
        layers.append(nb.Linear(a, b))
        if m < len(net.layer_shapes) - 1:
            layers.append(acts[net.act]())
    model = nb.Sequential(*layers)
    model.flat_parameters[...] = workloads.initial_flat(net)
    return model.to(device), _optimizer(net, model)


#: the drop probability of the batch-norm network's dropout layers
BN_DROPOUT = 0.2


def _bn_model(net, device):
    """*net* with a batch norm after each hidden product and dropout after each hidden
    activation (the textbook's MultiLayerNetExtend order), He-initialised from a fixed
    seed. The hidden products have no bias: a batch norm subtracts it, so its gradient
    is rounding noise, which Adam would turn into steps of ±lr that differ between
    devices."""
    import numbann as nb

    acts = {"sigmoid": nb.Sigmoid, "relu": nb.ReLU}
    layers = []
    for m, (a, b) in enumerate(net.layer_shapes):
        hidden = m < len(net.layer_shapes) - 1
        layers.append(nb.Linear(a, b, bias=not hidden, init="he", rng=m))
        if hidden:
            layers += [nb.BatchNorm1d(b), acts[net.act](), nb.Dropout(BN_DROPOUT, rng=m)]
    model = nb.Sequential(*layers)
    return model.to(device), _optimizer(net, model)


def _fit(net, device, x, t, epochs, seed=0, build=_model):
    """(history, the trained model, now on the host) of ``fit`` on *device*."""
    import numbann as nb

    model, opt = build(net, device)
    hist = nb.fit(model, nb.CrossEntropyLoss(), opt, x, t, epochs=epochs, batch_size=net.batch,
                  seed=seed, verbose=0)
    return hist, model.to("cpu")


def _cuda_timer(cuda, check):
    """``timed(fn, reps)`` → seconds per call, by CUDA events (host clock on the
    simulator, whose events record nothing)."""

    def timed(fn, reps):
        fn()
        cuda.synchronize()
        if check.simulator:
            start = time.perf_counter()
            for _ in range(reps):
                fn()
            return (time.perf_counter() - start) / reps
        begin, end = cuda.event(), cuda.event()
        begin.record()
        for _ in range(reps):
            fn()
        end.record()
        end.synchronize()
        return cuda.event_elapsed_time(begin, end) / 1e3 / reps

    return timed


# --- the eight steps -----------------------------------------------------------------


def preflight(check):
    """Versions, the driver, the device and the compilers; fails unless CUDA is usable."""
    versions = {"python": platform.python_version(), "numpy": np.__version__}
    for package in ("numba", "numba-cuda", "torch"):
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            versions[package] = None
    try:
        from numbann import __version__
        from numbann._cuda import cuda, cuda_status
    except Exception as exc:
        raise CheckFailed(f"numbann does not import from {ROOT}: {exc!r}") from exc
    versions["numbann"] = __version__
    check.results["versions"] = versions
    ok, reason = cuda_status()
    check.results["cuda_status"] = reason
    if not ok:
        raise CheckFailed(f"CUDA is not usable: {reason}")
    if check.simulator != bool(os.environ.get("NUMBA_ENABLE_CUDASIM") == "1"):
        raise CheckFailed("NUMBA_ENABLE_CUDASIM is set: run with --simulator, or unset it")
    info = {"cpu_count": os.cpu_count(), "machine": platform.machine()}
    if check.simulator:
        info["device"] = "Numba CUDA simulator"
    else:
        gpu = cuda.get_current_device()
        name = gpu.name.decode() if isinstance(gpu.name, bytes) else gpu.name
        cc = gpu.compute_capability
        info.update(device=f"{name} (compute capability {cc[0]}.{cc[1]})",
                    sm_count=gpu.MULTIPROCESSOR_COUNT,
                    memory_gib=round(cuda.current_context().get_memory_info()[1] / 2**30, 1),
                    driver=_version_of(lambda: cuda.cudadrv.driver.driver.get_version()),
                    runtime=_version_of(lambda: cuda.runtime.get_version()),
                    nvvm=_version_of(_nvvm_version), nvjitlink=_version_of(_nvjitlink_version))
    check.results["device"] = info["device"]
    check.results["machine"] = info
    check.row("preflight", "device", info["device"])
    for key in ("driver", "runtime", "nvvm", "nvjitlink"):
        if key in info:
            check.row("preflight", key, info[key])
    check.row("preflight", "numba-cuda / numba / numpy",
              f"{versions['numba-cuda']} / {versions['numba']} / {versions['numpy']}")


def _version_of(get):
    try:
        v = get()
        return ".".join(str(p) for p in v) if isinstance(v, tuple) else str(v)
    except Exception as exc:  # noqa: BLE001 - reported, not fatal
        return f"unknown ({type(exc).__name__}: {exc})".splitlines()[0][:120]


def _nvvm_version():
    from numba.cuda.cudadrv import nvvm

    return nvvm.NVVM().get_version()


def _nvjitlink_version():
    from cuda.bindings import nvjitlink

    return nvjitlink.version()


def tiny_kernel(check):
    """ReLU over NaN, ±inf and ordinary values on the device, against NumPy (NaN must stay
    NaN: a float max would make it 0 on a GPU)."""
    from numbann._cuda import cuda
    from numbann.kernels.activations import RELU
    from numbann.kernels.cuda import activations

    x = np.array([[-1.5, -0.0, 0.0, 2.5, np.nan, np.inf, -np.inf, 1e-38]], np.float32)
    want = np.where(x > 0, x, np.float32(0))
    want[np.isnan(x)] = np.nan
    y = cuda.device_array(x.shape, np.float32)
    activations.activation_forward(RELU, cuda.to_device(x), y)
    got = y.copy_to_host()
    if not np.array_equal(got, want, equal_nan=True):
        raise CheckFailed(f"ReLU on the device gave {got.tolist()}, NumPy {want.tolist()}")
    check.row("kernel", "ReLU over NaN/±inf vs NumPy", "equal")


def kernel_tests(check):
    """tests/cuda_sim in a pytest process: all on a GPU, a selection on the simulator."""
    modules = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "tests" / "cuda_sim").glob(
        "test_*.py"))
    if not modules:
        raise CheckFailed(f"no test modules in {ROOT / 'tests' / 'cuda_sim'}")
    cmd = [sys.executable, "-m", "pytest", *modules, "-x", "-q", "-rfEs", "-p",
           "no:cacheprovider", "-o", "addopts="]
    if check.simulator:
        cmd += ["-k", SIMULATOR_TESTS]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(ROOT)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p])}
    limit = max(30.0, check.left() - 90)
    try:
        proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True,
                              timeout=limit)
    except subprocess.TimeoutExpired as exc:
        raise CheckFailed(f"the kernel tests took more than {limit:.0f} s") from exc
    out = proc.stdout + proc.stderr
    counts = {k: int(v) for v, k in re.findall(r"(\d+) (passed|failed|skipped|errors?)", out)}
    check.results["kernel_tests"] = dict(counts, modules=len(modules))
    if "No module named pytest" in out:
        raise CheckFailed("pytest is not installed here: the kernel tests need it")
    if proc.returncode != 0 or counts.get("passed", 0) == 0:
        tail = "\n".join(out.strip().splitlines()[-25:])
        raise CheckFailed(f"the kernel tests failed (exit {proc.returncode}; {counts}):\n{tail}")
    check.row("tests", f"tests/cuda_sim ({len(modules)} modules)",
              ", ".join(f"{v} {k}" for k, v in counts.items()))


def gemm_rates(check):
    """TFLOP/s of each layer's forward product (bias + activation fused) and of its fused
    backward (dW, db, dX in one launch), by CUDA events."""
    from numbann._cuda import cuda
    from numbann.kernels.activations import CODES
    from numbann.kernels.cuda import dense
    from numbann.kernels.cuda._launch import run

    timed = _cuda_timer(cuda, check)
    reps = 1 if check.simulator else 200
    rng = np.random.default_rng(0)
    rates = {}
    for net in _nets(check):
        for m, (i, o) in enumerate(net.layer_shapes):
            n = net.batch
            x = rng.random((n, i), dtype=np.float32)
            w = (rng.standard_normal((i, o)) / np.sqrt(i)).astype(np.float32)
            X, W = cuda.to_device(x), cuda.to_device(w)
            b, A, dA = (cuda.to_device(np.zeros(s, np.float32)) for s in (o, (n, o), (n, o)))
            dW, db, dX = (cuda.device_array(s, np.float32) for s in ((i, o), o, (n, i)))
            act = CODES[net.act]
            fwd = dense.forward_launches(X, W, b, act, A, pretyped=True)
            bwd = dense.backward_launches(X, W, A, dA, act, dA, dW, db, dX, m > 0, False,
                                          pretyped=True)
            t_f = timed(lambda launches=fwd: run(launches), reps)
            if not np.allclose(A.copy_to_host(), np.maximum(x @ w, 0) if net.act == "relu"
                               else 1 / (1 + np.exp(-(x @ w))), rtol=1e-4, atol=1e-5):
                raise CheckFailed(f"the {n}x{i} @ {i}x{o} product disagrees with NumPy")
            t_b = timed(lambda launches=bwd: run(launches), reps)
            flops_f = 2 * n * i * o
            flops_b = flops_f * (2 if m > 0 else 1)
            key = f"{net.name} layer {m + 1}: {n}x{i}@{i}x{o}"
            rates[key] = {"forward_us": t_f * 1e6, "forward_tflops": flops_f / t_f / 1e12,
                          "backward_us": t_b * 1e6, "backward_tflops": flops_b / t_b / 1e12}
            check.row("gemm", f"{key} fwd / bwd",
                      f"{rates[key]['forward_tflops']:.3f} / "
                      f"{rates[key]['backward_tflops']:.3f} TFLOP/s "
                      f"({t_f * 1e6:.1f} / {t_b * 1e6:.1f} µs)")
    check.results["gemm"] = rates


def launch_cost(check):
    """Host time per launch: an empty kernel, and numbann's layer backward (11 arguments)
    through the dispatcher and pre-typed."""
    from numbann._cuda import cuda
    from numbann.kernels.cuda import dense
    from numbann.kernels.cuda._launch import Launch

    reps = 2 if check.simulator else 2000

    @cuda.jit
    def empty():
        pass

    def per_launch(fn):
        fn()
        cuda.synchronize()
        start = time.perf_counter()
        for _ in range(reps):
            fn()
        cuda.synchronize()
        return (time.perf_counter() - start) / reps * 1e6

    X, W, A = (cuda.to_device(np.ones(s, np.float32)) for s in ((2, 3), (3, 4), (2, 4)))
    dW, db, dX = (cuda.device_array(s, np.float32) for s in ((3, 4), 4, (2, 3)))
    bwd, = dense.backward_launches(X, W, A, A, 0, A, dW, db, dX, True, False)
    plain = Launch(bwd.kernel, bwd.grid, bwd.block, bwd.args)
    typed = Launch(bwd.kernel, bwd.grid, bwd.block, bwd.args, pretyped=True)
    cost = {"empty_kernel_us": per_launch(lambda: empty[1, 1]()),
            "backward_dispatch_us": per_launch(plain),
            "backward_pretyped_us": per_launch(typed)}
    check.results["launch_us"] = cost
    for key, value in cost.items():
        check.row("launch", key.removesuffix("_us").replace("_", " "), f"{value:.1f} µs")


def epochs(check):
    """Epoch times with fit on the GPU and the CPU engine, the same data, start and order."""
    x, t, source = _data(check)
    check.results["data"] = source
    n_epochs = 2 if check.simulator else 3
    for net in _nets(check):
        entry = {"batch": net.batch, "steps": math.ceil(len(x) / net.batch),
                 "recipe": f"{net.act} {net.opt} lr {net.lr}"}
        for device, key in (("cuda", "gpu"), ("cpu", "cpu")):
            hist, model = _fit(net, device, x, t, n_epochs)
            flat = model.flat_parameters.copy()
            times = hist.history["epoch_time"]
            entry.update({f"{key}_s": min(times[1:]), f"{key}_first_s": times[0],
                          f"{key}_jit_s": hist.params["jit_time"],
                          f"{key}_loss": hist.history["loss"][-1],
                          f"{key}_engine": hist.params["engine"]})
            check.models.setdefault(net.name, {})[device] = flat
        check.results["epoch"][net.name] = entry
        check.row("epoch", f"{net.label}: GPU / CPU",
                  f"{entry['gpu_s']:.3f} / {entry['cpu_s']:.3f} s "
                  f"(first {entry['gpu_first_s']:.2f} / {entry['cpu_first_s']:.2f} s)")


def pytorch(check):
    """The same epochs with PyTorch on the same GPU (benchmarks/peers_torch.py's recipe)."""
    try:
        import peers_torch
    except Exception as exc:  # noqa: BLE001 - not importable: nothing to compare
        check.results["torch"] = f"skipped: {exc}"
        check.row("torch", "PyTorch", "not importable")
        return
    if peers_torch.TORCH_MISSING:
        check.results["torch"] = f"skipped: {peers_torch.TORCH_MISSING}"
        check.row("torch", "PyTorch", "not installed")
        return
    torch = peers_torch.torch
    if not torch.cuda.is_available() and not check.simulator:
        check.results["torch"] = "skipped: this PyTorch has no CUDA"
        check.row("torch", f"PyTorch {torch.__version__}", "no CUDA in this build")
        return
    import workloads

    device = torch.device("cpu" if check.simulator else "cuda")  # the simulator: the code path
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    x, t, _ = _data(check)
    X, T = torch.from_numpy(x).to(device), torch.from_numpy(t.astype(np.int64)).to(device)
    for net in _nets(check):
        trainer = peers_torch.Trainer(net, workloads.initial_flat(net))
        trainer.model.to(device)
        trainer.opt = peers_torch.build_optimizer(net, trainer.model)
        times = []
        for epoch in range(2 if check.simulator else 3):
            order = torch.from_numpy(workloads.epoch_order(len(x), epoch)).to(device)
            sync()
            start = time.perf_counter()
            trainer.epoch(X, T, order, net.batch)
            sync()
            times.append(time.perf_counter() - start)
        entry = check.results["epoch"].setdefault(net.name, {})
        entry.update(torch_s=min(times[1:]), torch_first_s=times[0],
                     torch_device=str(device), torch_version=torch.__version__)
        check.row("torch", f"{net.label}: PyTorch {device.type}", f"{entry['torch_s']:.3f} s")


def agreement(check):
    """The same short run on the GPU and the CPU ends with parameters that agree as the
    benchmarks require (harness.assert_params_agree) — for the two networks, and for the
    deeper one with batch norm and dropout, whose running statistics and evaluation loss
    must agree too; counts the launches per step."""
    import harness

    import numbann as nb
    from numbann.kernels.cuda import engine
    from numbann.kernels.cuda._launch import Launch

    x, t, _ = _data(check)
    counts = {"launches": 0, "steps": 0}
    call, train_steps = Launch.__call__, engine.train_steps

    def counted(self, *tail):
        counts["launches"] += 1
        return call(self, *tail)

    def counted_steps(batches, first, last, *rest):
        done = train_steps(batches, first, last, *rest)
        counts["steps"] += done
        return done

    results = {}
    nets = [(net, net.name, _model) for net in _nets(check)]
    nets.append((nets[-1][0], f"{nets[-1][1]} batch norm + dropout", _bn_model))
    for net, name, build in nets:
        steps = 2 if check.simulator else 20
        rows = slice(0, steps * net.batch)
        counts.update(launches=0, steps=0)
        Launch.__call__, engine.train_steps = counted, counted_steps
        try:
            _, gpu = _fit(net, "cuda", x[rows], t[rows], 1, seed=3, build=build)
        finally:
            Launch.__call__, engine.train_steps = call, train_steps
        _, cpu = _fit(net, "cpu", x[rows], t[rows], 1, seed=3, build=build)
        diff = float(np.abs(gpu.flat_parameters.astype(np.float64) - cpu.flat_parameters).max())
        entry = {"steps": steps, "max_abs_diff": diff,
                 "launches_per_step": counts["launches"] / max(counts["steps"], 1)}
        long_run = check.models.get(name, {})
        if len(long_run) == 2:  # step 6's full epochs, for the record
            entry["epochs_max_abs_diff"] = float(np.abs(long_run["cuda"].astype(np.float64)
                                                        - long_run["cpu"]).max())
        results[name] = entry
        label = f"{net.label}{name.removeprefix(net.name)}"
        try:
            harness.assert_params_agree(gpu.flat_parameters, cpu.flat_parameters, net, steps,
                                        f"{label} GPU vs CPU")
            if build is _bn_model:
                _stats_agree(nb, gpu, cpu, x[rows], t[rows], entry, label)
        except AssertionError as exc:
            check.results["agreement"] = results
            raise CheckFailed(str(exc)) from exc
        check.row("agree", f"{label}: {steps} steps",
                  f"max |Δp| {diff:.2g}, {entry['launches_per_step']:.0f} launches/step")
    check.results["agreement"] = results


def _stats_agree(nb, gpu, cpu, x, t, entry, label):
    """The running statistics of two batch-norm models agree to 1e-3 (relative to their
    scale) and so do their evaluation-mode losses on (x, t), both computed on the CPU."""
    stats_diff = float(np.abs(gpu.flat_stats.astype(np.float64) - cpu.flat_stats).max())
    scale = max(1.0, float(np.abs(cpu.flat_stats).max()))
    got, want = (nb.evaluate(m, nb.CrossEntropyLoss(), x, t)[0] for m in (gpu, cpu))
    entry.update(stats_max_abs_diff=stats_diff, eval_loss_gpu=got, eval_loss_cpu=want)
    assert stats_diff <= 1e-3 * scale, (
        f"{label} GPU vs CPU: running statistics differ by up to {stats_diff:.3g}")
    assert abs(got - want) <= 1e-3 * abs(want), (
        f"{label} GPU vs CPU: evaluation loss {got:.6g} vs {want:.6g}")


STEPS = (("preflight", preflight), ("tiny kernel", tiny_kernel), ("kernel tests", kernel_tests),
         ("gemm", gemm_rates), ("launch cost", launch_cost), ("epochs", epochs),
         ("pytorch", pytorch), ("agreement", agreement))


# --- running and reporting ---------------------------------------------------------------


def _table(check, failure):
    width = max([len(item) for _, item, _ in check.rows] + [20])
    lines = ["", f"numbann GPU check ({'simulator' if check.simulator else 'hardware'}) — "
             f"{check.results.get('device') or 'no device'}"]
    for section, item, value in check.rows:
        lines.append(f"  {section:<10}{item:<{width + 2}}{value}")
    for name, step in check.results["steps"].items():
        lines.append(f"  {'step':<10}{name:<{width + 2}}{step['status']} ({step['s']:.1f} s)")
    if failure:
        lines.append(f"FAILED at {failure}")
    return "\n".join(lines)


def _write(path, results):
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(results, indent=2, sort_keys=True, default=str) + "\n")
    tmp.replace(path)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.gpu_check",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--simulator", action="store_true",
                        help="run on Numba's CUDA simulator with tiny shapes (for CI)")
    parser.add_argument("--out", type=Path, default=None,
                        help=f"results file (default {RESULTS.relative_to(ROOT)}; a temporary "
                             "file with --simulator)")
    parser.add_argument("--budget", type=float, default=300.0,
                        help="seconds the whole check may take (default 300)")
    args = parser.parse_args(argv)
    if args.simulator:
        os.environ.update(SIMULATOR_ENV)  # before numbann or numba is imported
    out = args.out or (Path(tempfile.gettempdir()) / "numbann_gpu_results_simulator.json"
                       if args.simulator else RESULTS)
    for path in (str(ROOT), str(BENCH)):  # numbann from this tree; workloads, harness
        if path not in sys.path:
            sys.path.insert(0, path)
    if args.simulator:  # the kernel tests' fixes for the simulator (tests/cuda_sim/simfixes.py)
        sys.path.insert(0, str(ROOT / "tests" / "cuda_sim"))
        import simfixes

        simfixes.patch()
    check = Check(args.simulator, args.budget)
    failure = None
    for number, (name, step) in enumerate(STEPS, 1):
        label = f"{number}. {name}"
        started = time.perf_counter()
        print(f"[gpu_check] {label} ...", file=sys.stderr, flush=True)
        try:
            if check.left() <= 0:
                raise CheckFailed(f"out of time: the check's budget is {args.budget:.0f} s")
            step(check)
            status = "ok"
        except CheckFailed as exc:
            status, failure = "failed", f"{label}: {exc}"
        except Exception as exc:  # noqa: BLE001 - any error ends the check, said clearly
            traceback.print_exc()
            status, failure = "failed", f"{label}: {type(exc).__name__}: {exc}"
        check.results["steps"][label] = {"status": status, "s": time.perf_counter() - started}
        if failure:
            break
    check.results["failed"] = failure
    check.results["time_s"] = time.perf_counter() - check.start
    _write(out, check.results)
    print(_table(check, failure))
    print(f"results: {out}")
    return 1 if failure else 0


if __name__ == "__main__":
    sys.exit(main())
