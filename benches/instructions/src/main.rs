//! Runs one operation `N` times for `benches/instructions.sh` to count the instructions of under
//! `valgrind --tool=callgrind --toggle-collect=instr_probe::measure`: everything is prepared
//! before [`measure`] runs, so only the operations are counted, and the script subtracts a
//! short run from a long one so first-call costs (lazy statics, first allocations) cancel.
//!
//!   instr-probe <op> <N> [--revoked R] [--capacity C] [--app-data B] [--keys K]
//!   instr-probe --list                     # op name, and "ours" or "peer"
//!   instr-probe memory --revoked R [--capacity C]   # filter bytes and RSS growth, no valgrind
//!
//! Parameters (the cost curve, benches/cost-curve.sh): `R` random revoked ids in the epoch the
//! sessions probe (default 10,000), the filter's capacity per generation (default: the
//! library's), `B` bytes of application data in the session (default 0), `K` keys in the
//! ring, the token sealed with the last (default 1). Our clock is a fixed `ManualClock`; keys
//! and ids come from fixed seeds where the API allows, so two runs count the same.
#![forbid(unsafe_code)]
// A measurement tool: a failed setup is a message and a non-zero exit; an operation that fails
// inside the counted loop panics (the count would measure a refusal path otherwise).
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod ours;
mod peers;
mod request;

use std::process::ExitCode;

/// Any setup failure.
pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// One operation, prepared; `run` performs it once and returns something derived from its
/// result (so nothing is optimised away).
pub(crate) trait Op {
    fn run(&mut self) -> usize;
}

/// Whose operation it is: ours are checked against the baseline, peers' are informative.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Side {
    Ours,
    Peer,
}

/// The shape of the session the operations work on.
#[derive(Clone, Copy)]
pub(crate) struct Params {
    pub revoked: usize,
    pub capacity: Option<usize>,
    pub app_data: usize,
    pub keys: u8,
    /// How many distinct sessions the cold verify cycles through (the run's `N` + 1).
    pub distinct: usize,
}

pub(crate) struct Named {
    pub name: &'static str,
    pub side: Side,
    pub prepare: fn(&Params) -> Result<Box<dyn Op>, BoxError>,
}

const OPS: &[Named] = &[
    ours::TOKEN_MINT,
    ours::TOKEN_OPEN,
    ours::SESSION_AUTHENTICATE,
    ours::SESSION_VERIFY_COLD,
    ours::SESSION_VERIFY_REPEAT,
    ours::LAYER_REQUEST,
    ours::LAYER_REQUEST_NO_COOKIE,
    request::BARE_REQUEST,
    peers::COOKIE_MINT,
    peers::COOKIE_VERIFY,
    peers::JWT_MINT,
    peers::JWT_VERIFY,
    peers::PASETO_MINT,
    peers::PASETO_VERIFY,
    peers::BRANCA_MINT,
    peers::BRANCA_VERIFY,
    request::PRIVATE_COOKIE_REQUEST,
    request::TOWER_SESSIONS_REQUEST,
];

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--list") {
        for op in OPS {
            let side = if op.side == Side::Ours { "ours" } else { "peer" };
            println!("{} {side}", op.name);
        }
        return ExitCode::SUCCESS;
    }
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("instr-probe: {e}");
            ExitCode::FAILURE
        }
    }
}

fn parse_params(flags: &[String]) -> Result<Params, BoxError> {
    let mut p = Params {
        revoked: 10_000,
        capacity: None,
        app_data: 0,
        keys: 1,
        distinct: 1,
    };
    let mut it = flags.iter();
    while let Some(flag) = it.next() {
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--revoked" => p.revoked = value.parse()?,
            "--capacity" => p.capacity = Some(value.parse()?),
            "--app-data" => p.app_data = value.parse()?,
            "--keys" => p.keys = value.parse()?,
            other => return Err(format!("unknown option {other}").into()),
        }
    }
    if p.keys == 0 {
        return Err("--keys must be 1 to 255".into());
    }
    Ok(p)
}

fn run(args: &[String]) -> Result<(), BoxError> {
    let usage =
        "usage: instr-probe <op> <N> [--revoked R] [--capacity C] [--app-data B] [--keys K] (or --list)";
    let name = args.first().ok_or(usage)?;
    if name == "memory" {
        let p = parse_params(args.get(1..).unwrap_or_default())?;
        let (filter_bytes, rss_kib) = ours::memory(&p)?;
        println!("filter_bytes {filter_bytes} rss_kib {rss_kib}");
        return Ok(());
    }
    let op = OPS
        .iter()
        .find(|op| op.name == name.as_str())
        .ok_or_else(|| format!("no op {name}; --list names them"))?;
    let iterations: usize = args.get(1).ok_or(usage)?.parse()?;
    let mut p = parse_params(args.get(2..).unwrap_or_default())?;
    p.distinct = iterations + 1; // the check run below takes the first
    let mut prepared = (op.prepare)(&p)?;
    // Once outside the count: the operation must succeed (run panics or errs otherwise).
    let _ = prepared.run();
    let total = measure(&mut *prepared, iterations);
    eprintln!("{name}: {iterations} runs, checksum {total}");
    Ok(())
}

/// The counted function: `iterations` runs of the prepared operation.
#[inline(never)]
fn measure(op: &mut dyn Op, iterations: usize) -> usize {
    let mut total = 0usize;
    for _ in 0..iterations {
        total = total.wrapping_add(std::hint::black_box(&mut *op).run());
    }
    total
}
