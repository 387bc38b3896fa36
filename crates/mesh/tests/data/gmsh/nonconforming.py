#!/usr/bin/env python3
"""Writes the Gmsh test meshes of femscale-mesh's conformity check, next to this script.

    python3 -m venv venv && venv/bin/pip install gmsh
    venv/bin/python crates/mesh/tests/data/gmsh/nonconforming.py

* unmerged_v41_ascii.msh: the rectangles [0,1]x[0,1] and [1,2]x[0,1] as two OCC surfaces that
  are never fragmented, so the edge x = 1 is two curves meshed separately (two copies of its
  nodes; with different sizes on each side, also nodes on the other side's edges). Groups:
  surfaces "left" (1), "right" (2); curves "outer" (3, every curve but the two at x = 1).
* unmerged_nogroups_v41_ascii.msh: the same without any physical group (its facets are then
  marked by their curves' tags, which excuse nothing).
* fragments_v41_ascii.msh: the same after `occ.fragment`: one shared curve at x = 1,
  conforming. Same groups.
* crack_v41_ascii.msh: the unit square with a slit from (0.5, 0) to (0.5, 0.5) opened by
  gmsh's Crack plugin (nodes along the slit duplicated, also at its mouth on the boundary; the
  tip shared). Groups: surface "domain" (1), curves "outer" (2), "crack" (3: one side of the
  slit; the plugin adds the other side's copies to it too).
* allgroup_v41_ascii.msh: the unit square with a curve group named "all" on the edge x = 0
  only (femscale's `all` is every exterior facet). Groups: surface "domain" (1), curve "all" (2).
"""
import os
import sys

import gmsh

HERE = os.path.dirname(os.path.abspath(__file__))


def two_rectangles(fragment, groups=True):
    occ = gmsh.model.occ
    a = occ.addRectangle(0, 0, 0, 1, 1)
    b = occ.addRectangle(1, 0, 0, 1, 1)
    if fragment:
        occ.fragment([(2, a)], [(2, b)])
    occ.synchronize()
    surfaces = [t for _, t in gmsh.model.getEntities(2)]
    left = [s for s in surfaces if gmsh.model.occ.getCenterOfMass(2, s)[0] < 1]
    right = [s for s in surfaces if gmsh.model.occ.getCenterOfMass(2, s)[0] > 1]
    outer = [t for _, t in gmsh.model.getEntities(1)
             if abs(gmsh.model.occ.getCenterOfMass(1, t)[0] - 1) > 1e-9
             or abs(gmsh.model.occ.getCenterOfMass(1, t)[1] - 0.5) > 0.49]
    if groups:
        gmsh.model.addPhysicalGroup(2, left, 1, "left")
        gmsh.model.addPhysicalGroup(2, right, 2, "right")
        gmsh.model.addPhysicalGroup(1, outer, 3, "outer")
    # Different sizes on the two sides: the interface nodes do not match either.
    for s in left:
        gmsh.model.mesh.setSize(gmsh.model.getBoundary([(2, s)], recursive=True), 0.25)
    for s in right:
        gmsh.model.mesh.setSize(gmsh.model.getBoundary([(2, s)], recursive=True), 0.2)
    gmsh.model.mesh.generate(2)


def crack():
    geo = gmsh.model.geo
    corners = [(0, 0), (0.5, 0), (1, 0), (1, 1), (0, 1)]
    p = [geo.addPoint(x, y, 0, 0.1) for x, y in corners]
    tip = geo.addPoint(0.5, 0.5, 0, 0.1)
    lines = [geo.addLine(p[i], p[(i + 1) % 5]) for i in range(5)]
    slit = geo.addLine(p[1], tip)
    s = geo.addPlaneSurface([geo.addCurveLoop(lines)])
    geo.synchronize()
    gmsh.model.mesh.embed(1, [slit], 2, s)
    gmsh.model.addPhysicalGroup(2, [s], 1, "domain")
    gmsh.model.addPhysicalGroup(1, lines, 2, "outer")
    gmsh.model.addPhysicalGroup(1, [slit], 3, "crack")
    gmsh.model.addPhysicalGroup(0, [p[1]], 4, "mouth")
    gmsh.model.mesh.generate(2)
    gmsh.plugin.setNumber("Crack", "Dimension", 1)
    gmsh.plugin.setNumber("Crack", "PhysicalGroup", 3)
    gmsh.plugin.setNumber("Crack", "OpenBoundaryPhysicalGroup", 4)
    gmsh.plugin.run("Crack")


def all_group():
    geo = gmsh.model.geo
    p = [geo.addPoint(x, y, 0, 0.25) for x, y in [(0, 0), (1, 0), (1, 1), (0, 1)]]
    lines = [geo.addLine(p[i], p[(i + 1) % 4]) for i in range(4)]
    s = geo.addPlaneSurface([geo.addCurveLoop(lines)])
    geo.synchronize()
    gmsh.model.addPhysicalGroup(2, [s], 1, "domain")
    gmsh.model.addPhysicalGroup(1, [lines[3]], 2, "all")
    gmsh.model.mesh.generate(2)


def write(name, build):
    gmsh.model.add(name)
    build()
    gmsh.option.setNumber("Mesh.MshFileVersion", 4.1)
    gmsh.option.setNumber("Mesh.Binary", 0)
    gmsh.write(os.path.join(HERE, f"{name}_v41_ascii.msh"))
    gmsh.model.remove()


def main():
    gmsh.initialize(sys.argv[:1])
    gmsh.option.setNumber("General.Terminal", 0)
    write("unmerged", lambda: two_rectangles(False))
    write("unmerged_nogroups", lambda: two_rectangles(False, groups=False))
    write("fragments", lambda: two_rectangles(True))
    write("crack", crack)
    write("allgroup", all_group)
    gmsh.finalize()


if __name__ == "__main__":
    main()
