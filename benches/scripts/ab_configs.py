#!/usr/bin/env python3
"""Before/after of an adaptive loop's settings: one `femscale` binary, config files alternating.

    benches/scripts/ab_configs.py BIN PAIRS CONFIG_A CONFIG_B [...]

Runs `BIN solve --json --config FILE --set 'cache.levels=[]'` PAIRS times per file, the files
in turn (A, B, A, B, ...) so that all see the same load, and prints a markdown table of
medians: the report's phases summed over the adaptive steps, their total, the wall time, and
(as reported, not medians: they do not depend on the load) the steps, final unknowns, energy
error and CG iterations of all steps. The files' relative paths (meshes) are resolved against
their own directory, so an older version of an example can be kept anywhere (for instance
`git show REV:examples/configs/lshape_adaptive.toml`, with its mesh path made absolute).
"""

import json
import os
import statistics
import subprocess
import sys
import time

PHASES = ["mesh", "pattern", "assembly", "boundary_conditions", "setup", "solve", "post"]


def run(binary, config):
    start = time.perf_counter()
    out = subprocess.run(
        [binary, "solve", "--json", "--config", config, "--set", "cache.levels=[]"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    wall = time.perf_counter() - start
    report = json.loads(out)
    steps = report["adaptivity"]["steps"]
    phases = report["phases"]
    return {
        **{p: phases.get(p, 0.0) for p in PHASES},
        "total": sum(phases.values()),
        "wall": wall,
        "steps": len(steps),
        "dofs": steps[-1]["dofs"],
        "error": steps[-1].get("error"),
        "iterations": sum(s["iterations"] for s in steps),
        "rss": report.get("peak_rss_mb"),
    }


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    binary, pairs, configs = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
    runs = {c: [] for c in configs}
    load_before = os.getloadavg()
    for _ in range(pairs):
        for c in configs:
            runs[c].append(run(binary, c))
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    print(
        f"<!-- {' '.join(sys.argv)} | medians of {pairs} runs each, alternating | {stamp} | "
        f"load average {' '.join(f'{x:.2f}' for x in load_before)} -> "
        f"{' '.join(f'{x:.2f}' for x in os.getloadavg())} -->"
    )
    keys = PHASES + ["total", "wall"]
    print("| config | steps | final DOFs | energy error | CG iterations | " + " | ".join(keys) + " | peak RSS |")
    print("|---" * (len(keys) + 6) + "|")
    for c in configs:
        r = runs[c]
        med = lambda k: statistics.median(x[k] for x in r)
        first = r[0]
        error = "-" if first["error"] is None else f"{first['error']:.4e}"
        rss = [x["rss"] for x in r if x["rss"] is not None]
        rss = f"{statistics.median(rss):.0f} MiB" if rss else "-"
        print(
            f"| {os.path.basename(c)} | {first['steps']} | {first['dofs']:,} | {error} | "
            f"{first['iterations']} | " + " | ".join(f"{med(k):.3f}" for k in keys) + f" | {rss} |"
        )


if __name__ == "__main__":
    main()
