"""scikit-learn's HistGradientBoostingClassifier() fit time on the rows the
gbdt criterion bench fits (plugins/gbdt/benches/fit.rs): the first 8,000
rows of the generated `mid` data (tests/fixtures/sklearn/mid.py), 20
features, binary labels. Median of 3 fits, once with OpenMP limited to one
thread and once with scikit-learn's default threads.

    pip install --target /tmp/pylib scikit-learn scipy threadpoolctl
    PYTHONPATH=/tmp/pylib python3 bench/gbdt_sklearn.py
"""
import json
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures", "sklearn"))

from mid import mid  # noqa: E402
from sklearn.ensemble import HistGradientBoostingClassifier  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

ROWS, REPEATS = 8000, 3


def median_fit_ms(X, y):
    times = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        model = HistGradientBoostingClassifier().fit(X, y)
        times.append((time.perf_counter() - start) * 1000.0)
    return statistics.median(times), model.n_iter_


def main():
    X, y = mid(ROWS)[:2]
    HistGradientBoostingClassifier(max_iter=5).fit(X, y)  # warm up imports and caches
    with threadpool_limits(limits=1, user_api="openmp"):
        one, iters = median_fit_ms(X, y)
    default, _ = median_fit_ms(X, y)
    print(json.dumps({"rows": ROWS, "cols": X.shape[1], "iterations": int(iters),
                      "fit_ms_1_thread": round(one, 1),
                      "fit_ms_default_threads": round(default, 1),
                      "cpus": os.cpu_count()}))


if __name__ == "__main__":
    main()
