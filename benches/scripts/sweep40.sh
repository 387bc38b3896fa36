#!/bin/sh
# One fresh 40-run sweep (benches/scripts/sweep40.toml) with the femscale binary $1, into a
# temporary directory removed afterwards, so that every timed run does all 40 runs. A/B: time
# `benches/scripts/sweep40.sh OLD/femscale` against `benches/scripts/sweep40.sh
# target/release/femscale`, alternating, 7 pairs, and compare medians.
set -u
here=$(dirname "$0")
d=$(mktemp -d)
"$1" run "$here/sweep40.toml" -o "$d/out" --quiet
rc=$?
rm -rf "$d"
exit $rc
