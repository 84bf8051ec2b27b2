"""The scikit-learn side of bench/predict.sh: the same model (StandardScaler
+ LogisticRegression, fitted on train.csv) predicting input.csv to a CSV the
usual way, pandas.read_csv -> predict -> to_csv, timed from reading to the
file written (the fit is not timed). Prints seconds, rows/s, CPU seconds
and the process's peak RSS.
Usage: PYTHONPATH=/tmp/pylib python3 bench/predict_sklearn.py DATA_DIR OUT.csv"""
import resource
import sys
import time

import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

data, out = sys.argv[1], sys.argv[2]
train = pd.read_csv(f"{data}/train.csv")
model = make_pipeline(StandardScaler(), LogisticRegression())
model.fit(train.drop(columns="y").to_numpy(), train["y"].to_numpy())
cpu0, t0 = time.process_time(), time.perf_counter()
x = pd.read_csv(f"{data}/input.csv", dtype="float64")
pd.DataFrame({"prediction": model.predict(x.to_numpy())}).to_csv(out, index=False)
secs, cpu = time.perf_counter() - t0, time.process_time() - cpu0
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(f"scikit-learn: {secs:.2f} s = {len(x) / secs:,.0f} rows/s, CPU {cpu:.2f} s, peak RSS {rss:.0f} MB")
