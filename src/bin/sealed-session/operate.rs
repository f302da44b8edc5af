//! `revoke` and `status`: operating on a running deployment's revocations, through its data
//! directory (every process on the machine tails it) or its Redis feed.

use std::path::{Path, PathBuf};
use std::time::Duration;

use sealed_session::revocation::{FileStore, FilterConfig, Revocation, RevocationSet, RevocationStore};
use sealed_session::token::Epoch;
use sealed_session::{Clock, KeyRing, Keys, SystemClock, UnixTime};
use zeroize::Zeroizing;

use crate::{read_token, CliError};

/// Where a deployment's revocations are.
#[derive(clap::Args)]
pub(crate) struct Target {
    /// The nodes' shared data directory.
    #[arg(long, required_unless_present = "redis")]
    data_dir: Option<PathBuf>,
    /// The nodes' Redis URL (feature `redis`).
    #[arg(long, conflicts_with = "data_dir")]
    redis: Option<String>,
    /// The key file the nodes use (records and snapshots are MAC'd under it).
    #[arg(long)]
    keys: PathBuf,
    /// The application context the nodes seal tokens for (names the Redis stream too).
    #[arg(long)]
    context: String,
    /// Filter capacity per generation; must match the nodes'.
    #[arg(long, default_value_t = FilterConfig::default().capacity())]
    capacity: usize,
    /// Filter false-positive target; must match the nodes'.
    #[arg(long, default_value_t = FilterConfig::default().false_positive_rate())]
    false_positive_rate: f64,
}

impl Target {
    fn filter(&self) -> FilterConfig {
        FilterConfig::default()
            .with_capacity(self.capacity)
            .with_false_positive_rate(self.false_positive_rate)
    }

    fn keys(&self) -> Result<Keys, CliError> {
        Ok(Keys::new(KeyRing::from_file(&self.keys)?)?)
    }
}

/// What to revoke.
#[derive(clap::Args)]
#[group(required = true, multiple = false)]
pub(crate) struct What {
    /// Log a subject out everywhere: every session of theirs authenticated until now.
    #[arg(long)]
    subject: Option<String>,
    /// Refuse every token issued before `--before` (default: now).
    #[arg(long)]
    kill_switch: bool,
    /// One session: its token (`-` reads it from stdin), or its session id in hex as
    /// `inspect` prints it.
    #[arg(long)]
    session: Option<String>,
}

/// A cutoff lands on the next whole second, as the manager's do: tokens stamped in the
/// current second are covered (spec/sessions.md, "Cutoffs").
const CUTOFF_RESOLUTION: Duration = Duration::from_secs(1);

pub(crate) fn revoke(
    target: &Target,
    what: &What,
    before: Option<u64>,
    lifetime: u64,
) -> Result<(), CliError> {
    let now = SystemClock.now();
    let latest_cutoff = now.saturating_add(CUTOFF_RESOLUTION);
    let revocations = if let Some(subject) = &what.subject {
        vec![Revocation::Subject {
            subject: subject.clone(),
            cutoff: latest_cutoff,
        }]
    } else if what.kill_switch {
        // A cutoff in the future would refuse tokens not minted yet: capped, as the manager's.
        let before = before.map_or(latest_cutoff, |t| UnixTime(t).min(latest_cutoff));
        vec![Revocation::KillSwitch { before }]
    } else if let Some(session) = &what.session {
        session_revocations(target, session, now, lifetime)?
    } else {
        return Err(CliError::Usage(
            "say what to revoke: --subject, --kill-switch or --session",
        ));
    };
    for r in &revocations {
        r.validate().map_err(CliError::Store)?;
    }
    let keys = target.keys()?;
    match (&target.data_dir, &target.redis) {
        (Some(dir), _) => {
            let store = FileStore::open(dir, &keys, target.filter())?;
            for r in &revocations {
                store.revoke(r.clone())?; // fsync'd before the next line prints
            }
            outln!(
                "revoked in {} ({} record(s), durable)",
                dir.display(),
                revocations.len()
            );
        }
        (None, Some(url)) => publish(url, &target.context, &keys, &revocations)?,
        (None, None) => return Err(CliError::Usage("pass --data-dir or --redis")),
    }
    for r in &revocations {
        outln!("{}", describe(r));
    }
    Ok(())
}

#[cfg(feature = "redis")]
fn publish(url: &str, context: &str, keys: &Keys, revocations: &[Revocation]) -> Result<(), CliError> {
    for r in revocations {
        let id = sealed_session::revocation::redis::publish(url, context, keys, r)?;
        outln!("published as stream entry {id}");
    }
    Ok(())
}

#[cfg(not(feature = "redis"))]
fn publish(_: &str, _: &str, _: &Keys, _: &[Revocation]) -> Result<(), CliError> {
    Err(CliError::Usage(
        "this build has no Redis support: rebuild with --features redis",
    ))
}

/// A token names its session and epoch exactly; a bare session id could be in any epoch a
/// session alive now can carry, so it is revoked in each of them (a handful of filter bits).
fn session_revocations(
    target: &Target,
    session: &str,
    now: UnixTime,
    lifetime: u64,
) -> Result<Vec<Revocation>, CliError> {
    if let Some(id) = parse_hex_id(session) {
        let first = Epoch::containing(now).0;
        let last = Epoch::containing(now.saturating_add(Duration::from_secs(lifetime))).0;
        return Ok((first..=last)
            .map(|e| Revocation::Id { epoch: Epoch(e), id })
            .collect());
    }
    let token: Zeroizing<String> = read_token(session)?;
    let ring = KeyRing::from_file(&target.keys)?;
    let sealer = sealed_session::token::Sealer::new(ring, &target.context)?;
    let opened = sealer
        .open_at(&token, now)
        .map_err(|r| CliError::Rejected(r.reason()))?;
    Ok(vec![Revocation::Id {
        epoch: opened.claims.epoch,
        id: opened.claims.session_id.0,
    }])
}

