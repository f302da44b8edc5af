#!/usr/bin/env python3
"""Ratios for issue 2, item 9, from criterion's point estimates of `cargo bench --bench tokens`.

Reads target/criterion/<group>/<function>/<baseline>/estimates.json (median point estimates,
ns), prints a table of medians and ratios against sealed_session, checks the targets, and exits
1 when one is missed. The baseline is criterion's latest run ("new") unless names are given.

On a shared machine one run's medians swing with other load. Then run the bench several times
with `cargo bench --bench tokens -- --save-baseline rN` and pass every name: each function's
figure is the least of its medians over the runs (the run least disturbed by other work).

Usage: python3 benches/ratios.py [--dir CRITERION_DIR] [BASELINE ...]
"""
import argparse
import json
import os
import sys

PEERS = ["cookie_private_jar", "jsonwebtoken_hs256", "pasetors_v4_local", "branca"]
FLOOR = ["base64_decode", "xchacha_open", "claims_decode"]
# verify: peer median / sealed_session median must be at least this.
VERIFY_TARGETS = {"cookie_private_jar": 1.5, "jsonwebtoken_hs256": 3.0, "pasetors_v4_local": 7.0}
MINT_TARGET = 1.5  # fastest peer's mint / sealed_session's mint
FLOOR_TARGET = 1.3  # sealed_session verify / sum of floor, at most


def median(root, baselines, group, fn):
    best = None
    for b in baselines:
        with open(os.path.join(root, group, fn, b, "estimates.json")) as f:
            m = json.load(f)["median"]["point_estimate"]
        best = m if best is None else min(best, m)
    return best


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dir", default=os.path.join(here, "..", "target", "criterion"))
    ap.add_argument("baselines", nargs="*", default=["new"])
    args = ap.parse_args()
    root, bl = args.dir, args.baselines
    median_of = lambda g, fn: median(root, bl, g, fn)
    print(f"baselines: {' '.join(bl)}")
    m = {g: {fn: median_of(g, fn) for fn in ["sealed_session"] + PEERS} for g in ("mint", "verify")}
    fl = {fn: median_of("floor", fn) for fn in FLOOR}

    print(f"{'function':<20} {'mint ns':>10} {'x sealed':>9} {'verify ns':>10} {'x sealed':>9}")
    for fn in ["sealed_session"] + PEERS:
        mr = m["mint"][fn] / m["mint"]["sealed_session"]
        vr = m["verify"][fn] / m["verify"]["sealed_session"]
        print(f"{fn:<20} {m['mint'][fn]:>10.1f} {mr:>9.2f} {m['verify'][fn]:>10.1f} {vr:>9.2f}")
    print()
    for fn in FLOOR:
        print(f"floor/{fn:<14} {fl[fn]:>10.1f} ns")
    total = sum(fl.values())
    print(f"floor sum            {total:>10.1f} ns")
    print()

    checks = []
    for fn, want in VERIFY_TARGETS.items():
        got = m["verify"][fn] / m["verify"]["sealed_session"]
        checks.append((f"verify {want}x faster than {fn}", got >= want, f"{got:.2f}x"))
    fastest = min(PEERS, key=lambda fn: m["mint"][fn])
    got = m["mint"][fastest] / m["mint"]["sealed_session"]
    checks.append((f"mint {MINT_TARGET}x faster than fastest peer ({fastest})", got >= MINT_TARGET, f"{got:.2f}x"))
    got = m["verify"]["sealed_session"] / total
    checks.append((f"verify within {FLOOR_TARGET}x of floor sum", got <= FLOOR_TARGET, f"{got:.2f}x"))

    ok = True
    for name, passed, got in checks:
        ok &= passed
        print(f"{'PASS' if passed else 'MISS'}  {name}: {got}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
