//! Capped, jittered exponential backoff, validated at construction (after linkerd's
//! `exp-backoff`), and a tiny random source that needs no extra dependency.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::time::Duration;

/// A random `u64` seeded from the OS (std's `RandomState` keys are random per process and
/// per call after the first).
pub fn random_u64() -> u64 {
    let mut h = RandomState::new().build_hasher();
    h.write_u32(std::process::id());
    h.finish()
}

/// A random instance token: 32 hex digits.
pub fn instance_token() -> String {
    format!("{:016x}{:016x}", random_u64(), random_u64())
}

/// Invalid backoff parameters.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BackoffError {
    /// `min` is zero.
    #[error("backoff minimum must be greater than zero")]
    ZeroMin,
    /// `max < min`.
    #[error("backoff maximum {max:?} is smaller than its minimum {min:?}")]
    MaxBelowMin {
        /// min
        min: Duration,
        /// max
        max: Duration,
    },
    /// `jitter` outside `0.0..=1.0`.
    #[error("backoff jitter {0} must be within 0.0 and 1.0")]
    Jitter(String),
}

/// Exponential backoff: attempt `n` waits `min · 2ⁿ` capped at `max`, of which the fraction
/// `jitter` is randomised downwards (`d · (1 − jitter · U[0,1))`).
#[derive(Clone, Debug)]
pub struct ExponentialBackoff {
    min: Duration,
    max: Duration,
    jitter: f64,
    attempt: u32,
    rng: u64,
}

impl ExponentialBackoff {
    /// Validates and builds a backoff.
    pub fn new(min: Duration, max: Duration, jitter: f64) -> Result<Self, BackoffError> {
        if min.is_zero() {
            return Err(BackoffError::ZeroMin);
        }
        if max < min {
            return Err(BackoffError::MaxBelowMin { min, max });
        }
        if !(0.0..=1.0).contains(&jitter) {
            return Err(BackoffError::Jitter(jitter.to_string()));
        }
        Ok(ExponentialBackoff {
            min,
            max,
            jitter,
            attempt: 0,
            rng: random_u64() | 1,
        })
    }

    /// The longest wait.
    pub fn max(&self) -> Duration {
        self.max
    }

    /// Back to the first attempt.
    pub fn reset(&mut self) {
        self.attempt = 0;
    }

    fn next_f64(&mut self) -> f64 {
        // xorshift64*
        let mut x = self.rng;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng = x;
        (x.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64
    }

    /// The wait before the next attempt.
    pub fn next_delay(&mut self) -> Duration {
        let factor = 2u32.saturating_pow(self.attempt.min(31));
        self.attempt = self.attempt.saturating_add(1);
        let base = self.min.saturating_mul(factor).min(self.max);
        let cut = self.jitter * self.next_f64();
        base.mul_f64(1.0 - cut).max(self.min.min(base))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn validation() {
        let ms = Duration::from_millis;
        assert_eq!(
            ExponentialBackoff::new(ms(0), ms(1), 0.5).unwrap_err(),
            BackoffError::ZeroMin
        );
        assert!(matches!(
            ExponentialBackoff::new(ms(10), ms(1), 0.5),
            Err(BackoffError::MaxBelowMin { .. })
        ));
        assert!(ExponentialBackoff::new(ms(1), ms(1), 1.5).is_err());
    }

    #[test]
    fn grows_caps_and_jitters() {
        let ms = Duration::from_millis;
        let mut b = ExponentialBackoff::new(ms(100), ms(2000), 0.5).unwrap();
        let d: Vec<Duration> = (0..10).map(|_| b.next_delay()).collect();
        for (i, x) in d.iter().enumerate() {
            let base = ms(100 * (1u64 << i.min(5))).min(ms(2000));
            assert!(
                *x <= base && *x >= base / 2,
                "attempt {i}: {x:?} vs {base:?}"
            );
        }
        assert!(d[9] >= ms(1000));
        b.reset();
        assert!(b.next_delay() <= ms(100));
        let mut z = ExponentialBackoff::new(ms(100), ms(400), 0.0).unwrap();
        let d: Vec<Duration> = (0..4).map(|_| z.next_delay()).collect();
        assert_eq!(d, vec![ms(100), ms(200), ms(400), ms(400)]);
    }

    #[test]
    fn tokens_differ() {
        assert_ne!(instance_token(), instance_token());
        assert_eq!(instance_token().len(), 32);
    }
}
