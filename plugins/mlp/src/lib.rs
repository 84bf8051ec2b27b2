//! A small neural network: one hidden ReLU layer, softmax output for
//! classification (cross-entropy) or a linear output for regression (squared
//! error on standardized targets), trained in epochs of shuffled mini-batches
//! with Adam and L2 weight decay.
//!
//! After every epoch it reports `train_loss`, `val_loss` (on a held-out
//! `validation_fraction` of the training rows), `val_accuracy`
//! (classification) and `learning_rate` through the fit context, and stops
//! when the host answers `Stop` (early stopping) or asks it to stop
//! (timeout). Every random choice comes from the context's seed.

use mlhost_plugin_api::{
    About, Classifier, Control, Error, FitContext, FittedClassifier, FittedRegressor, Matrix,
    Params, Plugin, Proba, Regressor, Result, SeededRng,
};
use serde::{Deserialize, Serialize};

/// See the crate docs.
#[derive(Debug)]
pub struct Mlp;

/// The network's parameters.
#[derive(Params, Debug, Clone)]
pub struct MlpParams {
    /// hidden units
    #[param(default = 16, range = 1..=4096)]
    pub hidden: usize,
    /// passes over the training rows
    #[param(default = 50, range = 1..=100_000)]
    pub epochs: u32,
    /// Adam step size
    #[param(default = 0.01, range = 1e-6..=1.0, log)]
    pub learning_rate: f64,
    /// rows per gradient step
    #[param(default = 32, range = 1..=1_000_000)]
    pub batch_size: usize,
    /// L2 weight decay
    #[param(default = 1e-4, range = 0.0..=10.0)]
    pub alpha: f64,
    /// share of training rows held out for val_loss
    #[param(default = 0.1, range = 0.0..=0.5)]
    pub validation_fraction: f64,
}

/// A fitted classifier: the network's softmax output is the probabilities.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Softmax(Net);

/// A fitted regressor: the network's one linear output, in target units.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Linear(Net);

/// The network.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Net {
    cols: usize,
    hidden: usize,
    classification: bool,
    w1: Vec<f64>,
    b1: Vec<f64>,
    w2: Vec<f64>,
    b2: Vec<f64>,
    /// Regression targets are standardized for training: y = z * scale + mean.
    y_mean: f64,
    y_scale: f64,
}

impl Net {
    /// Forward pass of one row: hidden activations into `h`, outputs into `z`
    /// (probabilities for classification).
    fn forward(&self, x: &[f64], h: &mut [f64], z: &mut [f64]) {
        for (j, hj) in h.iter_mut().enumerate() {
            let w = &self.w1[j * self.cols..(j + 1) * self.cols];
            *hj = (w.iter().zip(x).map(|(a, b)| a * b).sum::<f64>() + self.b1[j]).max(0.0);
        }
        for (o, zo) in z.iter_mut().enumerate() {
            let w = &self.w2[o * self.hidden..(o + 1) * self.hidden];
            *zo = w.iter().zip(h.iter()).map(|(a, b)| a * b).sum::<f64>() + self.b2[o];
        }
        if self.classification {
            let max = z.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let mut total = 0.0;
            for v in z.iter_mut() {
                *v = (*v - max).exp();
                total += *v;
            }
            z.iter_mut().for_each(|v| *v /= total);
        }
    }

    /// Loss of one row against target `t` (a class code, or a standardized value).
    fn loss(&self, z: &[f64], t: f64) -> f64 {
        if self.classification {
            -z[t as usize].max(1e-15).ln()
        } else {
            0.5 * (z[0] - t) * (z[0] - t)
        }
    }
}

/// Adam state for one parameter vector.
struct Adam {
    m: Vec<f64>,
    v: Vec<f64>,
}

