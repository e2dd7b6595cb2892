//! Counter-based pseudo-random numbers: the value depends only on the inputs, so results are
//! identical however work is split across threads (synth determinism relies on this).

/// SplitMix64 finaliser.
pub fn mix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Hashes several integers into one.
pub fn hash(parts: &[u64]) -> u64 {
    parts
        .iter()
        .fold(0x2545_F491_4F6C_DD1D, |acc, &p| mix64(acc ^ mix64(p)))
}

/// Uniform in [0, 1).
pub fn unit(h: u64) -> f64 {
    (h >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// Standard normal from a hash (Box-Muller on two derived uniforms).
pub fn normal(h: u64) -> f64 {
    let u1 = unit(mix64(h)).max(1e-12);
    let u2 = unit(mix64(h ^ 0xA5A5_A5A5_A5A5_A5A5));
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// A small sequential generator for set-up work (camera placement and the like).
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(mix64(seed))
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = mix64(self.0);
        self.0
    }
    pub fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * unit(self.next_u64())
    }
}
