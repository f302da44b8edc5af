//! Hooks for the specification's vector generators and tests (feature `test-vectors`; not a
//! supported API). Each runs the code path production runs, with the one input production
//! draws at random — a token's nonce — given instead, so `spec/vectors/` can hold real outputs
//! of that path: bound tokens, filter geometries, feed entries.

use crate::error::ConfigError;
use crate::revocation::FilterConfig;
use crate::session::binding::{Binding, ClientContext};
use crate::token::claims::{Claims, Flags};
use crate::token::{SealedToken, Sealer};

/// The binding input (spec/sessions.md §6) of `client` for a token with `flags`, as minting
/// (with the policy's flags) and verifying (with the token's) encode it; `None` when
/// `flags` is 0.
pub fn binding_input(binding: &Binding, flags: Flags, client: &ClientContext<'_>) -> Option<Vec<u8>> {
    binding.input(flags, client)
}

/// Mints `claims` bound to `client` exactly as a session transition does (flags from
/// `binding`, binding value under the primary key's binding subkey and the token's nonce),
/// with `nonce` instead of a fresh one. Returns the token and the claims as sealed.
///
/// # Errors
/// As [`Sealer::mint`]: no primary key, or claims out of bounds.
pub fn mint_bound(
    sealer: &Sealer,
    mut claims: Claims,
    binding: &Binding,
    client: &ClientContext<'_>,
    nonce: [u8; 24],
) -> Result<(SealedToken, Claims), ConfigError> {
    let input = binding.bind(&mut claims, client);
    let sealed = sealer.mint_bound_with_nonce(claims, input.as_deref(), nonce)?;
    Ok((sealed.token, sealed.claims))
}

/// `(k, words, limit)` of each of the eight filters a generation of `config` can grow
/// (spec/revocation.md, "Sizing"), without allocating any.
///
/// # Errors
/// A setting of `config` is out of range.
pub fn filter_geometry(config: &FilterConfig) -> Result<Vec<(u32, usize, u64)>, ConfigError> {
    Ok(config
        .geometries()?
        .iter()
        .map(|g| (g.k, g.words, g.limit))
        .collect())
}

/// The Redis feed's entries (spec/revocation.md §10), sealed and opened by the feed's own code.
#[cfg(feature = "redis")]
pub mod feed {
    use crate::keys::KeyRing;
    use crate::revocation::redis::names::EntryId;
    use crate::revocation::redis::record::{self, FeedEntry};
    use crate::revocation::{Revocation, StoreError};

    /// Field names and values, in the order given to `XADD` or `HSET`.
    pub type Fields = Vec<(&'static str, Vec<u8>)>;

    /// A record entry of `revocation` published by `node`, under the ring's primary key.
    ///
    /// # Errors
    /// No primary key, or the revocation is out of bounds.
    pub fn seal_record(
        ring: &KeyRing,
        stream: &str,
        node: &str,
        revocation: &Revocation,
    ) -> Result<Fields, StoreError> {
        record::seal_record(ring, stream, node, revocation)
    }

    /// A marker entry: `node` published a snapshot covering entry `ms-seq`.
    ///
    /// # Errors
    /// No primary key.
    pub fn seal_marker(
        ring: &KeyRing,
        stream: &str,
        node: &str,
        ms: u64,
        seq: u64,
    ) -> Result<Fields, StoreError> {
        record::seal_marker(ring, stream, node, EntryId { ms, seq })
    }

    /// The fields of the hash `snapshot:NODE`.
    ///
    /// # Errors
    /// No primary key.
    pub fn seal_snapshot(
        ring: &KeyRing,
        stream: &str,
        node: &str,
        incarnation: &str,
        (ms, seq): (u64, u64),
        snapshot: Vec<u8>,
    ) -> Result<Fields, StoreError> {
        record::seal_snapshot(ring, stream, node, incarnation, EntryId { ms, seq }, snapshot)
    }

    /// Verifies a stream entry: the publishing node and the record (`None` for a marker), or
    /// the refusal's code (`malformed`, `unknown_key`, `retired_key`, `bad_mac`,
    /// `bad_payload`).
    ///
    /// # Errors
    /// The refusal's code.
    pub fn open_entry(
        ring: &KeyRing,
        stream: &str,
        fields: &[(Vec<u8>, Vec<u8>)],
    ) -> Result<(String, Option<Revocation>), &'static str> {
        match record::open_entry(ring, stream, fields) {
            Ok((FeedEntry::Record(r), node)) => Ok((node, Some(r))),
            Ok((FeedEntry::Marker, node)) => Ok((node, None)),
            Err(forged) => Err(forged.as_str()),
        }
    }

    /// Verifies the hash `snapshot:NODE`: its incarnation and covered entry id, or the
    /// refusal's code.
    ///
    /// # Errors
    /// The refusal's code.
    pub fn open_snapshot(
        ring: &KeyRing,
        stream: &str,
        node: &str,
        fields: &[(Vec<u8>, Vec<u8>)],
    ) -> Result<(String, String), &'static str> {
        record::open_snapshot(ring, stream, node, fields)
            .map(|o| (o.incarnation, o.covered.to_string()))
            .map_err(|forged| forged.as_str())
    }
}
