#!/bin/sh
# Plugin process isolation vs in-process at 10^6 unknowns (2D Poisson, nx = ny = 1024), with the
# release CLI: ROUNDS rounds, each running `femscale solve --json` in-process then isolated (so
# both see the same machine state), and the medians of the set-up, solve and whole-solve times
# femscale reports, with the ratio isolated / in-process per round.
#
#   cargo build --release -p femscale-cli -p femscale-plugin-c-cg -p femscale-plugin-chebyshev
#   benches/scripts/isolation_overhead.sh [KIND] [ROUNDS] [TOLERANCE]
#
# KIND: plugin:c-jacobi-cg (default) or plugin:chebyshev-cg. Needs python3 for the medians.
set -eu
KIND=${1:-plugin:c-jacobi-cg}
ROUNDS=${2:-5}
TOL=${3:-1e-6}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
BIN=$TARGET/release/femscale
C_CG=$(ls "$TARGET"/release/build/femscale-plugin-c-cg-*/out/libfemscale_c_cg.so | head -n 1)
CHEB=$TARGET/release/libfemscale_plugin_chebyshev.so
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
run() { # $1: isolation, $2: output file
    "$BIN" solve --json \
        --set problem.mesh.nx=1024 --set problem.mesh.ny=1024 \
        --set 'problem.source="2*pi^2*sin(pi*x)*sin(pi*y)"' \
        --set solver.kind="$KIND" --set solver.tolerance="$TOL" \
        --set "plugins.paths=['$C_CG', '$CHEB']" \
        --set 'cache.levels=[]' --set plugins.isolation="$1" >>"$2"
}
i=0
while [ "$i" -lt "$ROUNDS" ]; do
    run in-process "$OUT/in.jsonl"
    run process "$OUT/out.jsonl"
    i=$((i + 1))
done
python3 - "$OUT/in.jsonl" "$OUT/out.jsonl" "$KIND" <<'PY'
import json, statistics, sys
inside = [json.loads(l) for l in open(sys.argv[1])]
isolated = [json.loads(l) for l in open(sys.argv[2])]
def fig(m, key):
    p = m["phases"]
    return {"setup": p["setup"], "solve": p["solve"], "setup+solve": p["setup"] + p["solve"],
            "total": m["total_solve_time"]}[key]
print(f"{sys.argv[3]}: {inside[0]['dofs']} unknowns, {inside[0]['iterations']} iterations "
      f"(isolated: {isolated[0]['iterations']}), {len(inside)} rounds")
for k, (x, y) in enumerate(zip(inside, isolated)):
    print(f"round {k + 1}: set-up + solve {fig(x, 'setup+solve'):.3f} s in-process, "
          f"{fig(y, 'setup+solve'):.3f} s isolated")
print("| figure | in-process | isolated | ratio (median of per-round ratios) |")
print("|---|---|---|---|")
for key in ["setup", "solve", "setup+solve", "total"]:
    a = [fig(m, key) for m in inside]
    b = [fig(m, key) for m in isolated]
    r = [y / x for x, y in zip(a, b)]
    print(f"| {key} | {statistics.median(a):.3f} s | {statistics.median(b):.3f} s | "
          f"{statistics.median(r):.3f} |")
PY
