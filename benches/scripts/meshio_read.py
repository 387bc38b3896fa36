#!/usr/bin/env python3
"""Times meshio.read on the files of the gmsh_read benchmark, for the femscale/meshio ratio.

    python3 -m venv venv && venv/bin/pip install meshio
    GMSH_BENCH_DIR=/tmp/gmsh-bench cargo bench -p femscale-benches --bench gmsh_read
    venv/bin/python benches/scripts/meshio_read.py /tmp/gmsh-bench [RUNS]

Prints, per file, the median and range of RUNS (default 5) wall-clock reads, after one warm-up
read, and checks the triangle count.
"""
import statistics
import sys
import time
from pathlib import Path

import meshio


def main():
    directory = Path(sys.argv[1])
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    print(f"meshio {meshio.__version__}, {runs} runs after one warm-up read")
    for name in ["tri1m_v41_binary.msh", "tri1m_v41_ascii.msh"]:
        path = directory / name
        mesh = meshio.read(path)
        triangles = sum(len(b.data) for b in mesh.cells if b.type == "triangle")
        assert triangles == 2 * 708 * 708, triangles
        times = []
        for _ in range(runs):
            start = time.perf_counter()
            meshio.read(path)
            times.append(time.perf_counter() - start)
        print(
            f"{name}: median {statistics.median(times):.3f} s "
            f"(min {min(times):.3f}, max {max(times):.3f})"
        )


if __name__ == "__main__":
    main()
