"""The same search on joblib's process pool and on a Dask cluster gives the same scores.

The cluster is a ``dask.distributed.LocalCluster`` of two single-threaded worker processes
on the loopback interface, started and stopped here. Its workers are what a real
cluster's are (separate processes reached over TCP, estimators and data pickled to them);
Dask's nanny gives them OMP/OPENBLAS/MKL_NUM_THREADS=1, so numbann trains on one thread.
"""

import numpy as np
import pytest

pytest.importorskip("sklearn", reason="scikit-learn is in the sklearn extra")
distributed = pytest.importorskip("dask.distributed", reason="Dask is in the dask extra")

import joblib  # noqa: E402
from sklearn.model_selection import GridSearchCV, cross_validate  # noqa: E402

from numbann.datasets import load_digits  # noqa: E402
from numbann.sklearn import MLPClassifier  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def test_grid_search_on_dask_gives_the_local_scores():
    x, t = load_digits(normalize=True)
    # one thread here as there, so that rounding is the same too
    est = MLPClassifier(hidden_layer_sizes=(32,), max_iter=10, random_state=0, n_threads=1)
    grid = {"alpha": [1e-4, 1e-1], "learning_rate_init": [1e-3, 1e-2]}
    local = GridSearchCV(est, grid, cv=3).fit(x, t)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        assert all(addr.startswith("tcp://127.0.0.1:") for addr in
                   client.scheduler_info()["workers"])
        with joblib.parallel_backend("dask"):
            remote = GridSearchCV(est, grid, cv=3).fit(x, t)
            fitted = cross_validate(est.set_params(n_threads=None), x, t, cv=2,
                                    return_estimator=True)["estimator"]
    np.testing.assert_array_equal(remote.cv_results_["mean_test_score"],
                                  local.cv_results_["mean_test_score"])
    assert remote.best_params_ == local.best_params_
    assert local.best_score_ > 0.8
    assert [e.n_threads_ for e in fitted] == [1, 1]  # the default follows the workers' limits
