"""scikit-learn side of the linear-model figures: fit time of
make_pipeline(StandardScaler(), LogisticRegression()) (the scaler fitted
beforehand, as mlhost scales before the plugin's fit: only the logistic fit is
timed), GaussianNB() and LinearRegression() on the generated `mid` data of
tests/fixtures/sklearn/mid.py at 10,000 and 60,000 rows; median of 3, one
thread. Also the training-set scores, to compare with mlhost's.

The mlhost side: cargo bench -p mlhost-plugin-logistic -p mlhost-plugin-naive-bayes
-p mlhost-plugin-linear --bench fit

    pip install --target /tmp/pylib scikit-learn scipy
    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 PYTHONPATH=/tmp/pylib python3 bench/linear_sklearn.py
"""
import importlib.util
import pathlib
import time

from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.naive_bayes import GaussianNB
from sklearn.preprocessing import StandardScaler

spec = importlib.util.spec_from_file_location(
    "mid", pathlib.Path(__file__).parent.parent / "tests/fixtures/sklearn/mid.py")
fixture = importlib.util.module_from_spec(spec)
spec.loader.exec_module(fixture)


def median_fit(make, X, y):
    times = []
    for _ in range(3):
        model = make()
        t = time.perf_counter()
        model.fit(X, y)
        times.append(time.perf_counter() - t)
    return sorted(times)[1], model


for n in (10_000, 60_000):
    X, y, y3, target = fixture.mid(n)
    Xs = StandardScaler().fit_transform(X)
    for name, make, data, labels in [
        ("logistic binary", LogisticRegression, Xs, y),
        ("logistic 3class", LogisticRegression, Xs, y3),
        ("gaussian_nb", GaussianNB, X, y),
        ("linear_regression", LinearRegression, X, target),
    ]:
        seconds, model = median_fit(make, data, labels)
        extra = f" n_iter {model.n_iter_.max()}" if hasattr(model, "n_iter_") else ""
        print(f"{name:18} {n:6} rows  fit {1000 * seconds:8.2f} ms  "
              f"train score {model.score(data, labels):.4f}{extra}")
