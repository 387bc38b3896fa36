#!/usr/bin/env python3
"""Before/after of one solve: two `femscale` binaries alternating, one process per run.

    benches/scripts/ab_phases.py OLD_BIN NEW_BIN PAIRS -- solve-arguments...

Runs `BIN solve --json <solve-arguments>` PAIRS times for each binary, alternating (old, new,
old, new, ...) so that both see the same load, and prints a markdown table of medians: the
report's phases (`phases.*`), the phases before the solver, `total_solve_time`, CG
iterations, peak RSS and the L2 error (the last two as reported, not medians of noise: they
do not depend on the load). Caching is the arguments' business: pass
`--set 'cache.levels=[]'` (or `--set scaling.enable_caching=false`) to make every run compute.

Keep OLD_BIN as a copy of an earlier build (`cp target/release/femscale /tmp/femscale-old`)
before rebuilding.
"""

import json
import os
import statistics
import subprocess
import sys
import time

PHASES = ["mesh", "pattern", "assembly", "boundary_conditions", "setup", "solve", "post"]
BEFORE_SOLVER = PHASES[:4]


def run(binary, args):
    out = subprocess.run(
        [binary, "solve", "--json", *args],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    report = json.loads(out)
    return report.get("metrics", report)


def row(name, runs):
    med = lambda f: statistics.median(f(m) for m in runs)
    phases = [med(lambda m, p=p: m["phases"][p]) for p in PHASES]
    before = med(lambda m: sum(m["phases"][p] for p in BEFORE_SOLVER))
    total = med(lambda m: m["total_solve_time"])
    last = runs[-1]
    cells = [f"{v:.3f}" for v in phases]
    rss = last.get("peak_rss_mb")
    l2 = last.get("l2_error")
    return "| {} | {} | {:.3f} | {:.3f} | {} | {} | {} |".format(
        name,
        " | ".join(cells),
        before,
        total,
        last.get("iterations"),
        f"{rss:.0f} MB" if rss is not None else "-",
        f"{l2:.6e}" if l2 is not None else "-",
    )


def main():
    argv = sys.argv[1:]
    if "--" not in argv or argv.index("--") != 3:
        sys.exit(__doc__)
    old, new, pairs = argv[0], argv[1], int(argv[2])
    args = argv[4:]
    load = " ".join(open("/proc/loadavg").read().split()[:3]) if os.path.exists("/proc/loadavg") else "?"
    results = {old: [], new: []}
    for _ in range(pairs):
        for binary in (old, new):
            results[binary].append(run(binary, args))
    load_after = " ".join(open("/proc/loadavg").read().split()[:3]) if os.path.exists("/proc/loadavg") else "?"
    print(
        f"<!-- benches/scripts/ab_phases.py {old} {new} {pairs} -- {' '.join(args)} | "
        f"medians of {pairs} runs each, alternating | {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} | "
        f"load average {load} -> {load_after} -->"
    )
    print("| binary | " + " | ".join(PHASES) + " | before the solver | total | iterations | peak RSS | L2 error |")
    print("|---" * (len(PHASES) + 6) + "|")
    for name, binary in (("before", old), ("after", new)):
        print(row(f"{name} (`{os.path.basename(binary)}`)", results[binary]))


if __name__ == "__main__":
    main()
