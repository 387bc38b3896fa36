#!/usr/bin/env python3
"""Checks the crate dependency directions of DESIGN.md section 1 with `cargo metadata`.

A workspace crate may depend (normal or build dependency) only on the workspace crates listed
for it below; dev-dependencies are free. Exits non-zero and names every violation.
"""
import json
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
    "femscale-plugin-api": set(),
    "femscale-runtime": {"femscale-core", "femscale-expr", "femscale-mesh", "femscale-assembly",
                          "femscale-solvers", "femscale-cache", "femscale-scaling",
                          "femscale-plugin-api"},
    "femscale-experiment": {"femscale-core", "femscale-expr", "femscale-mesh", "femscale-assembly",
                             "femscale-solvers", "femscale-cache", "femscale-scaling",
                             "femscale-plugin-api", "femscale-runtime"},
    "femscale": {"femscale-core", "femscale-expr", "femscale-mesh", "femscale-assembly",
                 "femscale-solvers", "femscale-cache", "femscale-scaling", "femscale-runtime",
                 "femscale-experiment"},
    "femscale-cli": {"femscale"},
}
# Test, example and bench packages may use the facade.
FREE = {"femscale-tests", "femscale-examples", "femscale-benches"}

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
for e in errors:
    print("crate boundary violation:", e)
if errors:
    sys.exit(1)
print(f"{len(members)} workspace packages respect the dependency table")
