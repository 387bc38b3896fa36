#!/usr/bin/env python3
"""The reference energy E = ‖∇u‖² = (f, u) of -Δu = 1 on the L-shape, u = 0 on the boundary,
computed independently of femscale: scikit-fem's P2 on uniformly refined meshes of its L-shape
((-1,1)² minus the first quadrant, a rotation of femscale's), Richardson-extrapolated with
E - a(u_h, u_h) ∝ h^(4/3) (the corner singularity u ~ r^(2/3)). Issue 19 quotes E = 0.2140750232;
this gives 0.21407580, as femscale's adaptive P2 does (docs/performance.md).

    python3 -m venv venv && venv/bin/pip install scikit-fem
    venv/bin/python benches/scripts/skfem_lshape_energy.py [finest refinement = 8]
"""

import sys

from skfem import Basis, ElementTriP2, MeshTri, asm, condense, solve
from skfem.models.poisson import laplace, unit_load


def main():
    finest = int(sys.argv[1]) if len(sys.argv) > 1 else 8
    energies = []
    for r in range(2, finest + 1):
        basis = Basis(MeshTri.init_lshaped().refined(r), ElementTriP2())
        a, b = asm(laplace, basis), asm(unit_load, basis)
        u = solve(*condense(a, b, D=basis.get_dofs()))
        energies.append(float(b @ u))
        print(f"refinements {r}: {basis.N:>9,} DOFs  a(u_h, u_h) = {energies[-1]!r}", flush=True)
    q = 2 ** (4 / 3)  # the error's ratio per halving of h
    for k in range(1, len(energies)):
        coarse, fine = energies[k - 1], energies[k]
        print(f"Richardson from refinements {k + 1}, {k + 2}: E = {fine + (fine - coarse) / (q - 1)!r}")


if __name__ == "__main__":
    main()
