//! Runs one rejection path of a secret-derived comparison `N` times, with the compared value
//! differing from the expected one in its FIRST or in its LAST byte, for `ct/check.sh` to count
//! the instructions of under `valgrind --tool=callgrind`. A compare that stops at the first
//! differing byte executes more instructions when the difference comes last; a constant-time
//! one executes the same number either way.
//!
//!   ct-probe <case> <first|last> [iterations]
//!   ct-probe --list            # case name and the function whose cost is counted
//!
//! Everything is fixed (keys, nonces, proofs, times) and prepared before the counted function
//! runs, so two runs of one case count exactly the same instructions. No system randomness and
//! no clock is read on the counted path.
#![forbid(unsafe_code)]

mod cases;

use std::process::ExitCode;

use cases::{Case, Position, CASES};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--list") {
        for case in CASES {
            println!("{} {}", case.name, case.counted);
        }
        return ExitCode::SUCCESS;
    }
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ct-probe: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &[String]) -> Result<(), String> {
    let usage = "usage: ct-probe <case> <first|last> [iterations] (or --list)";
    let name = args.first().ok_or(usage)?;
    let case = CASES
        .iter()
        .find(|c| c.name == name.as_str())
        .ok_or(format!("no case {name}; --list names them"))?;
    let position = match args.get(1).map(String::as_str) {
        Some("first") => Position::First,
        Some("last") => Position::Last,
        _ => return Err(usage.into()),
    };
    let iterations = match args.get(2) {
        Some(n) => n.parse().map_err(|_| "iterations must be a number")?,
        None => 64,
    };
    // Prepared and counted on a thread of its own: a spawned thread's stack is a fresh
    // mapping, so stack buffers have the same addresses modulo the page in every run. On the
    // main thread they move with the size of the arguments and environment above the stack
    // ("first" is one byte longer than "last"), and glibc's memcpy and memset execute a
    // different number of instructions for different alignments: `token_tag` once counted
    // 768 more for one position than the other with an 8-byte longer environment, the same
    // for both with a 16-byte longer one.
    let prepare = case.prepare;
    let refused = std::thread::Builder::new()
        .name("ct-measure".into())
        .spawn(move || -> Result<usize, String> {
            let prepared = prepare(position)?;
            Ok(measure(&*prepared, iterations))
        })
        .map_err(|e| e.to_string())?
        .join()
        .map_err(|_| "the counting thread panicked")??;
    if refused != iterations {
        return Err(format!(
            "{name}: {refused} of {iterations} refused; every one must be"
        ));
    }
    Ok(())
}

/// The counted function for every case but those that name a narrower one: `iterations`
/// rejections, returning how many were refused (so nothing is optimized away).
#[inline(never)]
fn measure(case: &dyn Case, iterations: usize) -> usize {
    (0..iterations)
        .filter(|_| std::hint::black_box(case).refused())
        .count()
}
