# scikit-learn side of the kNN figure: KNeighborsClassifier(5).predict, 2,000
# queries x 8,000 training rows x 20 features (uniform random), median of 7.
# The mlhost side: cargo bench -p mlhost --bench models -- knn_2000
#   pip install --target /tmp/pylib scikit-learn
#   OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 PYTHONPATH=/tmp/pylib python3 bench/knn_sklearn.py
import time, numpy as np
from sklearn.neighbors import KNeighborsClassifier
rng=np.random.default_rng(9)
X=rng.uniform(0,10,(8000,20)); Q=rng.uniform(0,10,(2000,20)); y=np.arange(8000)%2
m=KNeighborsClassifier(5).fit(X,y)
ts=[]
for _ in range(7):
    t=time.perf_counter(); m.predict(Q); ts.append(time.perf_counter()-t)
print("sklearn knn predict 2000x8000x20 median ms:", 1000*sorted(ts)[3])
