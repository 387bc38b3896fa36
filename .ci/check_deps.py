#!/usr/bin/env python3
"""Checks the crate dependency directions of DESIGN.md section 1 with `cargo metadata`.

A workspace crate may depend (normal or build dependency, optional or not: an optional
dependency is an edge whenever its feature is on) only on the workspace crates listed for it
below; dev-dependencies are free.

Then the facade's minimal feature set (`femscale` with `--no-default-features`, what an
embedding program that only solves builds) must not reach the heavy optional crates of
OPTIONAL_HEAVY: each belongs behind a cargo feature (see docs/architecture.md, "Cargo features").

Last, the embedding example (embedding/, a package with its own workspace) must lock the
workspace's versions: its Cargo.lock holds no package version that the workspace's does not.

Exits non-zero and names every violation.
"""
import json
import re
import subprocess
import sys

ALLOWED = {
    "femscale-core": set(),
    "femscale-expr": {"femscale-core"},
    "femscale-mesh": {"femscale-core"},
    "femscale-solvers": {"femscale-core"},
    "femscale-cache": {"femscale-core"},
    "femscale-scaling": {"femscale-core"},
    "femscale-assembly": {"femscale-core", "femscale-mesh"},
    "femscale-distributed": {"femscale-core", "femscale-mesh", "femscale-assembly",
                             "femscale-solvers"},
    "femscale-plugin-api": set(),
    "femscale-runtime": {"femscale-core", "femscale-expr", "femscale-mesh", "femscale-assembly",
                          "femscale-solvers", "femscale-cache", "femscale-scaling",
                          "femscale-plugin-api"},
    "femscale-experiment": {"femscale-core", "femscale-expr", "femscale-mesh", "femscale-assembly",
                             "femscale-solvers", "femscale-cache", "femscale-scaling",
                             "femscale-plugin-api", "femscale-runtime", "femscale-distributed"},
    "femscale": {"femscale-core", "femscale-expr", "femscale-mesh", "femscale-assembly",
                 "femscale-solvers", "femscale-cache", "femscale-scaling", "femscale-runtime",
                 "femscale-experiment", "femscale-distributed"},
    "femscale-cli": {"femscale"},
}
# Test, example and bench packages may use the facade.
FREE = {"femscale-tests", "femscale-examples", "femscale-benches"}
# Crates (name prefixes) the facade's minimal set must not build, with the feature that brings them.
OPTIONAL_HEAVY = {
    "cranelift": "jit",
    "abi_stable": "plugins",
    "libloading": "plugins/monitor",
    "femscale-plugin-api": "plugins",
    "memmap2": "plugins",
    "redis": "redis",
    "sysinfo": "monitor",
    "femscale-experiment": "experiment",
    "plotters": "plots",
    "mpi": "mpi",
    "metis": "metis",
}

meta = json.loads(subprocess.check_output(["cargo", "metadata", "--format-version", "1", "--no-deps"]))
members = {p["name"] for p in meta["packages"]}
errors = []
for pkg in meta["packages"]:
    name = pkg["name"]
    deps = {d["name"] for d in pkg["dependencies"] if d["name"] in members and d.get("kind") != "dev"}
    if name in FREE:
        continue
    if name.startswith("femscale-plugin-") and name != "femscale-plugin-api":
        allowed = {"femscale-plugin-api"}
    elif name in ALLOWED:
        allowed = ALLOWED[name]
    else:
        errors.append(f"{name}: not in the dependency table of .ci/check_deps.py (add it deliberately)")
        continue
    for dep in sorted(deps - allowed):
        errors.append(f"{name} must not depend on {dep}")
tree = subprocess.check_output(
    ["cargo", "tree", "-p", "femscale", "--no-default-features", "-e", "normal",
     "--prefix", "none", "--format", "{p}"], text=True)
minimal = {line.split()[0] for line in tree.splitlines() if line.strip()}
for crate in sorted(minimal):
    for prefix, feature in OPTIONAL_HEAVY.items():
        if crate == prefix or crate.startswith(prefix + "-"):
            errors.append(f"femscale --no-default-features builds {crate}, "
                          f"which belongs behind the `{feature}` feature")
# The embedding example (embedding/, its own workspace) locks the workspace's versions: every
# package of its Cargo.lock is in the workspace's Cargo.lock at the same version.
def locked(path):
    text = open(path).read()
    return set(re.findall(r'\[\[package\]\]\nname = "([^"]+)"\nversion = "([^"]+)"', text))
embedding_lock = locked("embedding/Cargo.lock") - {("femscale-embedding-example", "0.1.0")}
for name, version in sorted(embedding_lock - locked("Cargo.lock")):
    errors.append(f"embedding/Cargo.lock has {name} {version}, which the workspace's Cargo.lock "
                  f"does not (copy the workspace's lock in and run a cargo command with --offline)")
# The Python package's native module (crates/python, its own workspace, built by maturin)
# depends on the facade only, as DESIGN.md's table says for `python`; the versions it shares
# with the workspace are the workspace's (PyO3 and numpy are its own).
python_meta = json.loads(subprocess.check_output(
    ["cargo", "metadata", "--format-version", "1", "--no-deps", "--offline",
     "--manifest-path", "crates/python/Cargo.toml"]))
for pkg in python_meta["packages"]:
    inner = {d["name"] for d in pkg["dependencies"]
             if d["name"].startswith("femscale") and d.get("kind") != "dev"}
    for dep in sorted(inner - {"femscale"}):
        errors.append(f"{pkg['name']} (crates/python) must not depend on {dep}")
workspace_lock = locked("Cargo.lock")
workspace_versions = {}
for name, version in workspace_lock:
    workspace_versions.setdefault(name, set()).add(version)
python_lock = locked("crates/python/Cargo.lock")
for name, version in sorted(python_lock):
    if name in workspace_versions and version not in workspace_versions[name]:
        errors.append(f"crates/python/Cargo.lock has {name} {version}; the workspace locks "
                      f"{', '.join(sorted(workspace_versions[name]))}")
for e in errors:
    print("crate boundary violation:", e)
if errors:
    sys.exit(1)
print(f"{len(members)} workspace packages respect the dependency table; "
      f"the facade's minimal feature set builds {len(minimal)} crates, none of "
      f"{', '.join(sorted(OPTIONAL_HEAVY))}; embedding/Cargo.lock's {len(embedding_lock)} "
      f"packages are locked at the workspace's versions; crates/python depends on the facade "
      f"alone and shares the workspace's versions")
