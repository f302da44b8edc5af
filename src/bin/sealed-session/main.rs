//! `sealed-session`: operator tool for key files, and for minting and inspecting tokens in tests.
//!
//! Exit codes: 0 success, 1 token rejected (`inspect`), 2 usage or configuration error.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};
use sealed_session::token::{BindingHash, Claims, Epoch, Flags, Privilege, Sealer, SessionId};
use sealed_session::{
    Clock, ConfigError, KeyId, KeyRing, KeySchedule, KeyState, Reason, SessionKey, SystemClock, UnixTime,
};
use zeroize::Zeroizing;

/// `println!` that never panics: a closed stdout (`sealed-session status | head`) is not an
/// error worth a panic, and the exit code already tells whether the command succeeded.
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

mod operate;
mod render;

/// Key files, and minting and inspecting sealed session tokens.
#[derive(Parser)]
#[command(name = "sealed-session", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create a new key file (mode 0600) with one primary key; never overwrites.
    Keygen {
        /// Path of the key file to create.
        #[arg(long)]
        out: PathBuf,
        /// Id of the new key.
        #[arg(long, default_value_t = 1)]
        id: u8,
    },
    /// Add, promote, retire or list the keys of a key file.
    Keys {
        /// The key file (rewritten atomically, mode 0600).
        #[arg(long)]
        file: PathBuf,
        /// Current time in Unix seconds, for scheduling [default: the system clock].
        #[arg(long)]
        now: Option<u64>,
        #[command(subcommand)]
        action: KeysAction,
    },
    /// Open a token and print its claims as JSON, or `rejected: <reason>` (exit 1).
    Inspect {
        #[command(flatten)]
        sealer: SealerArgs,
        /// Clock leeway in seconds (at most 60).
        #[arg(long, default_value_t = 0)]
        leeway: u64,
        /// The token, or `-` to read it from stdin (keeps it out of the process list).
        token: String,
    },
    /// Mint a token under the primary key and print it (for testing).
    Mint {
        #[command(flatten)]
        sealer: SealerArgs,
        /// Subject (user id), 1 to 64 bytes.
        #[arg(long)]
        subject: Option<String>,
        /// Privilege level [default: authenticated with a subject, else anonymous].
        #[arg(long, value_enum)]
        privilege: Option<Level>,
        /// Seconds until the token expires.
        #[arg(long, default_value_t = 1800)]
        ttl: u32,
        /// Seconds until the session's absolute deadline.
        #[arg(long, default_value_t = 86_400)]
        lifetime: u32,
    },
    /// Revoke into a running deployment (its data directory or Redis feed): every node
    /// enforces it within the feed's bound.
    Revoke {
        #[command(flatten)]
        target: operate::Target,
        #[command(flatten)]
        what: operate::What,
        /// With --kill-switch: refuse tokens issued before this Unix time (capped at now).
        #[arg(long, requires = "kill_switch")]
        before: Option<u64>,
        /// With a bare session id: the longest session lifetime in seconds (the id is revoked
        /// in every epoch a session alive now can carry) [default: the default policy's 12 h].
        #[arg(long, default_value_t = 43_200)]
        lifetime: u64,
    },
    /// Show a deployment's revocation state: generations, fill, false-positive estimate,
    /// feed position and lag.
    Status {
        #[command(flatten)]
        target: operate::Target,
    },
}

#[derive(clap::Args)]
struct SealerArgs {
    /// The key file.
    #[arg(long)]
    keys: PathBuf,
    /// Application context string (1 to 255 bytes).
    #[arg(long)]
    context: String,
    /// Current time in Unix seconds [default: the system clock].
    #[arg(long)]
    now: Option<u64>,
}

#[derive(Subcommand)]
enum KeysAction {
    /// Add a new random key (accept-only unless `--state primary`).
    Add {
        /// Id of the new key [default: highest existing id + 1].
        #[arg(long)]
        id: Option<u8>,
        /// State of the new key; `primary` demotes the current primary to accept-only.
        #[arg(long, value_enum, default_value_t = NewState::AcceptOnly)]
        state: NewState,
        /// Make the key primary on every node at once, this long from now (e.g. `2h`): the
        /// key is distributed first, as accept-only.
        #[arg(long, value_parser = parse_duration, conflicts_with = "state")]
        activate_in: Option<u64>,
        /// How long every node needs to receive the key file; an activation sooner than this
        /// is refused.
        #[arg(long, value_parser = parse_duration, default_value = "1h")]
        propagation: u64,
    },
    /// Make a key primary; the previous primary becomes accept-only.
    Promote { id: u8 },
    /// Retire a key: tokens under it stop opening (now, or at a scheduled time).
    Retire {
        id: u8,
        /// Retire at this Unix time instead of now.
        #[arg(long, conflicts_with = "retire_in")]
        at: Option<u64>,
        /// Retire this long from now (e.g. `25h`) instead of now.
        #[arg(long, value_parser = parse_duration)]
        retire_in: Option<u64>,
    },
    /// Undo a retirement: the key opens tokens again, as accept-only.
    Reinstate { id: u8 },
    /// List key ids and states (never secrets).
    List,
}

