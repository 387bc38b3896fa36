#!/usr/bin/env python3
"""Prints a criterion-backed table of docs/performance.md as markdown, from the median point
estimates criterion wrote under target/criterion/<group>/<function>/<value>/new/.

    benches/scripts/criterion_table.py TABLE          # print from the last `cargo bench` run
    benches/scripts/criterion_table.py --run TABLE    # run the benchmark first, then print

TABLE is one of: pipeline, assembly, solvers, spmv, expressions, gradient_product (`--list`
prints each with the benchmark command it needs). Every figure is criterion's median of the
per-iteration times of its samples (the sample count is in the header line); ratios divide two
medians of the same run. The target directory is $CARGO_TARGET_DIR, or target/ of the workspace.
"""
import datetime
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TARGET = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))

# table -> (cargo bench arguments, criterion groups it reads)
BENCHES = {
    "pipeline": (["-p", "femscale-benches", "--bench", "pipeline"], ["pipeline"]),
    "assembly": (["-p", "femscale-benches", "--bench", "assembly"], ["assembly"]),
    "solvers": (["-p", "femscale-benches", "--bench", "solvers", "--", "solve/"], ["solve"]),
    "spmv": (["-p", "femscale-benches", "--bench", "solvers", "--", "spmv"], ["spmv"]),
    "expressions": (
        ["-p", "femscale-benches", "--bench", "expressions"],
        ["expr_single", "expr_batch", "expr_compile", "expr_assembly"],
    ),
    "gradient_product": (
        ["-p", "femscale-expr", "--no-default-features", "--bench", "eval", "--", "gradient_product"],
        ["gradient_product"],
    ),
}


def command(table):
    return "cargo bench " + " ".join(BENCHES[table][0])


def load(groups):
    """{(group, function, value): (median ns, samples, throughput bytes)} of the last run."""
    found = {}
    base = TARGET / "criterion"
    for group in groups:
        for bench in (base / group).rglob("new/benchmark.json"):
            meta = json.loads(bench.read_text())
            est = json.loads((bench.parent / "estimates.json").read_text())
            sample = json.loads((bench.parent / "sample.json").read_text())
            key = (meta["group_id"], meta.get("function_id"), meta.get("value_str"))
            bytes_ = (meta.get("throughput") or {}).get("Bytes")
            found[key] = (est["median"]["point_estimate"], len(sample["iters"]), bytes_,
                          (bench.parent / "estimates.json").stat().st_mtime)
    if not found:
        sys.exit(f"no criterion results for {', '.join(groups)} under {base}; run `{command_of(groups)}`")
    return found


def command_of(groups):
    return next(command(t) for t, (_, g) in BENCHES.items() if g == groups)


def fmt_time(ns):
    """Criterion-style: 396.0 ms, 27.3 ns, 1.05 ms, 2.41 s."""
    for unit, scale in (("s", 1e9), ("ms", 1e6), ("µs", 1e3)):
        if ns >= scale:
            v = ns / scale
            return f"{v:.1f} {unit}" if v >= 10 else f"{v:.2f} {unit}"
    return f"{ns:.1f} ns" if ns >= 10 else f"{ns:.2f} ns"


class Results:
    def __init__(self, groups):
        self.data = load(groups)
        self.used = []

    def get(self, group, function, value=None):
        entry = self.data.get((group, function, value))
        if entry is None:
            return None
        self.used.append(entry)
        return entry[:3]

    def ns(self, *key):
        entry = self.get(*key)
        return None if entry is None else entry[0]

    def header(self, table):
        samples = sorted({e[1] for e in self.used})
        counts = "/".join(str(s) for s in samples) or "?"
        stamp = lambda t: datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime(
            "%Y-%m-%d %H:%M")
        times = [e[3] for e in self.used] or [0]
        first, last = stamp(min(times)), stamp(max(times))
        when = first if first == last else f"{first}–{last[11:] if first[:10] == last[:10] else last}"
        return (f"`{command(table)}` then `benches/scripts/criterion_table.py {table}` — criterion "
                f"medians of {counts} samples; measured {when} UTC")


def cell(ns):
    return "—" if ns is None else fmt_time(ns)


def ratio(a, b, fmt="{:.2f}×"):
    return "—" if a is None or b is None else fmt.format(a / b)


def table(header, rows):
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(out)


def sizes(r, group, function):
    return sorted({int(v) for (g, f, v) in r.data if g == group and f == function and v and v.isdigit()})


def pipeline(r):
    rows = []
    for n in sizes(r, "pipeline", "serial"):
        s, p = r.ns("pipeline", "serial", str(n)), r.ns("pipeline", "parallel", str(n))
        rows.append([str(n), f"{(n + 1) ** 2:,}", cell(s), cell(p), ratio(s, p)])
    return table(["n", "unknowns", "pipeline serial", "pipeline parallel", "speed-up"], rows)


def assembly(r):
    rows = []
    for n in sizes(r, "assembly", "pattern/serial"):
        v = [r.ns("assembly", f, str(n)) for f in
             ("pattern/serial", "pattern/parallel", "values/serial", "values/parallel")]
        rows.append([str(n), cell(v[0]), cell(v[1]), ratio(v[0], v[1]), cell(v[2]), cell(v[3]), ratio(v[2], v[3])])
    return table(["n", "pattern serial", "pattern parallel", "speed-up", "values serial",
                  "values parallel", "speed-up"], rows)


