"""``python -m benchmarks.gpu_check``: the one-shot hardware check, kept from rotting.

``--simulator`` runs its eight steps on Numba's CUDA simulator with tiny
shapes (the numbers mean nothing; the code paths, the checks and the results
file are what is tested). Without a GPU the hardware run must stop at the
preflight with a clear message, as it must when out of time.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from _background import background

from numbann._cuda import SIMULATOR, cuda, cuda_status

ROOT = Path(__file__).resolve().parents[1]
STEPS = ["1. preflight", "2. tiny kernel", "3. kernel tests", "4. gemm", "5. launch cost",
         "6. epochs", "7. pytorch", "8. agreement"]

pytestmark = pytest.mark.skipif(cuda is None or SIMULATOR,
                                reason="needs Numba's CUDA target, outside the simulator")


def _command(*args):
    env = {k: v for k, v in os.environ.items()
           if k != "NUMBA_ENABLE_CUDASIM" and not k.startswith("NUMBANN_CUDA_")}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    return [sys.executable, "-m", "benchmarks.gpu_check", *args], env, ROOT


def _check(*args, timeout=300):
    argv, env, cwd = _command(*args)
    return subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout)


@background(lambda out_dir: _command("--simulator", "--out", str(out_dir / "results.json")),
            timeout=600)
def test_the_check_runs_every_step_on_the_simulator(background_result):
    out = background_result.out_dir / "results.json"
    stdout = background_result.stdout
    assert background_result.returncode == 0, background_result.output
    results = json.loads(out.read_text())
    assert results["simulator"] is True and results["failed"] is None
    assert results["device"] == "Numba CUDA simulator"
    assert list(results["steps"]) == STEPS
    assert all(step["status"] == "ok" for step in results["steps"].values())
    assert results["kernel_tests"]["passed"] > 0 and "failed" not in results["kernel_tests"]
    # the tiny networks have the reference networks' depths and recipes
    assert set(results["epoch"]) == {"12-8-4", "12-10-8-4"}
    for entry in results["epoch"].values():
        assert entry["gpu_s"] > 0 and entry["cpu_s"] > 0
        assert entry["gpu_engine"] == entry["cpu_engine"] == "compiled"
        assert entry["gpu_loss"] == pytest.approx(entry["cpu_loss"], rel=1e-5)
    agree = results["agreement"]
    assert agree["12-8-4"]["launches_per_step"] == 7
    assert agree["12-10-8-4"]["launches_per_step"] == 9
    # the deeper network with a batch norm and dropout after each hidden layer
    bn = agree["12-10-8-4 batch norm + dropout"]
    assert bn["launches_per_step"] == 13
    assert bn["stats_max_abs_diff"] < 1e-5
    assert bn["eval_loss_gpu"] == pytest.approx(bn["eval_loss_cpu"], rel=1e-5)
    assert len(results["gemm"]) == 5 and set(results["launch_us"]) == {
        "empty_kernel_us", "backward_dispatch_us", "backward_pretyped_us"}
    # the table comes last, then where the results went
    tail = stdout.strip().splitlines()
    assert tail[-1] == f"results: {out}"
    assert tail[-2].lstrip().startswith("step") and "8. agreement" in tail[-2]


@pytest.mark.skipif(cuda_status()[0], reason="a GPU is present")
def test_without_a_gpu_the_check_stops_at_the_preflight_saying_why(tmp_path):
    out = tmp_path / "results.json"
    proc = _check("--out", str(out), timeout=120)
    assert proc.returncode == 1
    assert "FAILED at 1. preflight: CUDA is not usable" in proc.stdout
    results = json.loads(out.read_text())
    assert list(results["steps"]) == ["1. preflight"]
    assert results["failed"].startswith("1. preflight: CUDA is not usable")


def test_the_check_fails_fast_when_out_of_time(tmp_path):
    out = tmp_path / "results.json"
    proc = _check("--simulator", "--budget", "0", "--out", str(out), timeout=120)
    assert proc.returncode == 1 and "out of time" in proc.stdout
    assert json.loads(out.read_text())["failed"].startswith("1. preflight: out of time")
