#!/usr/bin/env python3
"""Prints the scaling-benchmark table of docs/performance.md from the bench.json that
`femscale bench` writes, optionally running the benchmark first with the release CLI.

    cargo build --release -p femscale-cli
    benches/scripts/scaling_table.py --run [OUTPUT_DIR = results/bench]   # run, then print
    benches/scripts/scaling_table.py [OUTPUT_DIR]                          # print the last run

The run is `femscale bench --sizes 64,256,1024 --levels minimal,standard,aggressive,auto -r 7
--min-seconds 1 -o OUTPUT_DIR`: whole solves, repetitions interleaved across configurations;
every figure is the median of the repetitions femscale reports (`median_seconds`).
"""
import datetime
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TARGET = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
ARGS = ["--sizes", "64,256,1024", "--levels", "minimal,standard,aggressive,auto", "-r", "7",
        "--min-seconds", "1"]
LEVELS = ["minimal", "standard", "aggressive", "auto"]


def fmt(seconds):
    return f"{seconds:.2f} s" if seconds >= 1 else f"{seconds * 1e3:.1f} ms"


def main(argv):
    run = "--run" in argv
    dirs = [a for a in argv if not a.startswith("--")]
    out = Path(dirs[0]) if dirs else ROOT / "results" / "bench"
    if run:
        subprocess.run([str(TARGET / "release" / "femscale"), "bench", *ARGS, "-o", str(out)],
                       cwd=ROOT, check=True, stdout=sys.stderr)
    path = out / "bench.json"
    report = json.loads(path.read_text())
    stamp = datetime.datetime.fromtimestamp(path.stat().st_mtime, datetime.timezone.utc)
    rows = report["rows"]
    reps = report.get("repetitions", "?")
    try:
        shown = out.resolve().relative_to(ROOT)
    except ValueError:
        shown = out
    print(f"`femscale bench {' '.join(ARGS)} -o {shown}` then `benches/scripts/scaling_table.py {shown}`"
          f" — medians of {reps} repetitions; measured {stamp:%Y-%m-%d %H:%M} UTC")
    print()
    print("| n | unknowns | " + " | ".join(LEVELS) + " | auto vs best |")
    print("|---|---|" + "---|" * (len(LEVELS) + 1))
    for size in sorted({r["size"] for r in rows}):
        at = {r["level"]: r for r in rows if r["size"] == size}
        best = min(r["median_seconds"] for r in at.values())
        cells = []
        for level in LEVELS:
            r = at.get(level)
            if r is None:
                cells.append("—")
                continue
            text = fmt(r["median_seconds"])
            if level == "auto":
                text += f" ({r['threads']} thr, {r['solver']} + {r['preconditioner']})"
            else:
                text += f" ({r['threads']} thr)"
            cells.append(f"**{text}**" if r["median_seconds"] == best else text)
        auto = at.get("auto")
        gap = "—" if auto is None else (
            "best" if auto["median_seconds"] == best else f"+{(auto['median_seconds'] / best - 1) * 100:.1f} %")
        dofs = next(iter(at.values()))["dofs"]
        print(f"| {size} | {dofs:,} | " + " | ".join(cells) + f" | {gap} |")


if __name__ == "__main__":
    main(sys.argv[1:])