def solvers(r):
    ns = sizes(r, "solve", "direct+none/setup+solve")
    rows = []
    for label, key in (("direct", "direct+none"), ("AMG-CG", "cg+amg")):
        first = [r.ns("solve", f"{key}/setup+solve", str(n)) for n in ns]
        second = [r.ns("solve", f"{key}/second-rhs", str(n)) for n in ns]
        rows.append([f"{label} set-up + solve"] + [cell(f) for f in first])
        rows.append([f"{label} second RHS"] +
                    [f"{cell(s)} ({ratio(f, s, '{:.1f}×')})" for f, s in zip(first, second)])
    return table(["benchmark"] + [f"n = {n}" for n in ns], rows)


def spmv(r):
    keys = [k for k in r.data if k[0] == "spmv"]
    value = keys[0][2]
    serial = r.ns("spmv", "serial", value)
    rows = []
    for function, label in (("serial", "CSR SpMV, serial (`CsrMatrix::mul_vec_into`)"),
                            ("parallel", "CSR SpMV, parallel (rayon)"),
                            ("verify_solution", "`verify_solution`"),
                            ("copy-same-bytes", "copy of the same bytes, serial"),
                            ("copy-same-bytes-parallel", "copy of the same bytes, parallel")):
        entry = r.get("spmv", function, value)
        if entry is None:
            continue
        ns, _, bytes_ = entry
        bandwidth = f"{bytes_ / ns * 1e9 / 2 ** 30:.1f} GiB/s" if bytes_ and "SpMV" in label else "—"
        rows.append([label, cell(ns), ratio(ns, serial, "{:.2f}"), bandwidth])
    out = table(["kernel", "median", "vs serial SpMV", "effective read bandwidth"], rows)
    par = r.ns("spmv", "parallel", value)
    copies = [c for c in (r.ns("spmv", "copy-same-bytes", value),
                          r.ns("spmv", "copy-same-bytes-parallel", value)) if c]
    if par and copies:
        bound = min(copies) / 2
        out += (f"\n\n{int(value):,} unknowns. Streaming bound (half the faster copy, which reads "
                f"and writes the bytes): {fmt_time(bound)}; the parallel SpMV takes "
                f"**{par / bound:.2f}×** the bound.")
    return out


def expressions(r):
    variants = ["native", "jit", "bytecode", "tree-walk"]
    rows = []
    for group in ("expr_single", "expr_batch"):
        cases = sorted({v for (g, f, v) in r.data if g == group})
        for case in cases:
            rows.append([f"`{group}/*/{case}`"] + [cell(r.ns(group, v, case)) for v in variants])
    for threads in ("serial", "parallel"):
        for n in sorted({v for (g, f, v) in r.data if g == "expr_assembly" and f.startswith(threads)}):
            rows.append([f"`expr_assembly/{threads}/*/{n}`"] +
                        [cell(r.ns("expr_assembly", f"{threads}/{v}", n)) for v in variants])
    out = table(["criterion benchmark", "native", "JIT", "bytecode", "tree walk"], rows)
    compile_rows = [[f"`expr_compile/{f}/{v}`" if v else f"`expr_compile/{f}`", cell(ns)]
                    for (g, f, v), (ns, *_) in sorted(r.data.items(), key=lambda kv: str(kv[0]))
                    if g == "expr_compile"]
    for key in [k for k in r.data if k[0] == "expr_compile"]:
        r.get(*key)
    return out + "\n\n" + table(["compilation", "median"], compile_rows)


def gradient_product(r):
    rows = []
    for label, graph, tree in (
            ("derive + compile the gradient", "derive+compile graph n=395", "derive+compile tree n=395"),
            ("`gradient_batch`, 1024 points", "gradient_batch graph n=395 1024 points",
             "gradient_batch tree n=395 1024 points")):
        g, t = r.ns("gradient_product", graph), r.ns("gradient_product", tree)
        rows.append([label, cell(g), cell(t), ratio(t, g, "{:.0f}×")])
    return table(["395-factor product", "graph (now)", "tree", "tree / graph"], rows)


PRINTERS = {"pipeline": pipeline, "assembly": assembly, "solvers": solvers, "spmv": spmv,
            "expressions": expressions, "gradient_product": gradient_product}


def main(argv):
    if "--list" in argv:
        for name in BENCHES:
            print(f"{name}: {command(name)}")
        return
    run = "--run" in argv
    names = [a for a in argv if not a.startswith("--")]
    if len(names) != 1 or names[0] not in BENCHES:
        sys.exit(f"usage: criterion_table.py [--run] {{{','.join(BENCHES)}}}")
    name = names[0]
    if run:
        subprocess.run(["cargo", "bench"] + BENCHES[name][0], cwd=ROOT, check=True,
                       stdout=sys.stderr)
    results = Results(BENCHES[name][1])
    body = PRINTERS[name](results)
    print(results.header(name) + "\n")
    print(body)


if __name__ == "__main__":
    main(sys.argv[1:])
