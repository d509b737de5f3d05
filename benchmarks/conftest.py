"""Benchmark-suite set-up: thread pinning, shared data, fixtures.

Threads: every implementation gets the same number of threads
(``NUMBANN_BENCH_THREADS``, default 2). :mod:`harness` sets the environment
variables at import — before NumPy, SciPy, Numba, PyTorch or JAX start their thread
pools when this conftest is the first to import them (``python -m
benchmarks.report`` runs pytest in a fresh process with them already set);
on a machine with more cores the process is also restricted to that many
CPUs (JAX has no thread-count setting; it sizes its pool from the cores it
may use). When another conftest imported NumPy first (a ``python -m pytest``
run from the repository root), threadpoolctl, if installed, re-applies the
limit to the BLAS and OpenMP pools at run time.

BLAS spin-waiting: NumPy and SciPy each ship their own OpenBLAS (NumPy's
ILP64 ``scipy_openblas64_``, SciPy's ``scipy_openblas``, which Numba's
``np.dot`` calls), and PyTorch its own OpenMP runtime; their idle worker
threads keep spinning for a while after a call. ``benchmarks/interference.py``
measures what that does to the next benchmark; the suite mitigates it by
letting the pools go idle (``NUMBANN_BENCH_QUIESCE`` seconds, default 0.3)
before each timed benchmark, and by ``OPENBLAS_THREAD_TIMEOUT`` (see
docs/performance.md).
"""

import harness  # first: pins threads before any numerical library loads
import pytest  # noqa: E402
import workloads  # noqa: E402


def pytest_benchmark_update_machine_info(config, machine_info):
    harness.machine_facts(machine_info)


# --- fixtures -----------------------------------------------------------------------


@pytest.fixture(scope="session")
def quick(request):
    """True when benchmarking is disabled (the regular test run): small work, one call."""
    cfg = request.config
    return bool(cfg.getoption("benchmark_disable", False)
                and not cfg.getoption("benchmark_enable", False)
                or cfg.getoption("benchmark_skip", False))


@pytest.fixture(scope="session")
def mnist_data():
    if not workloads.mnist_available():
        pytest.skip(f"MNIST not found in {workloads.data_dir()} (set NUMBANN_DATA)")
    return workloads.mnist()


@pytest.fixture(scope="session")
def torch_peer():
    import peers_torch

    if peers_torch.TORCH_MISSING:
        pytest.skip(peers_torch.TORCH_MISSING)
    harness.limit_pools()  # torch's OpenMP runtime was not loaded when the limits were set
    return peers_torch


@pytest.fixture(scope="session")
def jax_peer():
    import peers_jax

    if peers_jax.JAX_MISSING:
        pytest.skip(peers_jax.JAX_MISSING)
    return peers_jax


@pytest.fixture(scope="session")
def engine():
    import impl_numbann

    if impl_numbann.ENGINE_MISSING:
        pytest.skip(impl_numbann.ENGINE_MISSING)
    return impl_numbann