impl Adam {
    fn new(n: usize) -> Self {
        Adam { m: vec![0.0; n], v: vec![0.0; n] }
    }
    fn step(&mut self, w: &mut [f64], g: &[f64], lr: f64, t: i32) {
        let (b1, b2) = (0.9f64, 0.999f64);
        let (c1, c2) = (1.0 - b1.powi(t), 1.0 - b2.powi(t));
        for i in 0..w.len() {
            self.m[i] = b1 * self.m[i] + (1.0 - b1) * g[i];
            self.v[i] = b2 * self.v[i] + (1.0 - b2) * g[i] * g[i];
            w[i] -= lr * (self.m[i] / c1) / ((self.v[i] / c2).sqrt() + 1e-8);
        }
    }
}

impl Plugin for Mlp {
    type Params = MlpParams;
    fn about() -> About {
        About::new("mlp", env!("CARGO_PKG_VERSION")).describe(
            "one-hidden-layer neural network (Adam), reports losses every epoch; scale the features",
        )
    }
}

impl Classifier for Mlp {
    type Fitted = Softmax;
    fn fit(p: &MlpParams, x: Matrix<'_>, y: &[u32], ctx: &mut FitContext<'_>) -> Result<Softmax> {
        let y: Vec<f64> = y.iter().map(|&c| f64::from(c)).collect();
        train(p, x, &y, ctx).map(Softmax)
    }
}

impl Regressor for Mlp {
    type Fitted = Linear;
    fn fit(p: &MlpParams, x: Matrix<'_>, y: &[f64], ctx: &mut FitContext<'_>) -> Result<Linear> {
        train(p, x, y, ctx).map(Linear)
    }
}

