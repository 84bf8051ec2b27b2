//! A small seeded random generator for plugins, so "seed every random choice
//! from the fit context" takes one line and gives the same stream on every
//! platform and release (a library RNG's stream may change between versions).

/// SplitMix64: fast, seedable, reproducible; not for cryptography.
///
/// ```
/// let mut rng = mlhost_plugin_api::SeededRng::new(42);
/// let mut rows: Vec<usize> = (0..10).collect();
/// rng.shuffle(&mut rows);
/// assert!(rng.uniform() < 1.0);
/// ```
#[derive(Debug, Clone)]
pub struct SeededRng(u64);

impl SeededRng {
    /// A generator for `seed` (use `ctx.seed()`, mixed with a constant of
    /// your own if several generators share a seed).
    pub fn new(seed: u64) -> Self {
        SeededRng(seed)
    }
    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// An index in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
    /// A float in [0, 1).
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    /// Fisher-Yates shuffle.
    pub fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            let j = self.below(i + 1);
            v.swap(i, j);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_stream() {
        let (mut a, mut b, mut c) = (SeededRng::new(7), SeededRng::new(7), SeededRng::new(8));
        let x: Vec<u64> = (0..5).map(|_| a.next_u64()).collect();
        assert_eq!(x, (0..5).map(|_| b.next_u64()).collect::<Vec<_>>());
        assert_ne!(x, (0..5).map(|_| c.next_u64()).collect::<Vec<_>>());
        // SplitMix64's published first output for seed 0.
        assert_eq!(SeededRng::new(0).next_u64(), 0xE220_A839_7B1D_CDAF);
    }
}
