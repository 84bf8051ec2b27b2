//! Group fairness of binary class predictions, as fairlearn defines it: per
//! group the selection rate (share predicted positive), the true positive
//! rate and the false positive rate; between groups the demographic-parity
//! difference (max − min selection rate) and the equalized-odds difference
//! (the greater of the TPR and FPR differences, each max − min). Owns no I/O.
//!
//! One rule is ours: a group without positive rows has no TPR (without
//! negative rows no FPR) and is left out of that rate's difference, with a
//! warning. fairlearn counts such a rate as 0, which would make a group
//! that was never at risk of a false negative look like one whose every
//! positive was missed.

/// One group's rates.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GroupRates {
    /// The group's code (index into the names passed in).
    pub group: u32,
    /// Rows of the group.
    pub rows: u64,
    /// Rows predicted positive / rows.
    pub selection_rate: f64,
    /// Positive rows predicted positive / positive rows; `None` without
    /// positive rows.
    pub tpr: Option<f64>,
    /// Negative rows predicted positive / negative rows; `None` without
    /// negative rows.
    pub fpr: Option<f64>,
}

/// The rates of every group that has rows, and the differences between
/// them.
#[derive(Debug, Clone, PartialEq)]
pub struct Fairness {
    /// In group-code order; groups without rows are left out.
    pub groups: Vec<GroupRates>,
    /// max − min selection rate; `None` without rows.
    pub demographic_parity_difference: Option<f64>,
    /// max(TPR difference, FPR difference) over the groups where each is
    /// defined; `None` when neither is defined anywhere.
    pub equalized_odds_difference: Option<f64>,
    /// Which groups were left out of which rate.
    pub warnings: Vec<String>,
}

/// Counts of one group.
#[derive(Debug, Clone, Copy, Default)]
struct Counts {
    rows: u64,
    selected: u64,
    positives: u64,
    true_positives: u64,
    false_positives: u64,
}

/// The fairness of predictions `y_pred` against `y_true` (binary class
/// codes, 0 or 1) with `pos` the positive class, where row `i` belongs to
/// group `groups[i]`, an index into `names` (used in the warnings).
pub fn fairness(
    y_true: &[u32],
    y_pred: &[u32],
    pos: u32,
    groups: &[u32],
    names: &[String],
) -> Result<Fairness, String> {
    if y_true.len() != y_pred.len() || y_true.len() != groups.len() {
        return Err(format!(
            "{} true values, {} predictions and {} group cells",
            y_true.len(),
            y_pred.len(),
            groups.len()
        ));
    }
    if pos > 1 {
        return Err(format!("positive class code {pos} is not one of the 2 classes"));
    }
    let mut counts = vec![Counts::default(); names.len()];
    for ((&t, &p), &g) in y_true.iter().zip(y_pred).zip(groups) {
        if t > 1 || p > 1 {
            return Err(format!("class code {} is not one of the 2 classes", t.max(p)));
        }
        let c = counts
            .get_mut(g as usize)
            .ok_or_else(|| format!("group code {g} is not one of the {} groups", names.len()))?;
        let (truth, predicted) = (t == pos, p == pos);
        c.rows += 1;
        c.selected += u64::from(predicted);
        c.positives += u64::from(truth);
        c.true_positives += u64::from(truth && predicted);
        c.false_positives += u64::from(!truth && predicted);
    }
    let ratio = |num: u64, den: u64| (den > 0).then(|| num as f64 / den as f64);
    let groups: Vec<GroupRates> = (0..)
        .zip(&counts)
        .filter(|(_, c)| c.rows > 0)
        .map(|(g, c)| GroupRates {
            group: g,
            rows: c.rows,
            selection_rate: c.selected as f64 / c.rows as f64,
            tpr: ratio(c.true_positives, c.positives),
            fpr: ratio(c.false_positives, c.rows - c.positives),
        })
        .collect();
    let mut warnings = Vec::new();
    let tpr = difference(&groups, |g| g.tpr, names, "positive", "TPR", &mut warnings);
    let fpr = difference(&groups, |g| g.fpr, names, "negative", "FPR", &mut warnings);
    Ok(Fairness {
        demographic_parity_difference: spread(groups.iter().map(|g| g.selection_rate)),
        equalized_odds_difference: match (tpr, fpr) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        },
        groups,
        warnings,
    })
}

/// max − min of `rate` over the groups where it is defined; a warning names
/// the groups where it is not.
fn difference(
    groups: &[GroupRates],
    rate: impl Fn(&GroupRates) -> Option<f64>,
    names: &[String],
    rows: &str,
    what: &str,
    warnings: &mut Vec<String>,
) -> Option<f64> {
    let undefined: Vec<String> = groups
        .iter()
        .filter(|g| rate(g).is_none())
        .map(|g| format!("'{}'", names[g.group as usize]))
        .collect();
    if !undefined.is_empty() {
        let (s, has) = if undefined.len() == 1 { ("", "has") } else { ("s", "have") };
        warnings.push(format!(
            "group{s} {} {has} no {rows} rows: no {what}, left out of the equalized-odds difference",
            undefined.join(", ")
        ));
    }
    spread(groups.iter().filter_map(rate))
}

