//! Token randomness: a thread-local ChaCha20 generator seeded from the operating system.
//!
//! Why not a system call per token: `getrandom` costs more than sealing a token. Why this is
//! safe: ChaCha20 keyed with 256 OS-random bits is a CSPRNG; each thread reseeds from the OS
//! after [`RESEED_AFTER_BYTES`] bytes, and after every `fork` (before, in the parent, and
//! after, in both processes), so a forked child never replays its parent's stream. See
//! `spec/format.md` ("Randomness").
//!
//! The fork check: rand 0.8's `ReseedingRng` registers a `pthread_atfork` handler that bumps
//! a process-wide counter, and compares the counter (one relaxed atomic load) before it
//! generates each block. Until this used it, the check was a `getpid` system call per token,
//! which cost more than a fifth of a mint on a virtual machine. The adapter only checks when
//! it generates a block, so values buffered before a fork would survive it: the core here
//! makes a block exactly [`BLOCK_BYTES`] long and every draw takes whole blocks, so nothing is
//! ever buffered between two draws.

use std::cell::RefCell;

use rand08::rngs::adapter::ReseedingRng;
use rand_chacha::ChaCha20Rng;
use rand_core::{RngCore as _, SeedableRng as _};
use rand_core06::block::BlockRngCore;
use rand_core06::{RngCore as RngCore06, SeedableRng as SeedableRng06};
use ring::rand::{SecureRandom, SystemRandom};
use zeroize::Zeroize;

use crate::error::ConfigError;

/// Output after which a thread's generator is replaced by a freshly OS-seeded one.
pub(crate) const RESEED_AFTER_BYTES: u64 = 1 << 20;
/// One block of the generator: one nonce.
const BLOCK_BYTES: usize = 24;

/// ChaCha20 (rand_chacha, 20 rounds) giving one 24-byte block per `generate`.
struct NonceCore(ChaCha20Rng);

impl BlockRngCore for NonceCore {
    type Item = u32;
    type Results = [u32; BLOCK_BYTES / 4];

    fn generate(&mut self, results: &mut Self::Results) {
        for word in results.iter_mut() {
            *word = self.0.next_u32();
        }
    }
}

impl SeedableRng06 for NonceCore {
    type Seed = [u8; 32];

    fn from_seed(seed: [u8; 32]) -> Self {
        Self(ChaCha20Rng::from_seed(seed))
    }
}

/// The operating system generator (ring's `SystemRandom`: `getrandom(2)` on Linux), as the
/// reseeder the adapter draws fresh seeds from.
struct OsSeed;

impl RngCore06 for OsSeed {
    fn next_u32(&mut self) -> u32 {
        rand_core06::impls::next_u32_via_fill(self)
    }

    fn next_u64(&mut self) -> u64 {
        rand_core06::impls::next_u64_via_fill(self)
    }

    fn fill_bytes(&mut self, dest: &mut [u8]) {
        // The adapter reseeds through `try_fill_bytes` (`SeedableRng::from_rng`); this
        // infallible form is never used to make a seed. Should it be, a failure panics
        // rather than hand out a predictable seed, and `fill` turns the panic into an error.
        if self.try_fill_bytes(dest).is_err() {
            panic!("operating system random generator failed");
        }
    }

    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core06::Error> {
        SystemRandom::new().fill(dest).map_err(|_| {
            // Any non-zero code: the adapter only needs to know it failed.
            rand_core06::Error::from(core::num::NonZeroU32::MIN)
        })
    }
}

type ThreadRng = ReseedingRng<NonceCore, OsSeed>;

thread_local! {
    static RNG: RefCell<Option<ThreadRng>> = const { RefCell::new(None) };
}

fn os_seeded() -> Result<ThreadRng, ConfigError> {
    let mut seed = zeroize::Zeroizing::new([0u8; 32]);
    SystemRandom::new()
        .fill(seed.as_mut())
        .map_err(|_| ConfigError::Randomness)?;
    Ok(ReseedingRng::new(
        NonceCore::from_seed(*seed),
        RESEED_AFTER_BYTES,
        OsSeed,
    ))
}

/// Fills `out` with cryptographically secure random bytes.
///
/// # Errors
/// [`ConfigError::Randomness`] when the operating system generator fails (then no token can
/// be minted, which fails closed).
pub(crate) fn fill(out: &mut [u8]) -> Result<(), ConfigError> {
    RNG.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot.is_none() {
            *slot = Some(os_seeded()?);
        }
        let Some(rng) = slot.as_mut() else {
            return Err(ConfigError::Randomness);
        };
        // Whole blocks only, so the adapter never holds bytes over to the next draw (a fork
        // in between would hand the same bytes to parent and child).
        let mut block = [0u8; BLOCK_BYTES];
        // The adapter panics when a reseed (after 1 MiB, or after a fork) cannot read the
        // operating system generator: it never continues on the old stream. That panic is
        // this function's `Randomness` error, and the generator is dropped.
        let drawn = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            for chunk in out.chunks_mut(BLOCK_BYTES) {
                rng.fill_bytes(&mut block);
                chunk.copy_from_slice(block.get(..chunk.len()).unwrap_or_default());
            }
        }));
        block.zeroize();
        if drawn.is_err() {
            *slot = None;
            return Err(ConfigError::Randomness);
        }
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

    /// Draws of any length take whole blocks: a 16-byte draw (a session id) discards the
    /// rest of its block, so the next draw starts a block of its own (where the fork check
    /// runs).
    #[test]
    fn every_draw_starts_a_fresh_block() {
        let mut core = os_seeded().unwrap();
        let mut block = [0u8; BLOCK_BYTES];
        core.fill_bytes(&mut block);
        // Whole blocks leave nothing behind: the adapter generates again for the next one.
        let mut next = [0u8; BLOCK_BYTES];
        core.fill_bytes(&mut next);
        assert_ne!(block, next);
        let mut short = [0u8; 16];
        let mut long = [0u8; 40];
        fill(&mut short).unwrap();
        fill(&mut long).unwrap();
        assert_ne!(&long[..16], &short[..]);
    }
}
