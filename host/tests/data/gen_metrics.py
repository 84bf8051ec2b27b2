"""Generates metrics_sklearn.json: inputs and scikit-learn's values for them.

Run from this folder with scikit-learn installed (`pip install scikit-learn`):
    python3 gen_metrics.py
The JSON is checked in; the Rust tests compare against it to 1e-9.
"""
import json
import warnings

import numpy as np
from sklearn import metrics as M

warnings.simplefilter("ignore")
rng = np.random.default_rng(20261123)


def safe(f):
    try:
        v = float(f())
        return None if np.isnan(v) else v
    except ValueError:
        return None


def classification(name, y_true, y_pred, proba, k, pos=None):
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    pos = k - 1 if pos is None else pos
    labels = list(range(k))
    out = {}
    z = dict(zero_division=0)
    out["accuracy"] = M.accuracy_score(y_true, y_pred)
    out["balanced_accuracy"] = M.balanced_accuracy_score(y_true, y_pred)
    for metric, f in [("precision", M.precision_score), ("recall", M.recall_score), ("f1", M.f1_score)]:
        if k == 2:
            out[metric] = f(y_true, y_pred, average="binary", pos_label=pos, **z)
        else:
            out[metric] = f(y_true, y_pred, average="macro", **z)
        for avg in ["macro", "micro", "weighted"]:
            out[f"{metric}_{avg}"] = f(y_true, y_pred, average=avg, **z)
    if proba is not None:
        proba = np.asarray(proba)
        if k == 2:
            out["roc_auc"] = safe(lambda: M.roc_auc_score(y_true == pos, proba[:, pos]))
        else:
            out["roc_auc_ovr"] = safe(lambda: M.roc_auc_score(y_true, proba, multi_class="ovr", average="macro", labels=labels))
        out["log_loss"] = M.log_loss(y_true, proba, labels=labels)
    return {
        "name": name, "task": "classification", "n_classes": k, "pos_label": pos,
        "y_true": [int(v) for v in y_true], "y_pred": [int(v) for v in y_pred],
        "proba": None if proba is None else [float(v) for v in np.asarray(proba).ravel()],
        "expected": {key: (None if v is None else float(v)) for key, v in out.items()},
    }


def regression(name, y_true, y_pred):
    y_true, y_pred = np.asarray(y_true, float), np.asarray(y_pred, float)
    out = {
        "mae": M.mean_absolute_error(y_true, y_pred),
        "mse": M.mean_squared_error(y_true, y_pred),
        "rmse": M.root_mean_squared_error(y_true, y_pred),
        "r2": safe(lambda: M.r2_score(y_true, y_pred)),
        "mape": M.mean_absolute_percentage_error(y_true, y_pred),
    }
    return {
        "name": name, "task": "regression",
        "y_true": [float(v) for v in y_true], "y_pred": [float(v) for v in y_pred],
        "expected": {k: (None if v is None else float(v)) for k, v in out.items()},
    }


def rand_proba(n, k, ties=False):
    p = rng.dirichlet(np.ones(k), size=n)
    if ties:
        p = np.round(p, 1)
        p[:, -1] = 1 - p[:, :-1].sum(axis=1)
        p = np.clip(p, 0, 1)
    return p


cases = []
for i in range(12):
    k = [2, 2, 3, 4][i % 4]
    n = int(rng.integers(5, 200))
    y_true = rng.integers(0, k, n)
    noisy = rng.random(n) < 0.35
    y_pred = np.where(noisy, rng.integers(0, k, n), y_true)
    cases.append(classification(f"random_{k}class_{i}", y_true, y_pred, rand_proba(n, k, ties=i % 3 == 0), k))
cases.append(classification("binary_pos_label_0", [0, 1, 1, 0, 1], [0, 0, 1, 1, 1], rand_proba(5, 2), 2, pos=0))
cases.append(classification("label_absent_from_predictions", [0, 1, 2, 2, 1, 0, 2], [0, 1, 1, 1, 1, 0, 0], rand_proba(7, 3), 3))
cases.append(classification("label_only_predicted", [0, 0, 1, 1, 0], [0, 2, 1, 2, 0], rand_proba(5, 3), 3))
cases.append(classification("all_wrong_binary", [0, 1, 0, 1], [1, 0, 1, 0], [[0.1, 0.9], [0.9, 0.1], [0.2, 0.8], [0.7, 0.3]], 2))
cases.append(classification("all_wrong_multiclass", [0, 1, 2, 0], [1, 2, 0, 2], rand_proba(4, 3), 3))
cases.append(classification("ties_in_scores", [0, 1, 0, 1, 1, 0], [0, 1, 1, 1, 0, 0], [[0.5, 0.5], [0.5, 0.5], [0.3, 0.7], [0.3, 0.7], [0.6, 0.4], [0.9, 0.1]], 2))
cases.append(classification("single_class_in_y_true", [1, 1, 1, 1], [1, 0, 1, 1], [[0.2, 0.8], [0.6, 0.4], [0.1, 0.9], [0.3, 0.7]], 2))
cases.append(classification("single_class_everywhere", [0, 0, 0], [0, 0, 0], [[1.0, 0.0], [0.9, 0.1], [0.8, 0.2]], 2))
cases.append(classification("class_missing_from_y_true_multiclass", [0, 1, 0, 1], [0, 1, 2, 1], rand_proba(4, 3), 3))
cases.append(classification("no_probabilities", [0, 1, 2, 1], [0, 2, 2, 1], None, 3))
cases.append(classification("extreme_probabilities", [0, 1, 1], [0, 0, 1], [[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]], 2))
for i in range(6):
    n = int(rng.integers(2, 100))
    y_true = rng.normal(10, 5, n)
    cases.append(regression(f"random_regression_{i}", y_true, y_true + rng.normal(0, 2, n)))
cases.append(regression("constant_truth_perfect", [3.0, 3.0, 3.0], [3.0, 3.0, 3.0]))
cases.append(regression("constant_truth_wrong", [3.0, 3.0, 3.0], [2.0, 3.0, 4.0]))
cases.append(regression("zeros_in_truth", [0.0, 1.0, -2.0, 0.0], [0.5, 1.5, -2.0, 0.0]))
cases.append(regression("one_sample", [1.5], [2.0]))

with open("metrics_sklearn.json", "w") as f:
    json.dump({"sklearn": __import__("sklearn").__version__, "cases": cases}, f, indent=1)
print(len(cases), "cases")
