#!/usr/bin/env bash
# Instructions per operation, counted by `valgrind --tool=callgrind` (issue 12, goal 7): the
# same on every run of one build on one machine, whatever else the machine is doing, so a
# regression shows even where timings swing by 1.6x. The probe is benches/instructions/ (its
# own workspace): it prepares an operation, then runs it N times inside `instr_probe::measure`,
# the only function counted (--toggle-collect). Each figure is
#   (count with N_LONG runs - count with N_SHORT runs) / (N_LONG - N_SHORT)
# so first-call costs inside the loop (lazy statics, first allocations) cancel too.
#
#   benches/instructions.sh              every op (ours and the peers'), with ratios
#   benches/instructions.sh --check      ours only, each counted twice (equal, or within
#                                        JITTER_PCT=0.05%: a login formats random numbers), against
#                                        benches/instructions-baseline.txt: fails when one
#                                        costs more than 10% (MAX_REGRESSION_PCT) above it
#   benches/instructions.sh --update     every op; rewrites the baseline
#   benches/instructions.sh --count OP [probe flags]   one figure (used by cost-curve.sh);
#                                        CACHE_SIM=1 adds simulated last-level data misses/op
#                                        (32 KiB L1, 32 MiB 16-way last level);
#                                        SINGLE=1 counts one run of N_LONG (count / N: for a setup
#                                        too slow to run twice under valgrind, e.g. 10M revocations)
# Probe flags: --revoked R --capacity C --app-data B --keys K (see benches/instructions/src/main.rs).
# Env: N_SHORT (default 100), N_LONG (default 1100). Needs valgrind.
#
# The baseline holds counts of one compiler and one set of dependencies (the probe's
# Cargo.lock) on this machine's CPU features: after a toolchain or dependency update, or a
# change that is meant to cost more, regenerate it with --update and commit it.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BASELINE="$ROOT/benches/instructions-baseline.txt"
N_SHORT=${N_SHORT:-100}
N_LONG=${N_LONG:-1100}
MAX_REGRESSION_PCT=${MAX_REGRESSION_PCT:-10}
JITTER_PCT=${JITTER_PCT:-0.05} # largest difference --check accepts between two counts of one op
export CARGO_TERM_COLOR=never

mode=all
case "${1:-}" in
    --check) mode=check ;;
    --update) mode=update ;;
    --count) mode=count; shift; [ $# -ge 1 ] || { echo "--count needs an op" >&2; exit 2; } ;;
    "") ;;
    *) echo "usage: $0 [--check | --update | --count OP [probe flags]]" >&2; exit 2 ;;
esac

command -v valgrind >/dev/null || { echo "valgrind is required (apt-get install -y valgrind)" >&2; exit 1; }
# Not --locked: the probe depends on the crate by path, so a dependency the crate gains must be
# able to enter the probe's lock (existing entries keep their versions).
(cd benches/instructions && cargo build --quiet --release) >&2
PROBE="$ROOT/benches/instructions/target/release/instr-probe"
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT

# raw OP N [flags]: "Ir [DLmr+DLmw]" of one run, counted inside instr_probe::measure only.
raw() {
    local op=$1 n=$2; shift 2
    local file="$OUT/$op.$n.$RANDOM"
    local sim=()
    # Fixed cache geometry, not the host's (a VM may report a 256 MiB last level): a 32 KiB
    # 8-way L1 and a 32 MiB 16-way last level, a server's L3.
    [ "${CACHE_SIM:-0}" = 1 ] && sim=(--cache-sim=yes --I1=32768,8,64 --D1=32768,8,64 --LL=33554432,16,64)
    valgrind --tool=callgrind "${sim[@]}" --callgrind-out-file="$file" \
        --toggle-collect='instr_probe::measure' "$PROBE" "$op" "$n" "$@" >"$file.log" 2>&1 || {
        cat "$file.log" >&2
        echo "instr-probe $op $n $* failed" >&2
        return 1
    }
    awk '/^events:/ { for (i = 2; i <= NF; i++) ev[i - 1] = $i }
         /^summary:/ { for (i = 2; i <= NF; i++) v[ev[i - 1]] = $i }
         END { if (!("Ir" in v)) exit 1; printf "%s %s\n", v["Ir"], v["DLmr"] + v["DLmw"] }' "$file"
}

# per_op OP [flags]: "instructions-per-op [LL-data-misses-per-op]" (rounded to integers).
per_op() {
    local op=$1; shift
    local short long
    if [ "${SINGLE:-0}" = 1 ]; then # one run: count / N (the probe's warm-up call is uncounted)
        long=$(raw "$op" "$N_LONG" "$@")
        awk -v l="$long" -v n="$N_LONG" -v sim="${CACHE_SIM:-0}" 'BEGIN { split(l, b, " ")
            if (sim == 1) printf "%.0f %.2f\n", b[1] / n, b[2] / n; else printf "%.0f\n", b[1] / n }'
        return
    fi
    short=$(raw "$op" "$N_SHORT" "$@")
    long=$(raw "$op" "$N_LONG" "$@")
    awk -v s="$short" -v l="$long" -v d="$((N_LONG - N_SHORT))" -v sim="${CACHE_SIM:-0}" 'BEGIN {
        split(s, a, " "); split(l, b, " ")
        if (b[1] - a[1] <= 0) { print "nothing counted: is instr_probe::measure still a function of its own?" > "/dev/stderr"; exit 1 }
        if (sim == 1) printf "%.0f %.2f\n", (b[1] - a[1]) / d, (b[2] - a[2]) / d
        else printf "%.0f\n", (b[1] - a[1]) / d }'
}