/// Trains for `ctx.n_classes()` classes, or for regression when that is 0.
fn train(p: &MlpParams, x: Matrix<'_>, y: &[f64], ctx: &mut FitContext<'_>) -> Result<Net> {
    let k = ctx.n_classes();
    let (classification, outputs) = (k > 0, k.max(1));
    let (rows, cols, hidden) = (x.rows(), x.cols(), p.hidden);
    let mut rng = SeededRng::new(ctx.seed() ^ 0x006D_6C70);
    let (y_mean, y_scale) = if classification {
        (0.0, 1.0)
    } else {
        let mean = y.iter().sum::<f64>() / rows as f64;
        let sd = (y.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / rows as f64).sqrt();
        (mean, if sd > 0.0 { sd } else { 1.0 })
    };
    let target = |i: usize| if classification { y[i] } else { (y[i] - y_mean) / y_scale };
    let init = |rng: &mut SeededRng, n: usize, fan_in: usize, fan_out: usize| -> Vec<f64> {
        let limit = (6.0 / (fan_in + fan_out) as f64).sqrt();
        (0..n).map(|_| (rng.uniform() * 2.0 - 1.0) * limit).collect()
    };
    let mut net = Net {
        cols,
        hidden,
        classification,
        w1: init(&mut rng, hidden * cols, cols, hidden),
        b1: vec![0.0; hidden],
        w2: init(&mut rng, outputs * hidden, hidden, outputs),
        b2: vec![0.0; outputs],
        y_mean,
        y_scale,
    };
    let mut order: Vec<usize> = (0..rows).collect();
    rng.shuffle(&mut order);
    let n_val = if rows >= 10 { (rows as f64 * p.validation_fraction).round() as usize } else { 0 };
    let (val, train) = order.split_at(n_val);
    let mut train = train.to_vec();
    let (mut a_w1, mut a_b1) = (Adam::new(net.w1.len()), Adam::new(hidden));
    let (mut a_w2, mut a_b2) = (Adam::new(net.w2.len()), Adam::new(outputs));
    let (mut g_w1, mut g_b1) = (vec![0.0; net.w1.len()], vec![0.0; hidden]);
    let (mut g_w2, mut g_b2) = (vec![0.0; net.w2.len()], vec![0.0; outputs]);
    let (mut h, mut z, mut dz, mut dh) =
        (vec![0.0; hidden], vec![0.0; outputs], vec![0.0; outputs], vec![0.0; hidden]);
    let mut step = 0;
    for epoch in 1..=p.epochs {
        if ctx.should_stop() {
            return Err(Error::stopped());
        }
        rng.shuffle(&mut train);
        let mut train_loss = 0.0;
        for batch in train.chunks(p.batch_size.max(1)) {
            [&mut g_w1, &mut g_b1, &mut g_w2, &mut g_b2].into_iter().for_each(|g| g.fill(0.0));
            for &i in batch {
                let row = x.row(i);
                net.forward(row, &mut h, &mut z);
                let t = target(i);
                train_loss += net.loss(&z, t);
                dz.copy_from_slice(&z);
                if classification {
                    dz[t as usize] -= 1.0;
                } else {
                    dz[0] -= t;
                }
                dh.fill(0.0);
                for o in 0..outputs {
                    g_b2[o] += dz[o];
                    let w = &net.w2[o * hidden..(o + 1) * hidden];
                    for j in 0..hidden {
                        g_w2[o * hidden + j] += dz[o] * h[j];
                        dh[j] += w[j] * dz[o];
                    }
                }
                for j in 0..hidden {
                    if h[j] <= 0.0 {
                        continue;
                    }
                    g_b1[j] += dh[j];
                    for (g, xv) in g_w1[j * cols..(j + 1) * cols].iter_mut().zip(row) {
                        *g += dh[j] * xv;
                    }
                }
            }
            let n = batch.len() as f64;
            for (g, w) in g_w1.iter_mut().zip(&net.w1) {
                *g = *g / n + p.alpha * w;
            }
            for (g, w) in g_w2.iter_mut().zip(&net.w2) {
                *g = *g / n + p.alpha * w;
            }
            g_b1.iter_mut().for_each(|g| *g /= n);
            g_b2.iter_mut().for_each(|g| *g /= n);
            step += 1;
            a_w1.step(&mut net.w1, &g_w1, p.learning_rate, step);
            a_b1.step(&mut net.b1, &g_b1, p.learning_rate, step);
            a_w2.step(&mut net.w2, &g_w2, p.learning_rate, step);
            a_b2.step(&mut net.b2, &g_b2, p.learning_rate, step);
        }
        let mut metrics = vec![("train_loss", train_loss / train.len().max(1) as f64)];
        if !val.is_empty() {
            let (mut loss, mut right) = (0.0, 0usize);
            for &i in val {
                net.forward(x.row(i), &mut h, &mut z);
                loss += net.loss(&z, target(i));
                if classification && argmax(&z) == y[i] as usize {
                    right += 1;
                }
            }
            metrics.push(("val_loss", loss / val.len() as f64));
            if classification {
                metrics.push(("val_accuracy", right as f64 / val.len() as f64));
            }
        }
        metrics.push(("learning_rate", p.learning_rate));
        if ctx.report(epoch, &metrics) == Control::Stop {
            break;
        }
    }
    Ok(net)
}

impl FittedClassifier for Softmax {
    fn predict_proba(&self, x: Matrix<'_>, out: &mut Proba<'_>) -> Result<()> {
        let mut h = vec![0.0; self.0.hidden];
        for (row, o) in x.iter_rows().zip(out.rows_mut()) {
            self.0.forward(row, &mut h, o);
        }
        Ok(())
    }
}

impl FittedRegressor for Linear {
    fn predict(&self, x: Matrix<'_>, out: &mut [f64]) -> Result<()> {
        let (net, mut h, mut z) = (&self.0, vec![0.0; self.0.hidden], [0.0]);
        for (row, o) in x.iter_rows().zip(out.iter_mut()) {
            net.forward(row, &mut h, &mut z);
            *o = z[0] * net.y_scale + net.y_mean;
        }
        Ok(())
    }
}

/// The first of the largest, as numpy's argmax.
fn argmax(v: &[f64]) -> usize {
    v.iter().enumerate().fold((0, f64::MIN), |b, (i, &x)| if x > b.1 { (i, x) } else { b }).0
}