/// max − min, `None` when empty.
fn spread(values: impl Iterator<Item = f64>) -> Option<f64> {
    values
        .fold(None, |acc, v| match acc {
            None => Some((v, v)),
            Some((lo, hi)) => Some((lo.min(v), hi.max(v))),
        })
        .map(|(lo, hi)| hi - lo)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    /// `host/tests/data/fairlearn_fairness.json`, made by
    /// `tests/fixtures/fairlearn/fairness.py`.
    fn cases() -> Vec<Value> {
        let text = include_str!("../../tests/data/fairlearn_fairness.json");
        let doc: Value = serde_json::from_str(text).expect("fixture is JSON");
        doc["cases"].as_array().expect("cases").clone()
    }

    fn ints(v: &Value) -> Vec<u32> {
        v.as_array().unwrap().iter().map(|x| x.as_u64().unwrap() as u32).collect()
    }

    /// Group codes in sorted-name order, as the service makes them.
    fn codes(v: &Value) -> (Vec<u32>, Vec<String>) {
        let cells: Vec<String> =
            v.as_array().unwrap().iter().map(|c| c.as_str().unwrap().to_owned()).collect();
        let mut names = cells.clone();
        names.sort();
        names.dedup();
        let codes = cells.iter().map(|c| names.binary_search(c).unwrap() as u32).collect();
        (codes, names)
    }

    fn same(got: Option<f64>, want: &Value, what: &str) {
        match (got, want.as_f64()) {
            (None, None) => {}
            (Some(g), Some(w)) => assert!((g - w).abs() <= 1e-12, "{what}: {g} vs {w}"),
            _ => panic!("{what}: {got:?} vs {want}"),
        }
    }

    #[test]
    fn rates_and_differences_equal_fairlearn() {
        for case in cases() {
            let name = case["name"].as_str().unwrap();
            let (groups, names) = codes(&case["groups"]);
            let pos = case["pos"].as_u64().unwrap() as u32;
            let got = fairness(&ints(&case["yTrue"]), &ints(&case["yPred"]), pos, &groups, &names)
                .unwrap();
            let want = &case["expected"];
            let lines = want["groups"].as_array().unwrap();
            assert_eq!(got.groups.len(), lines.len(), "{name}");
            for (g, w) in got.groups.iter().zip(lines) {
                assert_eq!(names[g.group as usize], w["group"].as_str().unwrap(), "{name}");
                assert_eq!(g.rows, w["rows"].as_u64().unwrap(), "{name}");
                same(Some(g.selection_rate), &w["selectionRate"], name);
                same(g.tpr, &w["tpr"], name);
                same(g.fpr, &w["fpr"], name);
            }
            same(got.demographic_parity_difference, &want["demographicParityDifference"], name);
            same(got.equalized_odds_difference, &want["equalizedOddsDifference"], name);
            for (key, rows) in [("tprUndefined", "positive"), ("fprUndefined", "negative")] {
                let left_out = want[key].as_array().unwrap();
                let warned = got.warnings.iter().find(|w| w.contains(&format!("no {rows} rows")));
                assert_eq!(warned.is_some(), !left_out.is_empty(), "{name}: {:?}", got.warnings);
                for g in left_out {
                    assert!(warned.unwrap().contains(&format!("'{}'", g.as_str().unwrap())));
                }
            }
        }
    }

    #[test]
    fn where_every_rate_is_defined_it_is_fairlearns_own_equalized_odds() {
        let mut checked = 0;
        for case in cases() {
            let want = &case["expected"];
            if want["tprUndefined"].as_array().unwrap().is_empty()
                && want["fprUndefined"].as_array().unwrap().is_empty()
            {
                let ours = want["equalizedOddsDifference"].as_f64().unwrap();
                let theirs = want["fairlearnEqualizedOddsDifference"].as_f64().unwrap();
                assert!((ours - theirs).abs() <= 1e-12);
                checked += 1;
            }
        }
        assert!(checked >= 2);
    }

    #[test]
    fn one_group_empty_input_and_bad_codes() {
        let names = vec!["a".to_owned(), "b".to_owned()];
        let f = fairness(&[1, 1], &[1, 0], 1, &[1, 1], &names).unwrap();
        assert_eq!(f.groups.len(), 1, "a group without rows is left out");
        assert_eq!((f.groups[0].group, f.groups[0].tpr, f.groups[0].fpr), (1, Some(0.5), None));
        assert_eq!(f.demographic_parity_difference, Some(0.0));
        assert_eq!(f.equalized_odds_difference, Some(0.0), "TPR alone");
        assert_eq!(
            f.warnings,
            ["group 'b' has no negative rows: no FPR, left out of the equalized-odds difference"]
        );
        let empty = fairness(&[], &[], 1, &[], &names).unwrap();
        assert_eq!(empty.demographic_parity_difference, None);
        assert_eq!(empty.equalized_odds_difference, None);
        assert!(fairness(&[0, 2], &[0, 1], 1, &[0, 0], &names).unwrap_err().contains("code 2"));
        assert!(fairness(&[0], &[0], 1, &[2], &names).unwrap_err().contains("group code 2"));
        assert!(fairness(&[0], &[0, 1], 1, &[0], &names).unwrap_err().contains("1 true values"));
        assert!(fairness(&[0], &[0], 2, &[0], &names).unwrap_err().contains("positive class"));
    }
}
