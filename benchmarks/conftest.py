"""Benchmark-suite set-up: thread pinning when timed, shared data, fixtures.

The machinery (thread pinning, timing, agreement checks) lives in
:mod:`harness`; see its docstring for how every library gets the same
number of threads, and benchmarks/interference.py for why the suite idles
``NUMBANN_BENCH_QUIESCE`` seconds before each timed benchmark.
"""

import os

os.environ.setdefault("JAX_PLATFORMS", "cpu")  # never probe for GPUs/TPUs

import harness  # noqa: E402
import pytest  # noqa: E402
import workloads  # noqa: E402


def benchmarks_timed(config):
    """Whether pytest-benchmark will time (not the quick --benchmark-disable run)."""
    return not (config.getoption("benchmark_disable", False)
                and not config.getoption("benchmark_enable", False)
                or config.getoption("benchmark_skip", False))


def pytest_configure(config):
    if benchmarks_timed(config):
        harness.pin()


def pytest_benchmark_update_machine_info(config, machine_info):
    harness.machine_facts(machine_info)


# --- fixtures -----------------------------------------------------------------------


@pytest.fixture(scope="session")
def quick(request):
    """True when benchmarking is disabled (the regular test run): small work, one call."""
    return not benchmarks_timed(request.config)


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
    if harness.PINNED:  # torch's OpenMP runtime was not loaded when the limits were set
        peers_torch.torch.set_num_threads(harness.THREADS)
        harness.limit_pools()
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
