#!/bin/sh
# End-to-end solves with the release CLI, for the "End-to-end solves" table of
# docs/performance.md: ROUNDS runs of `femscale solve --json` on the 2D manufactured solution of
# examples/configs/poisson_2d_mms.toml at N x N cells, with AMG-preconditioned CG at relative
# residual 1e-8 (set explicitly: the config file asks for CG + Jacobi) and caching off (every run
# computes), then the per-phase markdown table as femscale reports it (`phases.*`,
# `total_solve_time`): median, min and max over the rounds.
#
#   cargo build --release -p femscale-cli
#   benches/scripts/end_to_end.sh [N = 1024] [ROUNDS = 5] [SOLVER = cg] [PRECONDITIONER = amg]
#
# Needs python3 for the medians.
set -eu
N=${1:-1024}
ROUNDS=${2:-5}
SOLVER=${3:-cg}
PC=${4:-amg}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
BIN=$TARGET/release/femscale
OUT=$(mktemp)
trap 'rm -f "$OUT"' EXIT
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo unknown)
i=0
while [ "$i" -lt "$ROUNDS" ]; do
    "$BIN" solve --json --config "$ROOT/examples/configs/poisson_2d_mms.toml" \
        --set problem.mesh.nx="$N" --set problem.mesh.ny="$N" \
        --set solver.kind="$SOLVER" --set solver.preconditioner="$PC" \
        --set solver.tolerance=1e-8 --set scaling.enable_caching=false >>"$OUT"
    i=$((i + 1))
done
python3 - "$OUT" "$N" "$ROUNDS" "$SOLVER" "$PC" "$LOAD_BEFORE" <<'PY'
import datetime, json, statistics, sys
runs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
n, rounds, solver, pc, load = sys.argv[2:7]
now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M")
first = runs[0]
print(f"`benches/scripts/end_to_end.sh {n} {rounds} {solver} {pc}` — {first['dofs']:,} unknowns, "
      f"{first['solver']} + {first['preconditioner']}, {first['threads']} threads; medians of "
      f"{len(runs)} runs; printed {now} UTC, load average before {load}")
print()
print("| phase | median | min | max |")
print("|---|---|---|---|")
def row(name, values):
    print(f"| {name} | {statistics.median(values):.3f} s | {min(values):.3f} s | {max(values):.3f} s |")
for key, name in [("mesh", "mesh"), ("pattern", "pattern"), ("assembly", "assembly"),
                  ("boundary_conditions", "Dirichlet"), ("setup", "solver set-up"),
                  ("solve", "solve"), ("post", "error norms and output")]:
    row(name, [r["phases"][key] for r in runs])
row("**total** (`total_solve_time`)", [r["total_solve_time"] for r in runs])
its = sorted({r["iterations"] for r in runs})
l2 = statistics.median(r["l2_error"] for r in runs)
print()
print(f"Iterations: {', '.join(map(str, its))}; L2 error {l2:.3e}.")
PY
