#!/usr/bin/env python3
"""Writes meshes/lshape.msh: the L-shape (-1,1)^2 minus [0,1)x(-1,0], coarse first-order
triangles (about 100) for the adaptive-refinement benchmark of issue 19.

    python3 -m venv venv && venv/bin/pip install gmsh
    venv/bin/python examples/configs/meshes/lshape.py

Physical groups: surface "domain" (1); curves "boundary" (1, all six edges) and "reentrant"
(2, the two edges meeting at the re-entrant corner (0, 0)). Gmsh format 4.1, ASCII.
"""
import os
import sys

import gmsh

HERE = os.path.dirname(os.path.abspath(__file__))
SIZE = 0.3  # target edge length: gives about 100 triangles


def main():
    gmsh.initialize(sys.argv[:1])
    gmsh.option.setNumber("General.Terminal", 0)
    gmsh.model.add("lshape")
    geo = gmsh.model.geo
    corners = [(-1, -1), (0, -1), (0, 0), (1, 0), (1, 1), (-1, 1)]
    points = [geo.addPoint(x, y, 0, SIZE) for x, y in corners]
    lines = [geo.addLine(points[i], points[(i + 1) % len(points)]) for i in range(len(points))]
    loop = geo.addCurveLoop(lines)
    surface = geo.addPlaneSurface([loop])
    geo.synchronize()
    # lines[1]: (0,-1)-(0,0) and lines[2]: (0,0)-(1,0) meet at the re-entrant corner.
    gmsh.model.addPhysicalGroup(2, [surface], 1, "domain")
    gmsh.model.addPhysicalGroup(1, lines, 1, "boundary")
    gmsh.model.addPhysicalGroup(1, [lines[1], lines[2]], 2, "reentrant")
    gmsh.option.setNumber("Mesh.MeshSizeMax", SIZE)
    gmsh.option.setNumber("Mesh.Algorithm", 6)  # Frontal-Delaunay: regular triangles
    gmsh.model.mesh.generate(2)
    gmsh.option.setNumber("Mesh.MshFileVersion", 4.1)
    gmsh.option.setNumber("Mesh.Binary", 0)
    path = os.path.join(HERE, "lshape.msh")
    gmsh.write(path)
    _, tags, _ = gmsh.model.mesh.getElements(2)
    print(f"{path}: {sum(len(t) for t in tags)} triangles, gmsh {gmsh.__version__}")
    gmsh.finalize()


if __name__ == "__main__":
    main()