#[derive(Clone, Copy, ValueEnum)]
enum NewState {
    AcceptOnly,
    Primary,
}

#[derive(Clone, Copy, ValueEnum)]
enum Level {
    Anonymous,
    Authenticated,
    Elevated,
}

#[derive(Debug, thiserror::Error)]
enum CliError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("{0}")]
    Usage(&'static str),
    #[error("{} already exists; keygen never overwrites a key file", .0.display())]
    Exists(PathBuf),
    #[error("reading the token from stdin: {0}")]
    Stdin(std::io::Error),
    #[error("encoding json: {0}")]
    Json(#[from] serde_json::Error),
    #[error("rejected: {}", .0.code())]
    Rejected(Reason),
    #[error(transparent)]
    Store(#[from] sealed_session::revocation::StoreError),
}

fn main() -> ExitCode {
    match run(Cli::parse().command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e @ CliError::Rejected(_)) => {
            eprintln!("{e}");
            ExitCode::from(1)
        }
        Err(e) => {
            eprintln!("sealed-session: {e}");
            ExitCode::from(2)
        }
    }
}

fn run(command: Command) -> Result<(), CliError> {
    match command {
        Command::Keygen { out, id } => keygen(&out, id),
        Command::Keys { file, now, action } => {
            keys(&file, now.map_or_else(|| SystemClock.now(), UnixTime), action)
        }
        Command::Inspect {
            sealer,
            leeway,
            token,
        } => inspect(&sealer, leeway, &token),
        Command::Mint {
            sealer,
            subject,
            privilege,
            ttl,
            lifetime,
        } => mint(&sealer, subject, privilege, ttl, lifetime),
        Command::Revoke {
            target,
            what,
            before,
            lifetime,
        } => operate::revoke(&target, &what, before, lifetime),
        Command::Status { target } => operate::status(&target),
    }
}

fn keygen(out: &Path, id: u8) -> Result<(), CliError> {
    let ring = KeyRing::empty().with_key(KeyId(id), KeyState::Primary, SessionKey::generate()?)?;
    match ring.write_new_file(out) {
        Err(ConfigError::Io { source, .. }) if source.kind() == std::io::ErrorKind::AlreadyExists => {
            return Err(CliError::Exists(out.to_path_buf()));
        }
        other => other?,
    }
    outln!("created {} with primary key id {id}", out.display());
    Ok(())
}

fn keys(file: &Path, now: UnixTime, action: KeysAction) -> Result<(), CliError> {
    let mut ring = KeyRing::from_file(file)?;
    let message = match action {
        KeysAction::List => {
            for ((id, state), (_, in_force)) in ring.states().into_iter().zip(ring.states_at(now)) {
                outln!(
                    "{}",
                    render::key_line(id.0, state.as_str(), in_force.as_str(), ring.schedule(id))
                );
            }
            return Ok(());
        }
        KeysAction::Add {
            id,
            state,
            activate_in,
            propagation,
        } => {
            let id = match id {
                Some(id) => id,
                None => next_id(&ring)?,
            };
            ring.insert(KeyId(id), KeyState::AcceptOnly, SessionKey::generate()?)?;
            if let Some(delay) = activate_in {
                if delay < propagation {
                    return Err(CliError::Usage(
                        "the activation is sooner than the propagation delay: every node must have the key \
                         file before the key mints (raise --activate-in, or lower --propagation if nodes \
                         reload faster)",
                    ));
                }
                let at = now.saturating_add(std::time::Duration::from_secs(delay));
                ring.set_schedule(
                    KeyId(id),
                    KeySchedule {
                        activate_at: Some(at),
                        retire_at: None,
                    },
                )?;
                format!(
                    "added key id {id}, primary from {} (Unix {})",
                    render::time(at.0),
                    at.0
                )
            } else {
                if matches!(state, NewState::Primary) {
                    ring.promote(KeyId(id))?;
                }
                format!("added key id {id}")
            }
        }
        KeysAction::Promote { id } => {
            ring.promote(KeyId(id))?;
            format!("promoted key id {id}")
        }
        KeysAction::Retire { id, at, retire_in } => {
            let when = at
                .map(UnixTime)
                .or(retire_in.map(|d| now.saturating_add(std::time::Duration::from_secs(d))));
            match when {
                None => {
                    ring.retire(KeyId(id))?;
                    format!("retired key id {id}")
                }
                Some(at) => {
                    let mut schedule = ring.schedule(KeyId(id));
                    schedule.retire_at = Some(at);
                    ring.set_schedule(KeyId(id), schedule)?;
                    // Minting must not stop: some other key must be primary at that time.
                    if ring.primary_id_at(at).is_none() {
                        return Err(CliError::Usage(
                            "no other key would be primary once this one retires: add a key with --activate-in first",
                        ));
                    }
                    format!("key id {id} retires at {} (Unix {})", render::time(at.0), at.0)
                }
            }
        }
        KeysAction::Reinstate { id } => {
            ring.reinstate(KeyId(id))?;
            format!("reinstated key id {id} as accept-only")
        }
    };
    ring.replace_file(file)?;
    outln!("{message}");
    Ok(())
}

/// `90`, `90s`, `30m`, `2h` or `7d`, in seconds.
fn parse_duration(text: &str) -> Result<u64, String> {
    let (digits, unit) = match text.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((i, _)) => text.split_at(i),
        None => (text, "s"),
    };
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("not a duration: {text:?} (e.g. 90s, 30m, 2h, 7d)"))?;
    let scale = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(format!("unknown unit in {text:?}: use s, m, h or d")),
    };
    n.checked_mul(scale)
        .ok_or_else(|| format!("duration too long: {text:?}"))
}