if [ "$mode" = count ]; then
    per_op "$@"
    exit 0
fi

declare -A COUNT SIDE
OPS=()
while read -r op side; do
    [ "$mode" = check ] && [ "$side" != ours ] && continue
    OPS+=("$op"); SIDE[$op]=$side
done < <("$PROBE" --list)

failed=0
printf '%-36s %-5s %14s\n' op side "instr/op"
for op in "${OPS[@]}"; do
    COUNT[$op]=$(per_op "$op")
    if [ "$mode" = check ]; then
        again=$(per_op "$op")
        if [ "$again" != "${COUNT[$op]}" ]; then
            # A login formats numbers drawn at random (fewer digits, fewer instructions): a
            # few instructions in 20,000 either way. Anything more is a real nondeterminism.
            if awk -v a="${COUNT[$op]}" -v b="$again" -v t="$JITTER_PCT" 'BEGIN { d = (a - b) / a * 100; exit !(d <= t && d >= -t) }'; then
                echo "$op: ${COUNT[$op]} then $again (within ${JITTER_PCT}%: data-dependent work on random values)" >&2
            else
                echo "$op: NOT DETERMINISTIC (${COUNT[$op]} then $again)" >&2
                failed=1
            fi
        fi
    fi
    printf '%-36s %-5s %14s\n' "$op" "${SIDE[$op]}" "${COUNT[$op]}"
done

ratio() { # ratio A B: B / A, as "x.xx" (how many times A's cost B is)
    awk -v a="${COUNT[$1]:-0}" -v b="${COUNT[$2]:-0}" 'BEGIN { if (a > 0 && b > 0) printf "%.2fx", b / a; else printf "n/a" }'
}
if [ "$mode" != check ]; then
    echo
    echo "peers' cost as a multiple of ours (same claims; higher = ours cheaper):"
    for p in cookie_private_jar jsonwebtoken_hs256 pasetors_v4_local branca; do
        printf '  %-28s verify %8s (vs token_open)   mint %8s (vs token_mint)\n' "$p" \
            "$(ratio token_open "${p}_verify")" "$(ratio token_mint "${p}_mint")"
    done
    awk -v bare="${COUNT[bare_request]}" -v ours="${COUNT[layer_request]}" \
        -v pc="${COUNT[axum_extra_private_cookie_request]}" -v ts="${COUNT[tower_sessions_memory_request]}" 'BEGIN {
        printf "  in-process request over bare (%d): layer +%d (x%.3f), axum-extra private cookie +%d (x%.3f), tower-sessions memory +%d (x%.3f)\n",
            bare, ours - bare, ours / bare, pc - bare, pc / bare, ts - bare, ts / bare
        printf "  per-request session cost, peer / ours: axum-extra private cookie %.2fx, tower-sessions memory %.2fx\n",
            (pc - bare) / (ours - bare), (ts - bare) / (ours - bare) }'
fi

if [ "$mode" = update ]; then
    {
        echo "# Instructions per operation (benches/instructions.sh --update; --check compares ours)."
        echo "# $(rustc --version); valgrind $(valgrind --version | sed 's/valgrind-//'); N $N_SHORT..$N_LONG"
        for op in "${OPS[@]}"; do echo "$op ${SIDE[$op]} ${COUNT[$op]}"; done
    } >"$BASELINE"
    echo "baseline written: $BASELINE"
fi

if [ "$mode" = check ]; then
    [ -f "$BASELINE" ] || { echo "no baseline ($BASELINE): run --update" >&2; exit 1; }
    echo
    printf '%-36s %14s %14s %9s  %s\n' op baseline now change verdict
    for op in "${OPS[@]}"; do
        base=$(awk -v o="$op" '$1 == o && $2 == "ours" { print $3 }' "$BASELINE")
        if [ -z "$base" ]; then
            printf '%-36s %14s %14s %9s  %s\n' "$op" - "${COUNT[$op]}" - "new (not in the baseline)"
            continue
        fi
        verdict=$(awk -v b="$base" -v n="${COUNT[$op]}" -v m="$MAX_REGRESSION_PCT" 'BEGIN {
            pct = (n / b - 1) * 100
            printf "%+.1f%% %s", pct, (pct > m) ? "REGRESSED" : "ok" }')
        printf '%-36s %14s %14s %9s  %s\n' "$op" "$base" "${COUNT[$op]}" ${verdict}
        [[ $verdict == *REGRESSED ]] && failed=1
    done
    while read -r op side _; do
        [ "$side" = ours ] || continue
        [ -n "${SIDE[$op]:-}" ] || echo "note: baseline op $op is no longer in the probe" >&2
    done < <(grep -v '^#' "$BASELINE")
    if [ "$failed" -ne 0 ]; then
        echo "instructions: FAILED (an op of ours costs more than ${MAX_REGRESSION_PCT}% above the baseline, or counts differ between runs)" >&2
        exit 1
    fi
    echo "instructions: every op of ours within ${MAX_REGRESSION_PCT}% of the baseline, each counted twice alike"
fi
