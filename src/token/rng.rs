//! Token randomness: a thread-local ChaCha20 generator seeded from the operating system.
//!
//! Why not a system call per token: `getrandom` costs more than sealing a token. Why this is
//! safe: ChaCha20 keyed with 256 OS-random bits is a CSPRNG; each thread reseeds from the OS
//! after [`RESEED_AFTER_BYTES`] bytes, and whenever the process id differs from the one it
//! was seeded in, so a forked child never replays its parent's stream. See `spec/format.md`
//! ("Randomness").

use std::cell::RefCell;

use rand_chacha::ChaCha20Rng;
use rand_core::{RngCore, SeedableRng};
use ring::rand::{SecureRandom, SystemRandom};

use crate::error::ConfigError;

/// Output after which a thread's generator is replaced by a freshly OS-seeded one.
pub(crate) const RESEED_AFTER_BYTES: u64 = 1 << 20;

struct ThreadRng {
    rng: ChaCha20Rng,
    produced: u64,
    pid: u32,
}

thread_local! {
    static RNG: RefCell<Option<ThreadRng>> = const { RefCell::new(None) };
}

fn os_seeded() -> Result<ThreadRng, ConfigError> {
    let mut seed = zeroize::Zeroizing::new([0u8; 32]);
    SystemRandom::new()
        .fill(seed.as_mut())
        .map_err(|_| ConfigError::Randomness)?;
    Ok(ThreadRng {
        rng: ChaCha20Rng::from_seed(*seed),
        produced: 0,
        pid: std::process::id(),
    })
}

/// Fills `out` with cryptographically secure random bytes.
///
/// # Errors
/// [`ConfigError::Randomness`] when the operating system generator fails (then no token can
/// be minted, which fails closed).
pub(crate) fn fill(out: &mut [u8]) -> Result<(), ConfigError> {
    RNG.with(|cell| {
        let mut slot = cell.borrow_mut();
        let stale = match slot.as_ref() {
            None => true,
            Some(t) => t.produced >= RESEED_AFTER_BYTES || t.pid != std::process::id(),
        };
        if stale {
            *slot = Some(os_seeded()?);
        }
        let Some(t) = slot.as_mut() else {
            return Err(ConfigError::Randomness);
        };
        t.rng.fill_bytes(out);
        t.produced = t.produced.saturating_add(out.len() as u64);
        Ok(())
    })
}

/// Fills `out` directly from the operating system (for long-lived key material).
///
/// # Errors
/// [`ConfigError::Randomness`] when the operating system generator fails.
pub(crate) fn fill_from_os(out: &mut [u8]) -> Result<(), ConfigError> {
    SystemRandom::new().fill(out).map_err(|_| ConfigError::Randomness)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn successive_draws_differ_and_reseed_keeps_working() {
        let mut a = [0u8; 24];
        let mut b = [0u8; 24];
        fill(&mut a).unwrap();
        fill(&mut b).unwrap();
        assert_ne!(a, b);
        let mut big = vec![0u8; usize::try_from(RESEED_AFTER_BYTES).unwrap() + 10];
        fill(&mut big).unwrap();
        fill(&mut a).unwrap();
        assert_ne!(a, b);
    }
}
