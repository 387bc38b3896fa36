#!/bin/sh
# Issue 18's peer benchmark: femscale and DOLFINx (one rank) on the same two problems in the
# same run, ROUNDS times each, alternating, then a markdown table of medians (and ratios):
#
#   p1-3d: unit cube, N3^3 cubes of 6 tetrahedra, P1, examples/configs/poisson_3d.toml
#   p2-2d: unit square, N2 x N2 squares of 2 triangles, P2, examples/configs/poisson_2d_p2.toml
#
# both with CG + AMG (DOLFINx: GAMG) to relative residual 1e-8, caching off.
#
#   cargo build --release -p femscale-cli
#   benches/scripts/peers_3d_p2.sh [N3 = 100] [N2 = 512] [ROUNDS = 2] [DOLFINX_PYTHON]
#
# DOLFINX_PYTHON defaults to /work/wt/venv-dolfinx/bin/python (a venv with
# `pip install dolfinx-solver-real`, Python >= 3.12); "none" skips DOLFINx. Peak RSS of the
# femscale runs comes from /usr/bin/time -v when it exists.
set -eu
N3=${1:-100}
N2=${2:-512}
ROUNDS=${3:-2}
PY=${4:-/work/wt/venv-dolfinx/bin/python}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
BIN=$TARGET/release/femscale
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo unknown)

femscale() { # case config n...
    case_name=$1
    shift
    if [ -x /usr/bin/time ]; then
        /usr/bin/time -v -o "$OUT/time" "$BIN" solve --json "$@" \
            --set scaling.enable_caching=false >"$OUT/run.json"
        rss=$(awk -F': ' '/Maximum resident/ {print $2}' "$OUT/time")
    else
        "$BIN" solve --json "$@" --set scaling.enable_caching=false >"$OUT/run.json"
        rss=0
    fi
    python3 -c "import json,sys; r=json.load(open('$OUT/run.json')); r['case']='$case_name'; r['peak_rss_kb']=int('$rss' or 0); print(json.dumps(r))" >>"$OUT/femscale.jsonl"
}

i=0
while [ "$i" -lt "$ROUNDS" ]; do
    femscale p1-3d --config "$ROOT/examples/configs/poisson_3d.toml" \
        --set problem.mesh.nx="$N3" --set problem.mesh.ny="$N3" --set problem.mesh.nz="$N3"
    femscale p2-2d --config "$ROOT/examples/configs/poisson_2d_p2.toml" \
        --set problem.mesh.nx="$N2" --set problem.mesh.ny="$N2"
    if [ "$PY" != none ]; then
        "$PY" "$ROOT/benches/scripts/dolfinx_poisson.py" p1-3d "$N3" >>"$OUT/dolfinx.jsonl"
        "$PY" "$ROOT/benches/scripts/dolfinx_poisson.py" p2-2d "$N2" >>"$OUT/dolfinx.jsonl"
    fi
    i=$((i + 1))
done
touch "$OUT/dolfinx.jsonl"
python3 - "$OUT" "$N3" "$N2" "$ROUNDS" "$LOAD_BEFORE" <<'PY'
import datetime, json, statistics, sys
out, n3, n2, rounds, load = sys.argv[1:6]
fem = [json.loads(l) for l in open(f"{out}/femscale.jsonl") if l.strip()]
dol = [json.loads(l) for l in open(f"{out}/dolfinx.jsonl") if l.strip()]
now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M")
print(f"`benches/scripts/peers_3d_p2.sh {n3} {n2} {rounds}` — medians of {rounds} alternating "
      f"runs; printed {now} UTC, load average before {load}")
med = statistics.median
for case, title in [("p1-3d", f"3D P1, {n3}^3 cubes x 6 tetrahedra"),
                    ("p2-2d", f"2D P2, {n2} x {n2} squares x 2 triangles")]:
    f = [r for r in fem if r["case"] == case]
    d = [r for r in dol if r["case"] == case]
    if not f:
        continue
    ph = lambda k: med(r["phases"][k] for r in f)
    before = med(sum(r["phases"][k] for k in ("mesh", "pattern", "assembly", "boundary_conditions")) for r in f)
    solve = med(r["phases"]["setup"] + r["phases"]["solve"] for r in f)
    rss = med(r["peak_rss_kb"] for r in f) / 1024
    print()
    print(f"{title}: {f[0]['dofs']:,} unknowns ({f[0]['element']}), {f[0]['threads']} threads")
    print()
    print("| | femscale | DOLFINx | DOLFINx / femscale |")
    print("|---|---|---|---|")
    def row(name, a, b, unit="s"):
        ratio = f"{b / a:.1f}x" if b and a else "—"
        bs = f"{b:.3f} {unit}" if b else "—"
        print(f"| {name} | {a:.3f} {unit} | {bs} | {ratio} |")
    row("mesh", ph("mesh"), med(r["times"]["mesh"] for r in d) if d else None)
    row("pattern + assembly + Dirichlet (DOLFINx: space, BCs, assembly)",
        ph("pattern") + ph("assembly") + ph("boundary_conditions"),
        med(r["times"]["space_and_bcs"] + r["times"]["assembly"] for r in d) if d else None)
    row("**before the solver**", before, med(r["before_solver"] for r in d) if d else None)
    row("**AMG set-up + CG**", solve, med(r["times"]["solve"] for r in d) if d else None)
    row("peak RSS", rss, med(r["peak_rss_kb"] if "peak_rss_kb" in r else r["peak_rss_mb"] for r in d) if d else None, "MB")
    its_f = sorted({r["iterations"] for r in f})
    its_d = sorted({r["iterations"] for r in d})
    l2_f = med(r["l2_error"] for r in f)
    l2_d = med(r["l2"] for r in d) if d else float("nan")
    print()
    print(f"Iterations: femscale {its_f}, DOLFINx {its_d}; L2 error femscale {l2_f:.3e}, DOLFINx {l2_d:.3e}.")
PY
