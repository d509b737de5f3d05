"""Benchmark-suite set-up: thread pinning when timed, one library per process, fixtures.

The machinery (thread pinning, timing, agreement checks) lives in
:mod:`harness`; see its docstring for how every library gets the same
number of threads, and benchmarks/interference.py for why the suite idles
``NUMBANN_BENCH_QUIESCE`` seconds before each timed benchmark.

``--bench-impl numbann,numbann-objects`` keeps only the benchmarks of those
implementations (the ``impl`` parameter of every benchmark; a library's name
stands for all its implementations, see ``harness.LIBRARIES``) and deselects
the rest, tests without an implementation included. ``python -m
benchmarks.report`` runs one such process per library, so that no library's
thread pools meet another's.
"""

import os
from pathlib import Path

os.environ.setdefault("JAX_PLATFORMS", "cpu")  # never probe for GPUs/TPUs

import harness  # noqa: E402
import pytest  # noqa: E402
import workloads  # noqa: E402

HERE = Path(__file__).resolve().parent


def benchmarks_timed(config):
    """Whether pytest-benchmark will time (not the quick --benchmark-disable run)."""
    return not (config.getoption("benchmark_disable", False)
                and not config.getoption("benchmark_enable", False)
                or config.getoption("benchmark_skip", False))


def pytest_addoption(parser):
    parser.addoption("--bench-impl", default=None, metavar="IMPL[,IMPL…]",
                     help="only the benchmarks of these implementations or libraries "
                          f"({', '.join(harness.LIBRARIES)}; "
                          f"implementations: {', '.join(harness.IMPLS)})")


def selected_impls(config):
    """The implementations --bench-impl keeps (None: all)."""
    try:
        return harness.parse_impls(config.getoption("bench_impl", None))
    except ValueError as exc:
        raise pytest.UsageError(f"--bench-impl: {exc}") from None


def pytest_configure(config):
    if benchmarks_timed(config):
        harness.pin()


def pytest_collection_modifyitems(config, items):
    keep = selected_impls(config)
    if keep is None:
        return
    chosen, dropped = harness.split_items(items, keep, HERE)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = chosen


def pytest_benchmark_update_machine_info(config, machine_info):
    harness.machine_facts(machine_info, selected_impls(config))


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
