//! Proposing parameter sets from a [`Space`]: every point of a grid, in
//! order (as scikit-learn's `ParameterGrid`: the last dimension varies
//! fastest), or independent random draws (uniform, log-uniform, whole
//! numbers, listed values), seeded so a study repeats exactly.

use mlhost_plugin_api::{ParamValue, SeededRng};

use crate::search::space::{Domain, Space};

/// One proposed parameter set, in the space's order.
pub type Point = Vec<(String, ParamValue)>;

/// A grid has at most this many values along an int range.
const MAX_INT_AXIS: i64 = 64;

/// Every point of the grid `space` spans. A float range, or an int range of
/// more than 64 values, is an error naming the parameter: a grid needs values.
pub fn grid(space: &Space) -> Result<Vec<Point>, String> {
    let mut axes: Vec<(&str, Vec<ParamValue>)> = Vec::with_capacity(space.dims.len());
    for d in &space.dims {
        let values = match &d.domain {
            Domain::Values(v) => v.clone(),
            Domain::Int { low, high, .. } if high - low < MAX_INT_AXIS => {
                (*low..=*high).map(ParamValue::Int).collect()
            }
            _ => {
                return Err(format!(
                    "a grid needs values for '{0}'; list them: --param {0}=a,b,c",
                    d.name
                ));
            }
        };
        axes.push((&d.name, values));
    }
    let mut points: Vec<Point> = vec![Vec::new()];
    for (name, values) in axes {
        points = points
            .into_iter()
            .flat_map(|p| {
                values.iter().map(move |v| {
                    let mut q = p.clone();
                    q.push((name.to_owned(), v.clone()));
                    q
                })
            })
            .collect();
    }
    Ok(points)
}

/// One random point: each dimension drawn independently.
pub fn random(space: &Space, rng: &mut SeededRng) -> Point {
    space.dims.iter().map(|d| (d.name.clone(), draw(&d.domain, rng))).collect()
}

/// One value of `domain`: uniform, or uniform in the logarithm; an int as
/// Optuna draws it (a real in [low - 0.5, high + 0.5], rounded).
pub fn draw(domain: &Domain, rng: &mut SeededRng) -> ParamValue {
    let between = |low: f64, high: f64, log: bool, rng: &mut SeededRng| {
        let u = rng.uniform();
        if log { (low.ln() + u * (high.ln() - low.ln())).exp() } else { low + u * (high - low) }
    };
    match domain {
        Domain::Float { low, high, log } => ParamValue::Float(between(*low, *high, *log, rng)),
        Domain::Int { low, high, log } => {
            let (lo, hi) = (*low as f64 - 0.5, *high as f64 + 0.5);
            let lo = if *log { lo.max(0.5) } else { lo };
            let v = between(lo, hi, *log, rng).round() as i64;
            ParamValue::Int(v.clamp(*low, *high))
        }
        Domain::Values(values) => values[rng.below(values.len())].clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::search::space::Dimension;

    fn dim(name: &str, domain: Domain) -> Dimension {
        Dimension { name: name.to_owned(), domain }
    }

    #[test]
    fn a_grid_is_every_combination_the_last_axis_fastest() {
        let space = Space {
            dims: vec![
                dim("k", Domain::Int { low: 1, high: 2, log: false }),
                dim(
                    "w",
                    Domain::Values(vec![
                        ParamValue::Choice("a".into()),
                        ParamValue::Choice("b".into()),
                    ]),
                ),
            ],
        };
        let shown: Vec<String> = grid(&space)
            .unwrap()
            .iter()
            .map(|p| p.iter().map(|(n, v)| format!("{n}={v:?}")).collect::<Vec<_>>().join(" "))
            .collect();
        assert_eq!(
            shown,
            [
                r#"k=Int(1) w=Choice("a")"#,
                r#"k=Int(1) w=Choice("b")"#,
                r#"k=Int(2) w=Choice("a")"#,
                r#"k=Int(2) w=Choice("b")"#
            ]
        );
        let float =
            Space { dims: vec![dim("c", Domain::Float { low: 0.1, high: 1.0, log: false })] };
        assert_eq!(
            grid(&float).unwrap_err(),
            "a grid needs values for 'c'; list them: --param c=a,b,c"
        );
    }

    #[test]
    fn random_draws_stay_in_range_cover_it_and_repeat_with_the_seed() {
        let space = Space {
            dims: vec![
                dim("c", Domain::Float { low: 1e-3, high: 1e3, log: true }),
                dim("k", Domain::Int { low: 1, high: 5, log: false }),
            ],
        };
        let mut rng = SeededRng::new(3);
        let points: Vec<Point> = (0..2000).map(|_| random(&space, &mut rng)).collect();
        let mut below_one = 0;
        let mut seen = [0usize; 6];
        for p in &points {
            let (ParamValue::Float(c), ParamValue::Int(k)) = (&p[0].1, &p[1].1) else { panic!() };
            assert!((1e-3..=1e3).contains(c) && (1..=5).contains(k), "{p:?}");
            below_one += usize::from(*c < 1.0);
            seen[*k as usize] += 1;
        }
        // Log-uniform: half the draws below the geometric middle (1).
        assert!((900..1100).contains(&below_one), "{below_one}");
        // Every whole number about equally often, ends included.
        assert!(seen[1..].iter().all(|&n| (320..480).contains(&n)), "{seen:?}");
        let mut again = SeededRng::new(3);
        assert_eq!(random(&space, &mut again), points[0]);
    }
}
