#!/usr/bin/env bash
# Constant-time check (issue 11 item 4): every comparison of secret-derived bytes is run through
# its whole rejection path with the value differing in its FIRST and then in its LAST byte, and
# the instructions executed are counted with `valgrind --tool=callgrind` (collection toggled on
# only inside the counted function, so process start-up is not counted). Each count is taken
# twice to show it is deterministic. Fails if the four counts of a case are not all equal:
# a compare that stops early executes more instructions when the difference is last.
#
#   ct/check.sh [iterations]      (default 64 rejections per run)
#
# The probe is ct/src/main.rs (its own workspace, release profile). Needs valgrind.
set -euo pipefail
cd "$(dirname "$0")"
iterations="${1:-64}"
export CARGO_TERM_COLOR=never

if ! command -v valgrind >/dev/null 2>&1; then
    echo "ct: valgrind is required (apt-get install -y valgrind)" >&2
    exit 1
fi

cargo build --quiet --release
probe="$PWD/target/release/ct-probe"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT

count() { # case position run counted-function
    local file="$out/$1-$2-$3"
    valgrind --tool=callgrind --callgrind-out-file="$file" --toggle-collect="$4" \
        "$probe" "$1" "$2" "$iterations" >"$file.log" 2>&1 || {
        cat "$file.log" >&2
        return 1
    }
    sed -n 's/^summary: *\([0-9]*\).*/\1/p' "$file"
}

failed=0
printf '%-16s %-48s %12s %12s %12s %12s  %s\n' case counted first first-again last last-again verdict
while read -r name counted; do
    a="$(count "$name" first 1 "$counted")"
    b="$(count "$name" first 2 "$counted")"
    c="$(count "$name" last 1 "$counted")"
    d="$(count "$name" last 2 "$counted")"
    verdict="equal"
    if [ -z "$a" ] || [ "$a" -eq 0 ]; then
        verdict="NOTHING COUNTED (is $counted still a function of its own?)"
        failed=1
    elif [ "$a" != "$b" ] || [ "$c" != "$d" ]; then
        verdict="NOT DETERMINISTIC"
        failed=1
    elif [ "$a" != "$c" ]; then
        verdict="DIFFERS: the comparison depends on where the bytes differ"
        failed=1
    fi
    printf '%-16s %-48s %12s %12s %12s %12s  %s\n' "$name" "$counted" "$a" "$b" "$c" "$d" "$verdict"
done < <("$probe" --list)

if [ "$failed" -ne 0 ]; then
    echo "ct: FAILED" >&2
    exit 1
fi
echo "ct: every case counts the same instructions for a first-byte and a last-byte mismatch"
