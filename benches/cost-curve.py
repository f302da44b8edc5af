#!/usr/bin/env python3
"""Turns benches/cost-curve.csv (written by benches/cost-curve.sh) into a plot and a table.

    python3 benches/cost-curve.py CSV PNG README

Writes PNG (six panels, one per series; skipped when matplotlib is missing) and replaces the
table between the `<!-- cost-curve:start -->` and `<!-- cost-curve:end -->` lines of README
with one generated from CSV.
"""

import csv
import sys
from collections import defaultdict

START = "<!-- cost-curve:start -->"
END = "<!-- cost-curve:end -->"

# series -> (title, x label, [(metric, label)], log x)
SERIES = {
    "revocations": ("verify vs revocations held", "revoked ids held",
                    [("instructions", "instructions / cold verify"),
                     ("ll_data_misses", "LL data misses / verify (simulated)")], True),
    "app_data": ("verify vs application data", "bytes of application data",
                 [("instructions", "instructions / cold verify"),
                  ("open_instructions", "instructions / token open")], False),
    "keys": ("verify vs keys in the ring", "keys in the ring",
             [("instructions", "instructions / cold verify")], True),
    "threads": ("throughput vs threads", "verifying threads",
                [("throughput", "verifies / s (criterion)")], False),
    "memory": ("memory vs revocations held", "revoked ids held",
               [("filter_bytes", "filter MiB"), ("rss_kib", "RSS growth MiB")], True),
    "catch_up": ("catch-up vs backlog", "revocations missed while down",
                 [("ready_s", "seconds until ready")], True),
}


def load(path):
    data = defaultdict(lambda: defaultdict(list))
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            data[row["series"]][row["metric"]].append((float(row["x"]), float(row["value"])))
    for series in data.values():
        for points in series.values():
            points.sort()
    return data


def scaled(metric, value):
    if metric == "filter_bytes":
        return value / (1 << 20)
    if metric == "rss_kib":
        return value / 1024
    return value


def human(x):
    x = int(x)
    for unit, div in (("M", 1_000_000), ("k", 1000)):
        if x >= div and x % div == 0:
            return f"{x // div}{unit}"
    return str(x)


def fmt(metric, value):
    v = scaled(metric, value)
    if metric in ("filter_bytes", "rss_kib"):
        return f"{v:.1f} MiB"
    if metric == "ready_s":
        return f"{v:.2f} s"
    if metric == "ll_data_misses":
        return f"{v:.2f}"
    return f"{v:,.0f}"


# How a figure is named in the README table (its unit comes from fmt).
TABLE_LABEL = {
    "filter_bytes": "filters",
    "rss_kib": "RSS growth",
    "ready_s": "until ready",
    "ll_data_misses": "simulated LL data misses / verify",
}


def table(data):
    lines = ["| curve | x | " + " | ".join(["figure"]) + " |", "|---|---|---|"]
    for name, (title, _, metrics, _) in SERIES.items():
        if name not in data:
            continue
        xs = sorted({x for m, _ in metrics for x, _ in data[name].get(m, [])})
        for x in xs:
            parts = []
            for metric, label in metrics:
                for px, v in data[name].get(metric, []):
                    if px == x:
                        name_ = TABLE_LABEL.get(metric, label.split(" (")[0])
                        parts.append(f"{fmt(metric, v)} {name_}")
            lines.append(f"| {title} | {human(x)} | {'; '.join(parts)} |")
    return "\n".join(lines)


def plot(data, path):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib missing: no plot written", file=sys.stderr)
        return
    fig, axes = plt.subplots(2, 3, figsize=(15, 8.5))
    for ax, (name, (title, xlabel, metrics, logx)) in zip(axes.flat, SERIES.items()):
        ax.set_title(title)
        ax.set_xlabel(xlabel)
        if name not in data:
            ax.text(0.5, 0.5, "not measured", ha="center", transform=ax.transAxes)
            continue
        first = True
        twin = None
        for metric, label in metrics:
            points = data[name].get(metric)
            if not points:
                continue
            xs = [x for x, _ in points]
            ys = [scaled(metric, y) for _, y in points]
            target = ax if first else (twin := ax.twinx())
            style = "o-" if first else "s--"
            color = "tab:blue" if first else "tab:red"
            target.plot(xs, ys, style, color=color, label=label)
            target.set_ylabel(label, color=color)
            if name != "threads":
                target.set_ylim(bottom=0)
            first = False
        if logx:
            ax.set_xscale("log")
        if name == "threads":
            ax.set_xticks([1, 2])
            ax.set_ylim(bottom=0)
        ax.grid(True, alpha=0.3)
    fig.suptitle("sealed-session cost curve (benches/cost-curve.sh)")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    print(f"wrote {path}")


def update_readme(path, text):
    with open(path) as f:
        content = f.read()
    if START not in content or END not in content:
        print(f"{path} has no {START} ... {END} block: table not inserted", file=sys.stderr)
        print(text)
        return
    head, rest = content.split(START, 1)
    _, tail = rest.split(END, 1)
    with open(path, "w") as f:
        f.write(head + START + "\n" + text + "\n" + END + tail)
    print(f"table written into {path}")


def main():
    if len(sys.argv) != 4:
        sys.exit("usage: cost-curve.py CSV PNG README")
    csv_path, png, readme = sys.argv[1:]
    data = load(csv_path)
    plot(data, png)
    update_readme(readme, table(data))


if __name__ == "__main__":
    main()
