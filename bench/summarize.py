#!/usr/bin/env python3
"""Medians per scenario from bench/run.sh logs: `python3 bench/summarize.py bench/results-*.txt`."""
import re
import statistics
import sys

LINE = re.compile(
    r"^(?P<label>[a-z -]+): (?P<rate>\d+) ok/s .* p50 (?P<p50>[\d.]+) ms p90 (?P<p90>[\d.]+) ms "
    r"p99 (?P<p99>[\d.]+) ms max (?P<max>[\d.]+) ms errors (?P<errors>\d+) .* peak_rss (?P<rss>[\d.]+) MiB"
)
runs = {}
pgbench = []
ratios = []
last_create = None
naive = []
lite_ratios = []
last_lite = None
for path in sys.argv[1:]:
    for line in open(path):
        m = LINE.match(line.strip())
        if m:
            values = {k: float(v) for k, v in m.groupdict().items() if k != "label"}
            runs.setdefault(m["label"], []).append(values)
            if m["label"] == "create-capture":
                last_create = values["rate"]
            elif m["label"] == "sqlite create-capture":
                last_lite = values["rate"]
        elif line.startswith("sqlite naive: "):
            rate = float(line.split()[2])
            naive.append(rate)
            if last_lite is not None:
                lite_ratios.append(last_lite / rate)
                last_lite = None
        elif line.startswith("pgbench naive: tps"):
            tps = float(line.split("=")[1].split()[0])
            pgbench.append(tps)
            if last_create is not None:
                ratios.append(last_create / tps)
                last_create = None

for label, values in runs.items():
    med = {k: statistics.median(v[k] for v in values) for k in values[0]}
    print(
        f"{label} (n={len(values)}): {med['rate']:.0f} ok/s, p50 {med['p50']:.1f} ms, p90 {med['p90']:.1f} ms, "
        f"p99 {med['p99']:.1f} ms, max {med['max']:.1f} ms, errors {med['errors']:.0f}, peak RSS {med['rss']:.1f} MiB"
    )
if pgbench:
    print(f"pgbench naive (n={len(pgbench)}): {statistics.median(pgbench):.0f} payments/s")
    print(f"payrail/pgbench per round: {', '.join(f'{r:.2f}' for r in ratios)}; median {statistics.median(ratios):.2f}")
if naive:
    print(f"sqlite naive (n={len(naive)}): {statistics.median(naive):.0f} payments/s")
    print(f"payrail/sqlite-naive per round: {', '.join(f'{r:.2f}' for r in lite_ratios)}; "
          f"median {statistics.median(lite_ratios):.2f}")
