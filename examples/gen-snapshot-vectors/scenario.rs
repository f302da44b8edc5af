//! A list of revocations applied in order to the crate's set and to the spec model, which must
//! agree byte for byte.

use sealed_session::revocation::{FilterConfig, MemoryStore, Revocation, RevocationStore};
use sealed_session::token::Epoch;
use sealed_session::UnixTime;
use serde_json::{json, Value};

use crate::model::Model;
use crate::{hex, ring_with_primary, SECRETS};

pub(crate) enum Rev {
    Id(u64, [u8; 16]),
    Subject(&'static str, u64),
    Kill(u64),
}

impl Rev {
    fn json(&self) -> Value {
        match self {
            Self::Id(epoch, id) => json!({"type": "id", "epoch": epoch, "id": hex(id)}),
            Self::Subject(s, t) => json!({"type": "subject", "subject": s, "cutoff": t}),
            Self::Kill(t) => json!({"type": "kill_switch", "before": t}),
        }
    }

    fn revocation(&self) -> Revocation {
        match self {
            Self::Id(epoch, id) => Revocation::Id {
                epoch: Epoch(*epoch),
                id: *id,
            },
            Self::Subject(s, t) => Revocation::Subject {
                subject: (*s).to_owned(),
                cutoff: UnixTime(*t),
            },
            Self::Kill(t) => Revocation::KillSwitch { before: UnixTime(*t) },
        }
    }
}

/// The crate's store and the model, fed the same revocations.
pub(crate) struct Scenario {
    pub(crate) capacity: u64,
    pub(crate) rate: f64,
    pub(crate) store: MemoryStore,
    pub(crate) model: Model,
    pub(crate) applied: Vec<Rev>,
}

impl Scenario {
    pub(crate) fn new(capacity: u64, rate: f64) -> Self {
        let config = FilterConfig::default()
            .with_capacity(usize::try_from(capacity).unwrap())
            .with_false_positive_rate(rate);
        Self {
            capacity,
            rate,
            store: MemoryStore::new(config).unwrap(),
            model: Model::new(capacity, rate, 1),
            applied: Vec::new(),
        }
    }

    pub(crate) fn apply(&mut self, r: Rev) {
        self.store.revoke(r.revocation()).unwrap();
        match &r {
            Rev::Id(epoch, id) => self.model.insert(*epoch, id),
            Rev::Subject(s, t) => self.model.cut_off(s, *t),
            Rev::Kill(t) => self.model.kill(*t),
        }
        self.applied.push(r);
    }

    /// Filters the model's generation of `epoch` has.
    pub(crate) fn filters(&self, epoch: u64) -> usize {
        self.model.generations.get(&epoch).map_or(0, Vec::len)
    }

    /// The snapshot under key `key_id` as primary; the crate's bytes equal the model's.
    pub(crate) fn snapshot(&self, key_id: u8) -> Vec<u8> {
        let bytes = self
            .store
            .set()
            .snapshot()
            .to_bytes(&ring_with_primary(key_id))
            .unwrap();
        let secret = SECRETS.iter().find(|s| s.0 == key_id).unwrap().2;
        assert_eq!(
            bytes,
            self.model.snapshot(key_id, &secret),
            "crate and spec model differ"
        );
        bytes
    }

    pub(crate) fn config_json(&self) -> Value {
        json!({"capacity": self.capacity, "false_positive_rate": self.rate, "epochs_per_generation": 1})
    }

    pub(crate) fn revocations_json(&self) -> Vec<Value> {
        self.applied.iter().map(Rev::json).collect()
    }

    /// Each generation's filters as the model holds them: shape, set bits, sealed or not.
    pub(crate) fn filters_json(&self) -> Vec<Value> {
        self.model
            .generations
            .iter()
            .map(|(number, filters)| {
                let filters: Vec<Value> = filters
                    .iter()
                    .map(|f| {
                        json!({"k": f.k, "words": f.words.len(), "limit": f.limit,
                               "set_bits": f.set_bits(), "sealed": f.set_bits() >= f.limit})
                    })
                    .collect();
                json!({"generation": number, "filters": filters})
            })
            .collect()
    }
}
