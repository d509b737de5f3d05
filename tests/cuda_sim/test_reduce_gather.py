"""Device reductions (loss sums, accuracy counts) and the mini-batch gather."""

import numpy as np
import pytest
from simutil import DTYPES, close, dev, empty, host

from numbann._cuda import cuda
from numbann.kernels.cuda import gather as G
from numbann.kernels.cuda import reduce as R


@pytest.mark.parametrize("dtype", DTYPES)
def test_sum_blocks_partials_add_up(dtype, rng):
    x = rng.standard_normal(50).astype(dtype)
    out = empty(6, dtype, 0.0)
    R.sum_blocks(x=dev(x), out=out, offset=2, blocks=3)  # 50 items over 3 x 8 threads
    parts = host(out)
    assert parts[:2].tolist() == [0.0, 0.0] and parts[5] == 0.0
    assert np.count_nonzero(parts[2:5]) == 3  # every block got a share
    close(parts[2:5].sum(), x.sum(dtype=np.float64), dtype, 10)
    assert R.fetch_sum(out) == pytest.approx(x.sum(dtype=np.float64), rel=1e-5)
    assert R.total(dev(x)) == pytest.approx(x.sum(dtype=np.float64), rel=1e-5)
    # 2-D input and one slot per step
    steps = empty(3, dtype, 0.0)
    for s in range(3):
        R.sum_blocks(dev(x[s * 10:(s + 1) * 10].reshape(2, 5)), steps, s)
    close(host(steps), x[:30].reshape(3, 10).sum(axis=1), dtype, 10)
    assert R.fetch_sum(steps, 2) == pytest.approx(x[:20].sum(dtype=np.float64), rel=1e-5)


@pytest.mark.parametrize("dtype", DTYPES)
def test_count_correct_labels_and_onehot(dtype, rng):
    n, c = 29, 6
    Y = rng.standard_normal((n, c)).astype(dtype)
    Y[0] = 0.0  # a tie: the first index wins, as np.argmax
    t = rng.integers(0, c, n)
    t[:10] = Y[:10].argmax(axis=1)  # at least 10 hits
    expected = int((Y.argmax(axis=1) == t).sum())
    hits = cuda.to_device(np.zeros(4, np.int64))
    R.count_correct(dev(Y), dev(t), hits, offset=1, blocks=3)
    assert R.fetch_sum(hits) == expected
    assert host(hits)[0] == 0
    onehot = np.eye(c, dtype=dtype)[t]
    hits2 = cuda.to_device(np.zeros(1, np.int64))
    R.count_correct(dev(Y), dev(onehot), hits2)
    assert R.fetch_sum(hits2) == expected
    assert isinstance(R.fetch_sum(hits2), int)


@pytest.mark.parametrize("dtype", DTYPES)
def test_gather_rows_by_a_permutation_slice(dtype, rng):
    X = rng.standard_normal((20, 11)).astype(dtype)  # 11 columns over 8-thread blocks
    perm = rng.permutation(20)
    g_perm = dev(perm)
    out = empty((6, 11), dtype)
    G.gather_rows(dev(X), g_perm[4:10], out)
    np.testing.assert_array_equal(host(out), X[perm[4:10]])
    labels = rng.integers(0, 9, 20)
    lout = cuda.to_device(np.full(6, -1, np.int64))
    G.gather_rows(dev(labels), g_perm[4:10], lout)
    np.testing.assert_array_equal(host(lout), labels[perm[4:10]])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("targets", ["labels", "rows"])
def test_gather_batch_one_launch(targets, dtype, rng):
    m, d, c = 17, 5, 3
    X = rng.standard_normal((m, d)).astype(dtype)
    T = rng.integers(0, c, m) if targets == "labels" else rng.random((m, c)).astype(dtype)
    perm = dev(rng.permutation(m))
    gX, gT = dev(X), dev(T)
    for start, stop in [(0, 7), (7, 14), (14, 17)]:  # 7 rows > 3 row blocks: grid-stride
        idx = perm[start:stop]
        Xb = empty((stop - start, d), dtype)
        Tb = cuda.to_device(np.full((stop - start,) + T.shape[1:], -1, T.dtype))
        G.gather_batch(gX, gT, idx, Xb, Tb)
        rows = host(idx)
        np.testing.assert_array_equal(host(Xb), X[rows])
        np.testing.assert_array_equal(host(Tb), T[rows])
