"""Shared fixtures: the data beside the checkout and reproducible generators."""

from pathlib import Path

import numpy as np
import pytest
from _background import background_result, start, stop_all  # noqa: F401  (the fixture)

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
MNIST_DIR = SHARED_DATA / "mnist"
DIGITS_DIR = SHARED_DATA / "digits"


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


@pytest.fixture(scope="session")
def mnist_dir():
    if not (MNIST_DIR / "train-images-idx3-ubyte.gz").exists():
        pytest.skip(f"MNIST not found in {MNIST_DIR}")
    return MNIST_DIR


def pytest_collection_finish(session):
    start(session.items)  # the subprocess tests run beside the others (see _background)


def pytest_sessionfinish(session):
    stop_all()
