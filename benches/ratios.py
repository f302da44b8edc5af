#!/usr/bin/env python3
"""Ratios for issue 2, item 9, from criterion's point estimates of `cargo bench --bench tokens`.

Reads target/criterion/<group>/<function>/new/estimates.json (median point estimates, ns),
prints a table of medians and ratios against sealed_session, checks the targets, and exits 1
when one is missed. Usage: python3 benches/ratios.py [criterion-dir]
"""
import json
import os
import sys

PEERS = ["cookie_private_jar", "jsonwebtoken_hs256", "pasetors_v4_local", "branca"]
FLOOR = ["base64_decode", "xchacha_open", "claims_decode"]
# verify: peer median / sealed_session median must be at least this.
VERIFY_TARGETS = {"cookie_private_jar": 1.5, "jsonwebtoken_hs256": 3.0, "pasetors_v4_local": 7.0}
MINT_TARGET = 1.5  # fastest peer's mint / sealed_session's mint
FLOOR_TARGET = 1.3  # sealed_session verify / sum of floor, at most


def median(root, group, fn):
    path = os.path.join(root, group, fn, "new", "estimates.json")
    with open(path) as f:
        return json.load(f)["median"]["point_estimate"]


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "..", "target", "criterion")
    m = {g: {fn: median(root, g, fn) for fn in ["sealed_session"] + PEERS} for g in ("mint", "verify")}
    fl = {fn: median(root, "floor", fn) for fn in FLOOR}

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
