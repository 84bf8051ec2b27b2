use super::*;

const X: [f64; 6] = [0.0, 0.5, 1.0, 10.0, 10.5, 11.0];
const Y: [u32; 6] = [0, 0, 0, 1, 1, 1];

fn fit_on(x: &[f64], rows: usize, y: &[u32], k: usize, weights: Weights) -> Result<Fitted> {
    let params = KnnParams { k, weights };
    let classes = y.iter().max().map_or(0, |m| *m as usize + 1);
    let mut ctx = StandaloneContext::new(0, classes);
    <Neighbours as Classifier>::fit(
        &params,
        Matrix::new(x, rows, x.len() / rows)?,
        y,
        &mut ctx.context(),
    )
}

fn fit(k: usize) -> Result<Fitted> {
    fit_on(&X, 6, &Y, k, Weights::Uniform)
}

fn predict(m: &Fitted) -> [u32; 6] {
    let mut pred = [9; 6];
    m.predict(Matrix::new(&X, 6, 1).unwrap(), &mut pred, 2).unwrap();
    pred
}

#[test]
fn votes_of_the_nearest() {
    let m = fit(3).unwrap();
    let mut p = [0.0; 2];
    m.predict_proba(Matrix::new(&[2.0], 1, 1).unwrap(), &mut Proba::new(&mut p, 2).unwrap())
        .unwrap();
    assert_eq!(p, [1.0, 0.0]);
    assert_eq!(predict(&m), Y);
    let e = fit(50).unwrap_err();
    assert_eq!(e.to_string(), "parameter 'k': 50 exceeds the 6 training rows");
}

#[test]
fn round_trips_through_serde() {
    let m = fit(3).unwrap();
    let back: Fitted = postcard::from_bytes(&postcard::to_allocvec(&m).unwrap()).unwrap();
    assert_eq!(predict(&back), Y);
}

/// The fixture `sklearn_knn.json` (tests/fixtures/sklearn/knn.py): 400
/// generated rows, 8 features, 3 classes, a 300/100 split with 5 queries
/// equal to training rows; predictions and probabilities of scikit-learn's
/// KNeighborsClassifier for uniform and distance weights.
#[test]
fn agrees_with_scikit_learn() {
    let doc: serde_json::Value = serde_json::from_str(include_str!("sklearn_knn.json")).unwrap();
    let rows: Vec<Vec<f64>> = serde_json::from_value(doc["x"].clone()).unwrap();
    let y: Vec<u32> = serde_json::from_value(doc["y"].clone()).unwrap();
    let n = doc["train"].as_u64().unwrap() as usize;
    let flat: Vec<f64> = rows.iter().flatten().copied().collect();
    let d = rows[0].len();
    let (train, test) = flat.split_at(n * d);
    for case in doc["cases"].as_array().unwrap() {
        let k = case["k"].as_u64().unwrap() as usize;
        let weights =
            if case["weights"] == "distance" { Weights::Distance } else { Weights::Uniform };
        let m = fit_on(train, n, &y[..n], k, weights).unwrap();
        let q = Matrix::new(test, test.len() / d, d).unwrap();
        let mut proba = vec![0.0; q.rows() * 3];
        m.predict_proba(q, &mut Proba::new(&mut proba, 3).unwrap()).unwrap();
        let mut pred = vec![0; q.rows()];
        m.predict(q, &mut pred, 3).unwrap();
        let want: Vec<u32> = serde_json::from_value(case["predict"].clone()).unwrap();
        assert_eq!(pred, want, "k = {k}, {weights:?}");
        let want: Vec<Vec<f64>> = serde_json::from_value(case["proba"].clone()).unwrap();
        for (i, (got, want)) in proba.chunks(3).zip(&want).enumerate() {
            for (g, w) in got.iter().zip(want) {
                assert!((g - w).abs() < 1e-9, "k = {k}, {weights:?}, row {i}: {got:?} vs {want:?}");
            }
        }
    }
}

/// Blocks of queries and of training rows give what one naive pass over
/// all pairs gives (sizes cross both block boundaries).
#[test]
fn blocks_change_nothing() {
    let mut rng = SeededRng::new(5);
    let (n, m, d) = (TRAIN_BLOCK + 37, QUERY_BLOCK + 9, 6);
    let mut draw = |len: usize| -> Vec<f64> {
        (0..len).map(|_| (rng.next_u64() % 1000) as f64 / 100.0).collect()
    };
    let (train, queries) = (draw(n * d), draw(m * d));
    let y: Vec<u32> = (0..n as u32).map(|i| i % 3).collect();
    let model = fit_on(&train, n, &y, 4, Weights::Uniform).unwrap();
    let got = model.neighbours(Matrix::new(&queries, m, d).unwrap());
    for (i, near) in got.iter().enumerate() {
        let q = &queries[i * d..(i + 1) * d];
        let mut all: Vec<(f64, u32)> = (0..n)
            .map(|j| {
                let t = &train[j * d..(j + 1) * d];
                (q.iter().zip(t).map(|(a, b)| (a - b) * (a - b)).sum::<f64>(), j as u32)
            })
            .collect();
        all.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        let rows: Vec<u32> = near.iter().map(|(_, j)| *j).collect();
        let want: Vec<u32> = all[..4].iter().map(|(_, j)| *j).collect();
        // Equal distances may come out in another order after rounding.
        let d_got: Vec<f64> = near.iter().map(|(dist, _)| *dist).collect();
        let d_want: Vec<f64> = all[..4].iter().map(|(d2, _)| d2.sqrt()).collect();
        for (g, w) in d_got.iter().zip(&d_want) {
            assert!((g - w).abs() < 1e-9, "query {i}: {d_got:?} vs {d_want:?}");
        }
        if d_want.windows(2).all(|w| w[0] < w[1] - 1e-9) {
            assert_eq!(rows, want, "query {i}");
        }
    }
}
