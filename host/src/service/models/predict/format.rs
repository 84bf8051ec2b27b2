//! Predictions as CSV text: a `prediction` column (the class label, or the
//! value) and, when asked, one `proba_<label>` column per class. Labels
//! are escaped once; numbers are the shortest text that reads back as the
//! same `f64` (`ryu`); each chunk is written into one reused buffer, so a
//! row costs no allocation.

use crate::engine::predictor::Predictions;

/// Writes chunks of predictions as CSV rows.
#[derive(Debug)]
pub struct Rows {
    /// Class labels, CSV-escaped (`None`: regression).
    labels: Option<Vec<Vec<u8>>>,
    names: Vec<String>,
    proba: bool,
    buf: Vec<u8>,
}

impl Rows {
    /// Rows for a model with class `labels` (`None`: a regressor), with
    /// probability columns when `proba`.
    pub fn new(labels: Option<&[String]>, proba: bool) -> Rows {
        Rows {
            labels: labels.map(|l| l.iter().map(|s| field(s)).collect()),
            names: labels.map(<[String]>::to_vec).unwrap_or_default(),
            proba: proba && labels.is_some(),
            buf: Vec::new(),
        }
    }

    /// The header line.
    pub fn header(&self) -> Vec<u8> {
        let mut line = b"prediction".to_vec();
        if self.proba {
            for name in &self.names {
                line.push(b',');
                line.extend(field(&format!("proba_{name}")));
            }
        }
        line.push(b'\n');
        line
    }

    /// The lines of the first `rows` predictions of `p`. A class code
    /// outside the labels (a plugin's bug) is an error.
    pub fn chunk(&mut self, p: &Predictions, rows: usize) -> Result<&[u8], String> {
        let mut num = ryu::Buffer::new();
        self.buf.clear();
        let proba = p.proba.as_deref().filter(|_| self.proba);
        let k = self.names.len();
        for (r, &v) in p.values[..rows].iter().enumerate() {
            match &self.labels {
                Some(labels) => {
                    let label = (v >= 0.0 && v.fract() == 0.0)
                        .then(|| labels.get(v as usize))
                        .flatten()
                        .ok_or_else(|| {
                            format!(
                                "the model predicted class code {v} for row {} of a chunk; it has {} classes (codes 0 to {})",
                                r + 1,
                                labels.len(),
                                labels.len().saturating_sub(1)
                            )
                        })?;
                    self.buf.extend_from_slice(label);
                }
                None => self.buf.extend_from_slice(num.format(v).as_bytes()),
            }
            if let Some(proba) = proba {
                for &q in &proba[r * k..(r + 1) * k] {
                    self.buf.push(b',');
                    self.buf.extend_from_slice(num.format(q).as_bytes());
                }
            }
            self.buf.push(b'\n');
        }
        Ok(&self.buf)
    }
}

/// `s` as one CSV field: quoted (quotes doubled) when it holds a comma, a
/// quote, a line break or outer spaces.
fn field(s: &str) -> Vec<u8> {
    let plain = !s.is_empty()
        && s.trim() == s
        && !s.bytes().any(|b| matches!(b, b',' | b'"' | b'\n' | b'\r'));
    if plain {
        return s.as_bytes().to_vec();
    }
    let mut out = Vec::with_capacity(s.len() + 2);
    out.push(b'"');
    for b in s.bytes() {
        if b == b'"' {
            out.push(b'"');
        }
        out.push(b);
    }
    out.push(b'"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels() -> Vec<String> {
        ["no", "yes, sure", "say \"hi\""].map(String::from).to_vec()
    }

    #[test]
    fn labels_and_probabilities_read_back_as_csv() {
        let labels = labels();
        let mut rows = Rows::new(Some(&labels), true);
        let p = Predictions {
            values: vec![1.0, 2.0, 0.0],
            proba: Some(vec![0.1, 0.7, 0.2, 0.0, 0.25, 0.75, 1.0, 0.0, 0.0]),
        };
        let mut text = rows.header();
        text.extend_from_slice(rows.chunk(&p, 3).unwrap());
        let mut r = csv::Reader::from_reader(&text[..]);
        let head: Vec<String> = r.headers().unwrap().iter().map(String::from).collect();
        assert_eq!(head, ["prediction", "proba_no", "proba_yes, sure", "proba_say \"hi\""]);
        let got: Vec<Vec<String>> =
            r.records().map(|r| r.unwrap().iter().map(String::from).collect()).collect();
        assert_eq!(got[0], ["yes, sure", "0.1", "0.7", "0.2"]);
        assert_eq!(got[1], ["say \"hi\"", "0.0", "0.25", "0.75"]);
        assert_eq!(got[2], ["no", "1.0", "0.0", "0.0"]);
    }

    #[test]
    fn values_round_trip_and_bad_codes_are_refused() {
        let mut rows = Rows::new(None, false);
        assert_eq!(rows.header(), b"prediction\n");
        let values = vec![0.1 + 0.2, -3.0, 1e-300, 123456789.125];
        let p = Predictions { values: values.clone(), proba: None };
        let text = String::from_utf8(rows.chunk(&p, 4).unwrap().to_vec()).unwrap();
        let back: Vec<f64> = text.lines().map(|l| l.parse().unwrap()).collect();
        assert_eq!(back, values, "{text}");
        // Only the first `rows` values are written.
        assert_eq!(rows.chunk(&p, 1).unwrap(), b"0.30000000000000004\n");
        let labels = labels();
        let mut rows = Rows::new(Some(&labels), false);
        for bad in [3.0, -1.0, 0.5, f64::NAN] {
            let p = Predictions { values: vec![0.0, bad], proba: None };
            let err = rows.chunk(&p, 2).unwrap_err();
            assert!(err.contains("for row 2 of a chunk; it has 3 classes (codes 0 to 2)"), "{err}");
        }
    }
}