fn next_id(ring: &KeyRing) -> Result<u8, CliError> {
    let max = ring.states().iter().map(|(id, _)| id.0).max();
    match max {
        None => Ok(1),
        Some(m) => m
            .checked_add(1)
            .ok_or(CliError::Usage("key id 255 is taken; pass a free id with --id")),
    }
}

fn sealer(args: &SealerArgs) -> Result<(Sealer, UnixTime), CliError> {
    let sealer = Sealer::new(KeyRing::from_file(&args.keys)?, &args.context)?;
    let now = args.now.map_or_else(|| SystemClock.now(), UnixTime);
    Ok((sealer, now))
}

fn inspect(args: &SealerArgs, leeway: u64, token: &str) -> Result<(), CliError> {
    let (sealer, now) = sealer(args)?;
    let sealer = sealer.with_leeway(Duration::from_secs(leeway))?;
    let token = read_token(token)?;
    let opened = sealer
        .open_at(&token, now)
        .map_err(|r| CliError::Rejected(r.reason()))?;
    let text = serde_json::to_string_pretty(&render::Inspected::new(&opened))?;
    outln!("{text}");
    Ok(())
}

/// The token argument, or for `-` one line of stdin: its terminator (LF or CRLF) is not part
/// of the token. Nothing else is trimmed: text with spaces around the token is not a token
/// (spec/format.md §2, §10).
pub(crate) fn read_token(arg: &str) -> Result<Zeroizing<String>, CliError> {
    if arg != "-" {
        return Ok(Zeroizing::new(arg.to_owned()));
    }
    let mut text = Zeroizing::new(String::new());
    std::io::stdin()
        .read_to_string(&mut text)
        .map_err(CliError::Stdin)?;
    if text.ends_with('\n') {
        text.pop();
        if text.ends_with('\r') {
            text.pop();
        }
    }
    Ok(text)
}

fn mint(
    args: &SealerArgs,
    subject: Option<String>,
    level: Option<Level>,
    ttl: u32,
    lifetime: u32,
) -> Result<(), CliError> {
    let (sealer, now) = sealer(args)?;
    let default_level = if subject.is_some() {
        Level::Authenticated
    } else {
        Level::Anonymous
    };
    let claims = Claims {
        session_id: SessionId::generate()?,
        subject,
        privilege: match level.unwrap_or(default_level) {
            Level::Anonymous => Privilege::Anonymous,
            Level::Authenticated => Privilege::Authenticated,
            Level::Elevated => Privilege::Elevated,
        },
        // The session's revocations must live as long as the session (spec/format.md §8).
        epoch: Epoch::containing(now.saturating_add(Duration::from_secs(lifetime.into()))),
        issued_at: now,
        expires_at: now.saturating_add(Duration::from_secs(ttl.into())),
        session_deadline: now.saturating_add(Duration::from_secs(lifetime.into())),
        authenticated_at: now,
        binding: BindingHash::default(),
        flags: Flags::default(),
        app_data: Vec::new(),
    };
    let token = sealer.mint(&claims)?;
    outln!("{}", token.expose_secret());
    Ok(())
}
