//! The bank's customers: Argon2id password hashes made at start, balances in memory.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::sync::{Mutex, PoisonError};

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use subtle::ConstantTimeEq;

/// The demo accounts: user name, password, opening balance. Alice is the literature's victim,
/// Mallory the attacker with an account of his own.
pub const DEMO_USERS: [(&str, &str, u64); 2] = [
    ("alice", "alice-demo-password", 1_000),
    ("mallory", "mallory-demo-password", 10),
];

/// Why a transfer was refused (shown to the user: these never depend on a secret).
#[derive(Debug, PartialEq, Eq)]
pub enum TransferError {
    /// The recipient is not a customer, or is the sender.
    BadRecipient,
    /// Zero, not a whole number, or more than the balance.
    BadAmount,
}

impl std::fmt::Display for TransferError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::BadRecipient => "choose another customer as the recipient",
            Self::BadAmount => "the amount must be a whole number between 1 and your balance",
        })
    }
}

struct Customer {
    /// PHC string (`$argon2id$v=19$m=19456,t=2,p=1$…`).
    password_hash: String,
    balance: u64,
}

/// Customers and their balances.
pub struct Accounts {
    customers: Mutex<BTreeMap<&'static str, Customer>>,
    /// Verified against when the user name is unknown, so both failures take as long.
    decoy_hash: String,
}

impl Accounts {
    /// Hashes the demo passwords with Argon2id (OWASP parameters: 19 MiB, 2 passes) and fresh
    /// random salts.
    ///
    /// # Errors
    /// Hashing failed.
    pub fn demo() -> Result<Self, String> {
        let mut customers = BTreeMap::new();
        for (name, password, balance) in DEMO_USERS {
            let password_hash = hash(password)?;
            customers.insert(
                name,
                Customer {
                    password_hash,
                    balance,
                },
            );
        }
        Ok(Self {
            customers: Mutex::new(customers),
            decoy_hash: hash("decoy: no account has this password")?,
        })
    }

    /// Checks a password; returns the canonical user name when it matches. Runs Argon2
    /// (tens of milliseconds): call it off the async workers.
    pub fn check(&self, user: &str, password: &str) -> Option<&'static str> {
        let (name, phc) = match self.lock().get_key_value(user) {
            Some((name, c)) => (Some(*name), c.password_hash.clone()),
            None => (None, self.decoy_hash.clone()),
        };
        let matches = verify(&phc, password.as_bytes()).unwrap_or(false);
        name.filter(|_| matches)
    }

    /// The balance of `user`, if a customer.
    pub fn balance(&self, user: &str) -> Option<u64> {
        self.lock().get(user).map(|c| c.balance)
    }

    /// Every customer but `user`.
    pub fn others(&self, user: &str) -> Vec<&'static str> {
        self.lock().keys().copied().filter(|n| *n != user).collect()
    }

    /// Moves `amount` (decimal text, whole units) from `from` to `to`; returns the sender's
    /// new balance.
    ///
    /// # Errors
    /// Unknown or identical recipient, or an amount that is not in `1..=balance`.
    pub fn transfer(&self, from: &str, to: &str, amount: &str) -> Result<u64, TransferError> {
        let amount: u64 = amount.trim().parse().map_err(|_| TransferError::BadAmount)?;
        let mut customers = self.lock();
        if from == to || !customers.contains_key(to) {
            return Err(TransferError::BadRecipient);
        }
        let sender = customers.get_mut(from).ok_or(TransferError::BadRecipient)?;
        if amount == 0 || amount > sender.balance {
            return Err(TransferError::BadAmount);
        }
        sender.balance -= amount;
        let left = sender.balance;
        if let Some(recipient) = customers.get_mut(to) {
            recipient.balance = recipient.balance.saturating_add(amount);
        }
        Ok(left)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<&'static str, Customer>> {
        // Balances are updated in one step under the lock: a panic cannot leave half a transfer.
        self.customers.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

thread_local! {
    /// Argon2's 19 MiB working memory, one per hashing thread, reused: allocating it per
    /// check made each thread's malloc arena keep several copies.
    static BLOCKS: RefCell<Vec<Block>> = const { RefCell::new(Vec::new()) };
}

/// Recomputes the Argon2id output of `phc` for `password` and compares it in constant time.
fn verify(phc: &str, password: &[u8]) -> Option<bool> {
    let parsed = PasswordHash::new(phc).ok()?;
    if parsed.algorithm != Algorithm::Argon2id.ident() {
        return None;
    }
    let (salt, expected) = (parsed.salt?, parsed.hash?);
    let params = Params::try_from(&parsed).ok()?;
    let mut salt_buf = [0u8; 64];
    let salt = salt.decode_b64(&mut salt_buf).ok()?;
    let mut out_buf = [0u8; 64];
    let out = out_buf.get_mut(..expected.len())?;
    let blocks = params.block_count();
    let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
    BLOCKS.with_borrow_mut(|memory| {
        memory.resize(blocks, Block::default());
        argon2
            .hash_password_into_with_memory(password, salt, out, memory.as_mut_slice())
            .ok()
    })?;
    Some(out.ct_eq(expected.as_bytes()).into())
}

fn hash(password: &str) -> Result<String, String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| format!("argon2: {e}"))
}
