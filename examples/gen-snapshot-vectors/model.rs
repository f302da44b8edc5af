//! The revocation set written from spec/revocation.md alone (§3 hashing, §4 sizing and the
//! insert rule, §7 snapshot bytes), with none of the crate's code. The generator checks the
//! crate against it; `tests/snapshot_model.rs` rebuilds every vector with it.
#![allow(dead_code, clippy::unwrap_used, clippy::indexing_slicing)]

use std::collections::BTreeMap;

use ring::{hkdf, hmac};

pub(crate) const MAX_FILTERS: usize = 8;

/// `(k, words, limit)` of one filter.
pub(crate) type Geometry = (u32, u64, u64);

/// k0: the smallest k with p · 2^k ≥ 2, by exact doubling.
pub(crate) fn k0(p: f64) -> u32 {
    let (mut scaled, mut k) = (p, 0);
    while scaled < 2.0 {
        scaled *= 2.0;
        k += 1;
    }
    k
}

/// The eight filters of a generation of capacity `n` at target `p`.
pub(crate) fn geometry(n: u64, p: f64) -> [Geometry; MAX_FILTERS] {
    let base = k0(p);
    core::array::from_fn(|i| {
        let n_i = u128::from(n) << i;
        let floor = n_i.isqrt();
        let ceil = if floor * floor == n_i { floor } else { floor + 1 };
        let keys = n_i + 2 * ceil;
        let k = base + u32::try_from(i).unwrap();
        let bits = (u128::from(k) * keys * 1_442_695_041).div_ceil(1_000_000_000);
        let words = u64::try_from(bits.div_ceil(64).max(1)).unwrap();
        (k, words, 32 * words)
    })
}

/// The positions of `id` in a filter of `m` bits (enhanced double hashing, Lemire reduction).
pub(crate) fn positions(id: &[u8; 16], m: u64, k: u32) -> Vec<u64> {
    let mut x = u64::from_le_bytes(id[..8].try_into().unwrap());
    let mut y = u64::from_le_bytes(id[8..].try_into().unwrap());
    (0..u64::from(k))
        .map(|i| {
            let p = u64::try_from((u128::from(x) * u128::from(m)) >> 64).unwrap();
            x = x.wrapping_add(y);
            y = y.wrapping_add(i);
            p
        })
        .collect()
}

#[derive(Clone, Debug)]
pub(crate) struct Filter {
    pub(crate) k: u32,
    pub(crate) limit: u64,
    pub(crate) words: Vec<u64>,
}

impl Filter {
    pub(crate) fn set_bits(&self) -> u64 {
        self.words.iter().map(|w| u64::from(w.count_ones())).sum()
    }

    pub(crate) fn contains(&self, id: &[u8; 16]) -> bool {
        let m = 64 * self.words.len() as u64;
        positions(id, m, self.k)
            .iter()
            .all(|p| self.words[usize::try_from(p / 64).unwrap()] & (1 << (p % 64)) != 0)
    }
}

pub(crate) struct Model {
    geometry: [Geometry; MAX_FILTERS],
    epochs_per_generation: u64,
    pub(crate) kill_switch: u64,
    pub(crate) subjects: BTreeMap<String, u64>,
    pub(crate) generations: BTreeMap<u64, Vec<Filter>>,
}

impl Model {
    pub(crate) fn new(n: u64, p: f64, epochs_per_generation: u64) -> Self {
        Self {
            geometry: geometry(n, p),
            epochs_per_generation,
            kill_switch: 0,
            subjects: BTreeMap::new(),
            generations: BTreeMap::new(),
        }
    }

    /// §4 "Sealing": allocate filter 0, or the next filter after a sealed one (up to 8); set
    /// the positions in the last filter, with no lookup first.
    pub(crate) fn insert(&mut self, epoch: u64, id: &[u8; 16]) {
        let filters = self
            .generations
            .entry(epoch / self.epochs_per_generation)
            .or_default();
        let sealed = filters.last().is_none_or(|f| f.set_bits() >= f.limit);
        if sealed && filters.len() < MAX_FILTERS {
            let (k, words, limit) = self.geometry[filters.len()];
            filters.push(Filter {
                k,
                limit,
                words: vec![0; usize::try_from(words).unwrap()],
            });
        }
        let last = filters.last_mut().unwrap();
        let m = 64 * last.words.len() as u64;
        for p in positions(id, m, last.k) {
            last.words[usize::try_from(p / 64).unwrap()] |= 1 << (p % 64);
        }
    }

    pub(crate) fn cut_off(&mut self, subject: &str, cutoff: u64) {
        let c = self.subjects.entry(subject.to_owned()).or_default();
        *c = (*c).max(cutoff);
    }

    pub(crate) fn kill(&mut self, before: u64) {
        self.kill_switch = self.kill_switch.max(before);
    }

    /// §7 body: minimal varints, counts and lengths as varints, words little-endian.
    pub(crate) fn body(&self) -> Vec<u8> {
        let mut out = varint(self.epochs_per_generation);
        out.extend(varint(self.kill_switch));
        out.extend(varint(self.subjects.len() as u64));
        for (subject, cutoff) in &self.subjects {
            out.extend(varint(subject.len() as u64));
            out.extend_from_slice(subject.as_bytes());
            out.extend(varint(*cutoff));
        }
        out.extend(varint(self.generations.len() as u64));
        for (number, filters) in &self.generations {
            out.extend(varint(*number));
            out.extend(varint(filters.len() as u64));
            for f in filters {
                out.push(u8::try_from(f.k).unwrap());
                out.extend(varint(8 * f.words.len() as u64));
                out.extend(f.words.iter().flat_map(|w| w.to_le_bytes()));
            }
        }
        out
    }

    /// `version ‖ key id ‖ body ‖ HMAC-SHA256(K_snap, version ‖ key id ‖ body)`.
    pub(crate) fn snapshot(&self, key_id: u8, secret: &[u8; 32]) -> Vec<u8> {
        seal(key_id, secret, &self.body())
    }
}

pub(crate) fn varint(mut v: u64) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let low = u8::try_from(v & 0x7f).unwrap();
        v >>= 7;
        if v == 0 {
            out.push(low);
            return out;
        }
        out.push(low | 0x80);
    }
}

/// `0x01 ‖ key id ‖ body ‖ mac` with the MAC of §7 over an arbitrary body.
pub(crate) fn seal(key_id: u8, secret: &[u8; 32], body: &[u8]) -> Vec<u8> {
    struct Len;
    impl hkdf::KeyType for Len {
        fn len(&self) -> usize {
            32
        }
    }
    let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, b"sealed-session/v1").extract(secret);
    let mut k_snap = [0u8; 32];
    prk.expand(&[b"sealed-session/v1 snapshot"], Len)
        .unwrap()
        .fill(&mut k_snap)
        .unwrap();
    let mut out = vec![1, key_id];
    out.extend_from_slice(body);
    let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, &k_snap), &out);
    out.extend_from_slice(tag.as_ref());
    out
}
