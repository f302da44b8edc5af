//! The revocation set written from spec/revocation.md alone (§3 blocks and hashing, §4 sizing table and the
//! insert rule, §7 snapshot bytes), with none of the crate's code. The generator checks the
//! crate against it; `tests/snapshot_model.rs` rebuilds every vector with it.
#![allow(dead_code, clippy::unwrap_used, clippy::indexing_slicing)]

use std::collections::BTreeMap;

use ring::{hkdf, hmac};

pub(crate) const MAX_FILTERS: usize = 8;

/// `(k, words, limit)` of one filter.
pub(crate) type Geometry = (u32, u64, u64);

/// The sizing table of §4: `(t, h, c16, phi)` for rows t = 6 to 49.
#[rustfmt::skip]
pub(crate) const ROWS: [(u32, u32, u64, u64); 44] = [
    (6, 3, 140, 32479), (7, 3, 164, 28997), (8, 4, 187, 32416), (9, 4, 211, 29743),
    (10, 5, 235, 32274), (11, 5, 260, 30033), (12, 6, 284, 32093), (13, 6, 310, 30151),
    (14, 7, 335, 31824), (15, 7, 361, 30170), (16, 7, 388, 28619), (17, 8, 414, 30074),
    (18, 8, 442, 28667), (19, 9, 469, 29901), (20, 9, 498, 28614), (21, 10, 527, 29637),
    (22, 10, 557, 28454), (23, 10, 588, 27324), (24, 11, 618, 28252), (25, 11, 650, 27202),
    (26, 11, 683, 26196), (27, 12, 716, 26983), (28, 12, 750, 26045), (29, 13, 785, 26720),
    (30, 13, 821, 25818), (31, 13, 859, 24928), (32, 14, 896, 25535), (33, 14, 935, 24702),
    (34, 14, 975, 23902), (35, 15, 1016, 24413), (36, 15, 1058, 23645), (37, 15, 1102, 22890),
    (38, 16, 1146, 23340), (39, 16, 1192, 22617), (40, 16, 1240, 21908), (41, 17, 1288, 22295),
    (42, 17, 1338, 21618), (43, 17, 1389, 20968), (44, 18, 1442, 21292), (45, 18, 1497, 20648),
    (46, 18, 1553, 20032), (47, 18, 1611, 19430), (48, 19, 1670, 19709), (49, 19, 1732, 19119),
];

/// j: the smallest j with p · 2^j ≥ 4, by exact doubling.
pub(crate) fn target_exponent(p: f64) -> u32 {
    let (mut scaled, mut j) = (p, 0);
    while scaled < 4.0 {
        scaled *= 2.0;
        j += 1;
    }
    j
}

/// The keys filter `i` of capacity `n` is sized for: `n·2^i + 2·⌈√(n·2^i)⌉`.
pub(crate) fn keys(n: u64, i: usize) -> u128 {
    let n_i = u128::from(n) << i;
    let floor = n_i.isqrt();
    let ceil = if floor * floor == n_i { floor } else { floor + 1 };
    n_i + 2 * ceil
}

/// The eight filters of a generation of capacity `n` at target `p`.
pub(crate) fn geometry(n: u64, p: f64) -> [Geometry; MAX_FILTERS] {
    let j = target_exponent(p);
    core::array::from_fn(|i| {
        let t = j + u32::try_from(i).unwrap();
        let &(_, h, c16, phi) = ROWS.iter().find(|r| r.0 == t).unwrap();
        let blocks = (u128::from(c16) * keys(n, i)).div_ceil(8192).max(1);
        let limit = u64::try_from(blocks * u128::from(phi) / 128).unwrap();
        (2 * h, u64::try_from(8 * blocks).unwrap(), limit)
    })
}

/// §3: the two blocks of `id` among `blocks`, each with the word masks of its `k/2` bits.
pub(crate) fn probes(id: &[u8; 16], blocks: u64, k: u32) -> [(usize, [u64; 8]); 2] {
    let h1 = u64::from_le_bytes(id[..8].try_into().unwrap());
    let h2 = u64::from_le_bytes(id[8..].try_into().unwrap());
    let block = |x: u64| usize::try_from((u128::from(x) * u128::from(blocks)) >> 64).unwrap();
    let masks = |seed: u64| {
        let mut out = [0u64; 8];
        let mut s = seed;
        for _ in 0..k / 2 {
            s = s.wrapping_mul(0x9e37_79b9_7f4a_7c15);
            let position = s >> 55; // 0..512 within the block
            out[usize::try_from(position / 64).unwrap()] |= 1 << (position % 64);
        }
        out
    };
    [(block(h1), masks(h2)), (block(h2), masks(h1))]
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
        let blocks = self.words.len() as u64 / 8;
        probes(id, blocks, self.k)
            .iter()
            .all(|(block, masks)| (0..8).all(|w| self.words[8 * block + w] & masks[w] == masks[w]))
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
        let blocks = last.words.len() as u64 / 8;
        for (block, masks) in probes(id, blocks, last.k) {
            for (w, mask) in masks.iter().enumerate() {
                last.words[8 * block + w] |= mask;
            }
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

/// `0x02 ‖ key id ‖ body ‖ mac` with the MAC of §7 over an arbitrary body.
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
    let mut out = vec![2, key_id];
    out.extend_from_slice(body);
    let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, &k_snap), &out);
    out.extend_from_slice(tag.as_ref());
    out
}
