use std::ops::ControlFlow;

use super::*;
use crate::data::dataset::{Column, ColumnKind};

/// A stand-in model over (a, colour): class "pos" when a + colour code > 1,
/// its probability min(a / 10, 1); regression: a + code.
struct Fake {
    header: ModelHeader,
    imputes: bool,
}

fn fake(classes: bool, imputes: bool) -> Fake {
    let cats = ["blue", "red"].map(String::from).to_vec();
    let header = ModelHeader {
        format: 1,
        task: if classes { "classification" } else { "regression" }.into(),
        columns: vec![
            Column { name: "a".into(), kind: ColumnKind::Numeric, missing: 0 },
            Column { name: "colour".into(), kind: ColumnKind::Categorical(cats), missing: 0 },
        ],
        labels: classes.then(|| vec!["neg".into(), "pos".into()]),
        label: "y".into(),
        prep: None,
        plugin: "fake".into(),
        plugin_version: "1.0.0".into(),
        params: Default::default(),
    };
    Fake { header, imputes }
}

impl BatchModel for Fake {
    fn header(&self) -> &ModelHeader {
        &self.header
    }
    fn imputes_missing(&self) -> bool {
        self.imputes
    }
    fn predict(&self, x: &[f64], rows: usize, proba: bool) -> Result<Predictions, String> {
        assert_eq!(x.len(), rows * 2);
        let fill = |v: f64| if v.is_nan() { 0.0 } else { v };
        let score: Vec<f64> = x.chunks(2).map(|r| fill(r[0]) + fill(r[1])).collect();
        if self.header.labels.is_none() {
            return Ok(Predictions { values: score, proba: None });
        }
        let values = score.iter().map(|s| f64::from(u8::from(*s > 1.0))).collect();
        let p = x.chunks(2).flat_map(|r| {
            let q = (fill(r[0]) / 10.0).min(1.0);
            [1.0 - q, q]
        });
        Ok(Predictions { values, proba: proba.then(|| p.collect()) })
    }
}

fn run(
    model: &Fake,
    csv: &str,
    opts: BatchOptions,
) -> (Result<BatchSummary, BatchError>, String, Vec<Progress>) {
    let mut out = Vec::new();
    let mut seen = Vec::new();
    let mut progress = |p: Progress| {
        seen.push(p);
        ControlFlow::Continue(())
    };
    let r = predict_csv(model, "x.csv", csv.as_bytes(), &mut out, opts, &mut progress);
    (r, String::from_utf8(out).unwrap(), seen)
}

fn err(r: Result<BatchSummary, BatchError>) -> String {
    r.map(|s| format!("unexpected success: {s:?}")).unwrap_or_else(|e| e.to_string())
}

const ROWS: &str =
    "id,colour,a,y\n1,red,0.5,x\n2,blue,3,x\n3, red ,NA,x\n4,green,2,x\n5,red,9.5,x\n";

#[test]
fn streams_chunks_matching_columns_by_name() {
    let opts = BatchOptions { proba: true, chunk_rows: 2, ..BatchOptions::default() };
    let (r, out, seen) = run(&fake(true, true), ROWS, opts);
    let summary = r.unwrap();
    assert_eq!(summary.rows, 5);
    assert_eq!(summary.ignored_columns, ["id", "y"]);
    assert_eq!(
        out,
        "prediction,proba_neg,proba_pos\npos,0.95,0.05\npos,0.7,0.3\nneg,1.0,0.0\npos,0.8,0.2\npos,0.050000000000000044,0.95\n"
    );
    // One call per chunk of 2, the last at the end of the input.
    let rows: Vec<u64> = seen.iter().map(|p| p.rows).collect();
    assert_eq!(rows, [2, 4, 5]);
    assert_eq!(seen.last().unwrap().bytes, ROWS.len() as u64);
    // A chunk also ends at its byte budget: here after each row (the
    // header's 14 bytes are not the first chunk's).
    let opts = BatchOptions { chunk_bytes: 10, ..BatchOptions::default() };
    let (r, again, seen) = run(&fake(true, true), ROWS, BatchOptions { proba: true, ..opts });
    assert_eq!((r.unwrap().rows, again), (5, out));
    assert_eq!(seen.iter().map(|p| p.rows).collect::<Vec<_>>(), [1, 2, 3, 4, 5]);
    // The same rows in one chunk, regression: the values.
    let (r, out, _) = run(&fake(false, true), ROWS, BatchOptions::default());
    assert_eq!(r.unwrap().rows, 5);
    assert_eq!(out, "prediction\n1.5\n3.0\n1.0\n4.0\n10.5\n");
}