mlhost_plugin_api::export_plugin!(Mlp: classifier, regressor);

#[cfg(test)]
mod tests {
    use super::*;
    use mlhost_plugin_api::{ErrorKind, ParamSet, StandaloneContext};

    fn params(epochs: u32) -> MlpParams {
        let defaults = MlpParams::schema().into_iter();
        let defaults = defaults.fold(Params::default(), |p, s| p.set(&s.name, s.default));
        MlpParams { epochs, ..MlpParams::from_params(&defaults).unwrap() }
    }

    fn data() -> (Vec<f64>, Vec<u32>) {
        let x: Vec<f64> = (0..200)
            .flat_map(|i| [f64::from(i % 20) / 10.0 - 1.0, f64::from(i % 7) / 7.0])
            .collect();
        let y: Vec<u32> = x.chunks(2).map(|r| u32::from(r[0] > 0.0)).collect();
        (x, y)
    }

    fn classifier(epochs: u32, ctx: &mut StandaloneContext) -> Result<Softmax> {
        let (x, y) = data();
        let x = Matrix::new(&x, 200, 2).unwrap();
        <Mlp as Classifier>::fit(&params(epochs), x, &y, &mut ctx.context())
    }

    #[test]
    fn learns_reports_every_epoch_and_repeats_with_the_seed() {
        let (x, y) = data();
        let mut ctx = StandaloneContext::new(5, 2);
        let m = classifier(30, &mut ctx).unwrap();
        assert_eq!(ctx.reports.len(), 30);
        let (first, last) = (&ctx.reports[0].1, &ctx.reports[29].1);
        let names: Vec<&str> = last.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["train_loss", "val_loss", "val_accuracy", "learning_rate"]);
        assert!(last[0].1 < first[0].1, "train loss falls: {first:?} -> {last:?}");
        let mut pred = vec![9; 200];
        m.predict(Matrix::new(&x, 200, 2).unwrap(), &mut pred, 2).unwrap();
        let acc = pred.iter().zip(&y).filter(|(a, b)| a == b).count() as f64 / 200.0;
        assert!(acc > 0.9, "accuracy {acc}");
        let again = classifier(30, &mut StandaloneContext::new(5, 2)).unwrap();
        assert_eq!(again, m, "same seed, same network");
    }

    #[test]
    fn stops_when_told() {
        let mut ctx = StandaloneContext::new(1, 2);
        ctx.stop = true;
        assert_eq!(classifier(50, &mut ctx).unwrap_err().kind(), ErrorKind::Stopped);
    }

    #[test]
    fn regression_predicts_in_target_units() {
        let x: Vec<f64> = (0..100).map(|i| f64::from(i) / 50.0 - 1.0).collect();
        let y: Vec<f64> = x.iter().map(|v| 100.0 + 30.0 * v).collect();
        let mut ctx = StandaloneContext::new(2, 0);
        let x = Matrix::new(&x, 100, 1).unwrap();
        let m = <Mlp as Regressor>::fit(&params(200), x, &y, &mut ctx.context()).unwrap();
        let mut out = [0.0];
        m.predict(Matrix::new(&[0.5], 1, 1).unwrap(), &mut out).unwrap();
        assert!((out[0] - 115.0).abs() < 5.0, "{out:?}");
    }

    #[test]
    fn fitted_model_round_trips_through_serde() {
        let m = classifier(5, &mut StandaloneContext::new(3, 2)).unwrap();
        let restored: Softmax = serde_json::from_str(&serde_json::to_string(&m).unwrap()).unwrap();
        let (x, _) = data();
        let x = Matrix::new(&x, 200, 2).unwrap();
        let (mut a, mut b) = (vec![0.0; 400], vec![0.0; 400]);
        m.predict_proba(x, &mut Proba::new(&mut a, 2).unwrap()).unwrap();
        restored.predict_proba(x, &mut Proba::new(&mut b, 2).unwrap()).unwrap();
        assert_eq!((restored, a), (m, b));
    }
}
