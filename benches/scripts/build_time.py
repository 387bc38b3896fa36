#!/usr/bin/env python3
"""Clean release builds of a program that embeds femscale: minimal features vs all (the default).

Creates two throwaway packages in a temporary directory, each a `main.rs` that solves the
default problem through `femscale::prelude`, one depending on the facade with
`default-features = false`, the other with its defaults; copies the workspace's Cargo.lock so
both resolve the versions CI tests; builds each RUNS times from an empty target directory
(`cargo build --release --offline`, registry already downloaded: run `cargo fetch` first), and
prints a markdown table of wall times (median, min, max) and the number of crates in the build graph.

    python3 benches/scripts/build_time.py [RUNS]      # default 3 (run on a quiet machine)

Runs alternate minimal/full, so that a change of machine load hits both alike.
"""

import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
MAIN_RS = """use femscale::prelude::*;

fn main() -> Result<(), femscale::Error> {
    let solution = FemSolver::new().solve(&Problem::default())?;
    println!("{} values", solution.values.len());
    Ok(())
}
"""
VARIANTS = [
    ("minimal", "default-features = false", "`default-features = false`"),
    ("full", "", "default features (all)"),
]


def make_package(base, name, features):
    path = os.path.join(base, name)
    os.makedirs(os.path.join(path, "src"))
    facade = os.path.join(ROOT, "crates", "femscale")
    extra = f", {features}" if features else ""
    with open(os.path.join(path, "Cargo.toml"), "w") as f:
        f.write(
            f'[package]\nname = "embed-{name}"\nversion = "0.1.0"\nedition = "2024"\n'
            f'publish = false\n\n[dependencies]\nfemscale = {{ path = "{facade}"{extra} }}\n\n'
            "[workspace]\n"
        )
    with open(os.path.join(path, "src", "main.rs"), "w") as f:
        f.write(MAIN_RS)
    shutil.copy(os.path.join(ROOT, "Cargo.lock"), path)
    return path


def clean_build(path):
    shutil.rmtree(os.path.join(path, "target"), ignore_errors=True)
    start = time.perf_counter()
    out = subprocess.run(
        ["cargo", "build", "--release", "--offline"],
        cwd=path,
        capture_output=True,
        text=True,
        env={k: v for k, v in os.environ.items() if k != "CARGO_TARGET_DIR"} | {"CARGO_TERM_COLOR": "never"},
    )
    seconds = time.perf_counter() - start
    if out.returncode != 0:
        sys.exit(f"build of {path} failed:\n{out.stderr[-3000:]}")
    return seconds


def crate_count(path):
    """Distinct packages in the build graph (normal and build dependencies, the package included)."""
    tree = subprocess.run(
        ["cargo", "tree", "--offline", "-e", "normal,build", "--prefix", "none"],
        cwd=path,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return len({re.sub(r" \(.*$", "", line) for line in tree.splitlines() if line.strip()})


def main():
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    base = tempfile.mkdtemp(prefix="femscale-build-time-")
    try:
        packages = {name: make_package(base, name, feat) for name, feat, _ in VARIANTS}
        times = {name: [] for name, _, _ in VARIANTS}
        crates = {name: crate_count(path) for name, path in packages.items()}
        for i in range(runs):
            for name, _, _ in VARIANTS:
                seconds = clean_build(packages[name])
                times[name].append(seconds)
                print(f"run {i + 1}/{runs} {name}: {seconds:.1f} s", file=sys.stderr)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    print(f"`python3 benches/scripts/build_time.py {runs}` ({runs} clean builds each, alternating)\n")
    print("| embedding program | crates | clean release build, median | min | max |")
    print("|---|---:|---:|---:|---:|")
    for name, _, label in VARIANTS:
        t = times[name]
        print(
            f"| {label} | {crates[name]} | {statistics.median(t):.0f} s | {min(t):.0f} s | {max(t):.0f} s |"
        )
    ratio = statistics.median(times["full"]) / statistics.median(times["minimal"])
    print(f"\nfull / minimal: {ratio:.2f}x")


if __name__ == "__main__":
    main()
