"""Issue 14's scale figure, scikit-learn side and data: writes the generated
dataset as CSV and prints, as JSON, each model's 5-fold accuracy and fit and
predict seconds and the wall time of scikit-learn doing all of them.

Data: make_classification(N, 20 features, 3 informative, no redundant, 2
clusters per class, flip_y=0.05, random_state=3), binary. Folds:
StratifiedKFold(5), unshuffled (what `mlhost eval` uses without --seed).
Models and their mlhost counterparts (config/models.toml): logistic
(StandardScaler + LogisticRegression), naive-bayes (GaussianNB), tree
(DecisionTreeClassifier), knn (StandardScaler + KNeighborsClassifier(5)),
forest (RandomForestClassifier(100)), mlp (StandardScaler +
MLPClassifier(100 hidden, 50 epochs)). n_jobs=2, as `--workers 2`.

    pip install --target /tmp/pylib scikit-learn
    PYTHONPATH=/tmp/pylib python3 bench/scale.py N OUT.csv     # bench/scale.sh runs it
"""
import json
import sys
import time
import warnings

import numpy as np
from sklearn.datasets import make_classification
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_validate
from sklearn.naive_bayes import GaussianNB
from sklearn.neighbors import KNeighborsClassifier
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeClassifier

warnings.filterwarnings("ignore")
n, out = int(sys.argv[1]), sys.argv[2]
X, y = make_classification(n_samples=n, n_features=20, n_informative=3, n_redundant=0,
                           n_clusters_per_class=2, flip_y=0.05, random_state=3)
header = ",".join([f"f{i}" for i in range(20)] + ["y"])
np.savetxt(out, np.column_stack([X, y]), delimiter=",", header=header, comments="",
           fmt=["%.6f"] * 20 + ["%d"])
models = {
    "logistic": make_pipeline(StandardScaler(), LogisticRegression()),
    "naive-bayes": GaussianNB(),
    "tree": DecisionTreeClassifier(random_state=0),
    "knn": make_pipeline(StandardScaler(), KNeighborsClassifier(5)),
    "forest": RandomForestClassifier(100, random_state=0),
    "mlp": make_pipeline(StandardScaler(), MLPClassifier(max_iter=50, random_state=0)),
}
report, start = {}, time.perf_counter()
for name, model in models.items():
    r = cross_validate(model, X, y, cv=StratifiedKFold(5), n_jobs=2)
    report[name] = {"accuracy": float(np.mean(r["test_score"])),
                    "fit_seconds": float(np.mean(r["fit_time"])),
                    "predict_seconds": float(np.mean(r["score_time"]))}
print(json.dumps({"rows": n, "wall_seconds": time.perf_counter() - start, "models": report}))