#[test]
fn bad_input_is_one_line_naming_the_file_row_and_column_and_writes_nothing() {
    let opts = BatchOptions::default();
    let m = fake(true, true);
    let cases = [
        ("a,y\n1,x\n", "x.csv: the input has no column 'colour'; the model needs a, colour"),
        ("", "x.csv: the file is empty; expected a header row"),
        ("colour,a\n", "x.csv: no data rows after the header; nothing to predict"),
        ("{\"rows\": [1]}\n", "x.csv: its first line names none of the model's columns"),
        ("colour,a\nred,1\nblue,x\n", "x.csv: row 3, column 'a': 'x' is not a number"),
        ("colour,a\nred,1\nblue\n", "x.csv: row 3: 1 fields, but the header has 2"),
    ];
    for (csv, want) in cases {
        let (r, out, _) = run(&m, csv, opts);
        let e = err(r);
        assert!(e.starts_with(want), "{csv:?}: {e}");
        assert!(!e.contains('\n'), "one line: {e}");
        assert_eq!(out, "", "{csv:?}: nothing written");
    }
    let bytes = b"colour,a\nred,1\nbl\xffue,2\n";
    let mut out = Vec::new();
    let r =
        predict_csv(&m, "x.csv", &bytes[..], &mut out, opts, &mut |_| ControlFlow::Continue(()));
    assert!(err(r).starts_with("x.csv: row 3: not UTF-8 text"));
    // Saved with CRLF line ends: still the file's lines.
    for (csv, want) in [
        ("colour,a\r\nred,1\r\nblue,x\r\n", "x.csv: row 3, column 'a': 'x' is not a number"),
        ("colour,a\r\n\"r\r\ned\",1\r\nblue,x\r\n", "x.csv: row 4, column 'a': 'x' is not"),
        ("colour,a\r\nred,1\r\nblue\r\n", "x.csv: row 3: 1 fields, but the header has 2"),
    ] {
        let e = err(run(&m, csv, opts).0);
        assert!(e.starts_with(want), "{csv:?}: {e}");
    }
    // A model without an imputer: the missing cell's line in the file.
    let (r, _, _) = run(&fake(true, false), ROWS, opts);
    assert_eq!(
        err(r),
        "x.csv: row 4, column 'a': missing value, and the model was trained without imputing one; fill the cell in"
    );
    let (r, _, _) = run(&fake(false, true), ROWS, BatchOptions { proba: true, ..opts });
    assert!(err(r).starts_with("the model is a regression model"));
}

#[test]
fn a_bad_row_after_written_chunks_stops_and_a_break_stops() {
    let csv = format!("{ROWS}6,red,oops,x\n");
    let (r, out, seen) =
        run(&fake(true, true), &csv, BatchOptions { chunk_rows: 2, ..BatchOptions::default() });
    assert!(err(r).starts_with("x.csv: row 7, column 'a': 'oops' is not a number"));
    assert_eq!(out.lines().count(), 5, "the two chunks before it: {out}");
    assert_eq!(seen.len(), 2);
    let mut out = Vec::new();
    let opts = BatchOptions { chunk_rows: 1, ..BatchOptions::default() };
    let r = predict_csv(&fake(true, true), "x.csv", ROWS.as_bytes(), &mut out, opts, &mut |p| {
        if p.rows == 2 { ControlFlow::Break(()) } else { ControlFlow::Continue(()) }
    });
    assert!(matches!(r, Err(BatchError::Stopped)));
}
