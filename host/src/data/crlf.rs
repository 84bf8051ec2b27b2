//! Line numbers that name the file's own lines, whatever saved it: the
//! csv crate numbers every record of a CRLF file one line short.

/// The input, noting whether its first line ends in "\r\n". The csv
/// crate then numbers every record's line one short (it ends a record at
/// the '\r' and counts the '\n' with the next record), which messages
/// correct: a row is named by its line in the file, whatever saved it.
#[derive(Debug)]
pub struct Crlf<R> {
    inner: R,
    /// `Some(ends in CRLF)` once the first '\n' was read.
    seen: Option<bool>,
    last: u8,
}

impl<R> Crlf<R> {
    /// Wraps `inner`.
    pub fn new(inner: R) -> Self {
        Crlf { inner, seen: None, last: 0 }
    }

    /// What to add to the csv crate's line numbers: 1 for a CRLF file.
    pub fn extra_lines(&self) -> u64 {
        u64::from(self.seen == Some(true))
    }
}

impl<R: std::io::Read> std::io::Read for Crlf<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if self.seen.is_none() {
            let read = &buf[..n];
            if let Some(i) = read.iter().position(|&b| b == b'\n') {
                let before = if i == 0 { self.last } else { read[i - 1] };
                self.seen = Some(before == b'\r');
            }
            self.last = read.last().copied().unwrap_or(self.last);
        }
        Ok(n)
    }
}