fn parse_hex_id(text: &str) -> Option<[u8; 16]> {
    let bytes = text.as_bytes();
    if bytes.len() != 32 {
        return None;
    }
    let mut id = [0u8; 16];
    for (out, pair) in id.iter_mut().zip(bytes.chunks_exact(2)) {
        let hex = std::str::from_utf8(pair).ok()?;
        *out = u8::from_str_radix(hex, 16).ok()?;
    }
    Some(id)
}

fn describe(r: &Revocation) -> String {
    match r {
        Revocation::Id { epoch, .. } => format!("session revoked in epoch {}", epoch.0),
        Revocation::Subject { subject, cutoff } => {
            format!(
                "subject {subject:?}: sessions authenticated before Unix {} refused",
                cutoff.0
            )
        }
        Revocation::KillSwitch { before } => {
            format!("kill switch: tokens issued before Unix {} refused", before.0)
        }
    }
}

pub(crate) fn status(target: &Target) -> Result<(), CliError> {
    let keys = target.keys()?;
    match (&target.data_dir, &target.redis) {
        (Some(dir), _) => dir_status(dir, &keys, target.filter()),
        (None, Some(url)) => redis_status(url, &target.context),
        (None, None) => Err(CliError::Usage("pass --data-dir or --redis")),
    }
}

fn dir_status(dir: &Path, keys: &Keys, filter: FilterConfig) -> Result<(), CliError> {
    let store = FileStore::open(dir, keys, filter)?;
    let position = store.position();
    outln!("data directory: {}", dir.display());
    outln!(
        "log: file id {} read to byte {} of {} (lag {} bytes; every process tails it)",
        position.log_id,
        position.offset,
        position.log_len,
        position.lag_bytes()
    );
    let recovery = store.recovery();
    outln!(
        "loaded: snapshot {}, {} log record(s) replayed",
        if recovery.snapshot_loaded { "yes" } else { "none" },
        recovery.records_replayed
    );
    print_set(store.set());
    Ok(())
}

fn print_set(set: &RevocationSet) {
    let config = set.config();
    outln!(
        "filters: capacity {} per generation, false-positive target {:e}",
        config.capacity(),
        config.false_positive_rate()
    );
    let generations = set.generations();
    outln!("generations: {}", generations.len());
    for g in &generations {
        let from = g.number.saturating_mul(u64::from(config.epochs_per_generation()));
        let fill = g.estimated_len as f64 / config.capacity() as f64;
        outln!(
            "  generation {} (epochs from {from}, ends by Unix {}): ~{} ids, fill {:.1}% of capacity, {} filter(s), {} KiB, est. false-positive rate {:.2e}",
            g.number,
            Epoch(from + u64::from(config.epochs_per_generation()).saturating_sub(1)).end().0,
            g.estimated_len,
            fill * 100.0,
            g.filters,
            g.memory_bytes / 1024,
            g.false_positive_estimate
        );
    }
    outln!("subject cutoffs: {}", set.subject_cutoff_count());
    match set.kill_switch() {
        Some(t) => outln!("kill switch: tokens issued before Unix {} refused", t.0),
        None => outln!("kill switch: none"),
    }
    outln!("memory: {} KiB", set.memory_bytes() / 1024);
}

#[cfg(feature = "redis")]
fn redis_status(url: &str, context: &str) -> Result<(), CliError> {
    let status = sealed_session::revocation::redis::feed_status(url, context)?;
    let now = SystemClock.now().0;
    outln!("feed: stream sealed-session:{context}:revocations at {url}");
    outln!(
        "stream: {} entries held, first {}, last {}",
        status.length,
        status.first_id.as_deref().unwrap_or("-"),
        status.last_id.as_deref().unwrap_or("-")
    );
    match &status.incarnation {
        Some(i) => outln!("incarnation: {i}"),
        None => outln!("incarnation: none (no node has connected, or Redis lost its data)"),
    }
    let last_ms = status.last_id.as_deref().and_then(entry_millis);
    outln!("nodes: {}", status.nodes.len());
    for node in &status.nodes {
        // Stream ids start with Redis's clock in milliseconds: the gap between a node's last
        // applied id and the newest is how far behind it is; the report's age says how fresh.
        let behind = match (last_ms, entry_millis(&node.last_id)) {
            (Some(last), Some(at)) => format!("{} ms behind the newest entry", last.saturating_sub(at)),
            _ => "lag unknown".to_owned(),
        };
        outln!(
            "  {}: applied through {} ({behind}), reported {} s ago",
            node.node,
            node.last_id,
            now.saturating_sub(node.at.0)
        );
    }
    outln!("(filters of one node: `sealed-session status --data-dir <that node's data directory>`)");
    Ok(())
}

#[cfg(feature = "redis")]
fn entry_millis(id: &str) -> Option<u64> {
    id.split_once('-')
        .map_or(Some(id), |(ms, _)| Some(ms))?
        .parse()
        .ok()
}

#[cfg(not(feature = "redis"))]
fn redis_status(_: &str, _: &str) -> Result<(), CliError> {
    Err(CliError::Usage(
        "this build has no Redis support: rebuild with --features redis",
    ))
}
