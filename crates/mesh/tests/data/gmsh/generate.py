#!/usr/bin/env python3
"""Regenerates the Gmsh test meshes of femscale-mesh's gmsh reader tests.

    python3 -m venv venv && venv/bin/pip install gmsh
    venv/bin/python crates/mesh/tests/data/gmsh/generate.py

Writes, next to this script:
* <mesh>_{v22,v41}_{ascii,binary}.msh for the L-shape, disk, quadrilateral square, two-material
  annulus and tetrahedral cube (all four encodings of one mesh);
* saveall_v41_{ascii,binary}.msh (Mesh.SaveAll = 1: elements outside physical groups) and
  saveall_v22_ascii.msh (2.2 with SaveAll: every physical tag 0, so its $PhysicalNames is
  refused), nogroups_v22_ascii.msh and nogroups_v41_binary.msh (no physical groups at all),
  sparse_v41_ascii.msh and sparse_v22_binary.msh (sparse, non-contiguous node tags and orphan
  nodes: gmsh's own in 4.1 with SaveAll, appended by a script step in 2.2),
  order2_v41_ascii.msh (second-order triangles, gmsh type 9, no boundary group);
* second-order meshes in all four encodings: disk2 (triangle6 with a line3 boundary `outer`,
  nodes on the circle: curved), cube2tet (tet10, face groups as `cube`) and cube2hex (a
  2 x 2 x 2 transfinite hex27 cube, straight, face groups as `cube`);
* expected.json: what gmsh reported for each file (points used by elements, elements per kind,
  elements per physical group, physical names);
* broken/*.msh, derived from the good files by the edits documented in BROKEN below, and
  broken/expected.json with the section, position and message each must produce.
"""
import json
import os
import struct

import gmsh

HERE = os.path.dirname(os.path.abspath(__file__))
KIND = {15: "point", 1: "line", 2: "triangle", 3: "quadrangle", 4: "tetrahedron", 5: "hexahedron",
        8: "line3", 9: "triangle6", 10: "quadrangle9", 11: "tetrahedron10", 12: "hexahedron27"}
FORMATS = [("v22", 2.2, "ascii", 0), ("v22", 2.2, "binary", 1), ("v41", 4.1, "ascii", 0), ("v41", 4.1, "binary", 1)]


def lshape():
    occ = gmsh.model.occ
    a = occ.addRectangle(0, 0, 0, 2, 2)
    b = occ.addRectangle(1, 1, 0, 1, 1)
    occ.cut([(2, a)], [(2, b)])
    occ.synchronize()
    curves = [c for _, c in gmsh.model.getEntities(1)]
    inlet = [c for c in curves if abs(gmsh.model.occ.getCenterOfMass(1, c)[0]) < 1e-9]
    walls = [c for c in curves if c not in inlet]
    gmsh.model.addPhysicalGroup(2, [s for _, s in gmsh.model.getEntities(2)], 1, "domain")
    gmsh.model.addPhysicalGroup(1, walls, 11, "walls")
    gmsh.model.addPhysicalGroup(1, inlet, 12, "inlet")
    gmsh.option.setNumber("Mesh.MeshSizeMax", 0.25)
    gmsh.model.mesh.generate(2)


def disk(order=1):
    occ = gmsh.model.occ
    occ.addDisk(0, 0, 0, 1, 1)
    occ.synchronize()
    gmsh.model.addPhysicalGroup(2, [1], 1, "disk")
    if order == 1:
        gmsh.model.addPhysicalGroup(1, [c for _, c in gmsh.model.getEntities(1)], 2, "outer")
    gmsh.option.setNumber("Mesh.MeshSizeMax", 0.2)
    gmsh.model.mesh.generate(2)
    if order == 2:
        gmsh.model.mesh.setOrder(2)


def disk2():
    """The unit disk in second-order triangles with its rim `outer` (line3), coarse."""
    occ = gmsh.model.occ
    occ.addDisk(0, 0, 0, 1, 1)
    occ.synchronize()
    gmsh.model.addPhysicalGroup(2, [1], 1, "disk")
    gmsh.model.addPhysicalGroup(1, [c for _, c in gmsh.model.getEntities(1)], 2, "outer")
    gmsh.option.setNumber("Mesh.MeshSizeMax", 0.5)
    gmsh.model.mesh.generate(2)
    gmsh.model.mesh.setOrder(2)


def cube_faces():
    """Physical groups of the unit box's faces, named as in `cube` (xmin 11, ...)."""
    occ = gmsh.model.occ
    gmsh.model.addPhysicalGroup(3, [1], 1, "cube")
    for _, s in gmsh.model.getEntities(2):
        c = occ.getCenterOfMass(2, s)
        axis = max(range(3), key=lambda k: abs(c[k] - 0.5))
        name = "xyz"[axis] + ("min" if c[axis] < 0.5 else "max")
        gmsh.model.addPhysicalGroup(2, [s], 10 + s, name)


def cube2tet():
    """The unit cube in second-order tetrahedra (tet10, triangle6 faces), coarse."""
    gmsh.model.occ.addBox(0, 0, 0, 1, 1, 1)
    gmsh.model.occ.synchronize()
    cube_faces()
    # The box's point sizes (about 0.2) win over MeshSizeMax: coarsen by a factor instead.
    gmsh.option.setNumber("Mesh.MeshSizeFactor", 3)
    gmsh.model.mesh.generate(3)
    gmsh.model.mesh.setOrder(2)


def cube2hex():
    """The unit cube as 2 x 2 x 2 transfinite hex27 cells (quad9 faces)."""
    gmsh.model.occ.addBox(0, 0, 0, 1, 1, 1)
    gmsh.model.occ.synchronize()
    cube_faces()
    for _, c in gmsh.model.getEntities(1):
        gmsh.model.mesh.setTransfiniteCurve(c, 3)
    for _, s in gmsh.model.getEntities(2):
        gmsh.model.mesh.setTransfiniteSurface(s)
        gmsh.model.mesh.setRecombine(2, s)
    gmsh.model.mesh.setTransfiniteVolume(1)
    gmsh.option.setNumber("Mesh.Recombine3DAll", 1)
    gmsh.model.mesh.generate(3)
    gmsh.model.mesh.setOrder(2)


def unit_square_sides():
    """The curves of the unit square by side name (`left`, `right`, `bottom`, `top`)."""
    sides = {}
    for _, c in gmsh.model.getEntities(1):
        x, y, _ = gmsh.model.occ.getCenterOfMass(1, c)
        name = "left" if x < 1e-9 else "right" if x > 1 - 1e-9 else "bottom" if y < 1e-9 else "top"
        sides[name] = c
    return sides


def square():
    occ = gmsh.model.occ
    occ.addRectangle(0, 0, 0, 1, 1)
    occ.synchronize()
    gmsh.model.addPhysicalGroup(2, [1], 1, "square")
    sides = unit_square_sides()
    for tag, name in enumerate(["left", "right", "bottom", "top"], start=11):
        gmsh.model.addPhysicalGroup(1, [sides[name]], tag, name)
    # Every side is also in `boundary`: 2.2 writes those lines twice, the reader merges them.
    gmsh.model.addPhysicalGroup(1, list(sides.values()), 20, "boundary")
    gmsh.option.setNumber("Mesh.MeshSizeMax", 0.125)
    gmsh.option.setNumber("Mesh.RecombineAll", 1)
    gmsh.model.mesh.generate(2)


def structured():
    """The unit square as 8 x 8 transfinite quadrangles with the generator's side markers
    (left 1, right 2, bottom 3, top 4): the same mesh as `Mesh::rectangle` with nx = ny = 8."""
    occ = gmsh.model.occ
    occ.addRectangle(0, 0, 0, 1, 1)
    occ.synchronize()
    gmsh.model.addPhysicalGroup(2, [1], 1, "square")
    sides = unit_square_sides()
    for c in sides.values():
        gmsh.model.mesh.setTransfiniteCurve(c, 9)
    for tag, name in enumerate(["left", "right", "bottom", "top"], start=1):
        gmsh.model.addPhysicalGroup(1, [sides[name]], tag, name)
    gmsh.model.mesh.setTransfiniteSurface(1)
    gmsh.model.mesh.setRecombine(2, 1)
    gmsh.model.mesh.generate(2)


def annulus():
    occ = gmsh.model.occ
    outer = occ.addDisk(0, 0, 0, 1, 1)
    middle = occ.addDisk(0, 0, 0, 0.6, 0.6)
    inner = occ.addDisk(0, 0, 0, 0.3, 0.3)
    ring_out = occ.cut([(2, outer)], [(2, middle)], removeTool=False)[0]
    ring_in = occ.cut([(2, middle)], [(2, inner)])[0]
    occ.fragment(ring_out, ring_in)
    occ.synchronize()
    by_radius = {}
    for _, s in gmsh.model.getEntities(2):
        xmin, _, _, xmax, _, _ = gmsh.model.getBoundingBox(2, s)
        by_radius[round(xmax, 3)] = s
    copper, steel = by_radius[0.6], by_radius[1.0]
    curves = {}
    for _, c in gmsh.model.getEntities(1):
        _, _, _, xmax, _, _ = gmsh.model.getBoundingBox(1, c)
        curves.setdefault(round(xmax, 3), []).append(c)
    gmsh.model.addPhysicalGroup(2, [copper], 1, "copper")
    gmsh.model.addPhysicalGroup(2, [steel], 2, "steel")
    gmsh.model.addPhysicalGroup(1, curves[0.3], 11, "inner")
    gmsh.model.addPhysicalGroup(1, curves[1.0], 12, "outer")
    gmsh.model.addPhysicalGroup(1, curves[0.6], 13, "interface")
    gmsh.option.setNumber("Mesh.MeshSizeMax", 0.15)
    gmsh.model.mesh.generate(2)


def cube():
    occ = gmsh.model.occ
    occ.addBox(0, 0, 0, 1, 1, 1)
    occ.synchronize()
    gmsh.model.addPhysicalGroup(3, [1], 1, "cube")
    for _, s in gmsh.model.getEntities(2):
        c = occ.getCenterOfMass(2, s)
        axis = max(range(3), key=lambda k: abs(c[k] - 0.5))
        name = "xyz"[axis] + ("min" if c[axis] < 0.5 else "max")
        gmsh.model.addPhysicalGroup(2, [s], 10 + s, name)
    gmsh.option.setNumber("Mesh.MeshSizeMax", 0.3)
    gmsh.model.mesh.generate(3)


def saveall():
    """An L-shape where only the surface is physical: its boundary lines are saved anyway."""
    occ = gmsh.model.occ
    occ.addRectangle(0, 0, 0, 1, 1)
    occ.synchronize()
    gmsh.model.addPhysicalGroup(2, [1], 5, "plate")
    gmsh.option.setNumber("Mesh.MeshSizeMax", 0.25)
    gmsh.model.mesh.generate(2)
    gmsh.option.setNumber("Mesh.SaveAll", 1)


def nogroups():
    occ = gmsh.model.occ
    occ.addRectangle(0, 0, 0, 1, 0.5)
    occ.synchronize()
    gmsh.option.setNumber("Mesh.MeshSizeMax", 0.2)
    gmsh.model.mesh.generate(2)


def sparse_tag(t, n):
    """The sparse renumbering of node tag t in a mesh of n nodes."""
    return 1000 + 7 * ((t * 37) % (n + 11)) ** 2


def sparsify_v22_binary(name):
    """Script step for 2.2: gmsh 2.2 without SaveAll writes node tags 1..n whatever the model's
    tags are, so the binary file's tags are rewritten here with sparse_tag (in $Nodes and
    $Elements), and orphan nodes 5, 999999999 and 3 are appended to $Nodes (count + 3)."""
    data = bytearray(read(name))
    at = data.index(b"$Nodes\n") + 7
    end = data.index(b"\n", at)
    n = int(data[at:end])
    for i in range(n):
        o = end + 1 + 28 * i
        (t,) = struct.unpack_from("<i", data, o)
        struct.pack_into("<i", data, o, sparse_tag(t, n))
    nodes_end = end + 1 + n * 28
    assert data[nodes_end:nodes_end + 10] == b"\n$EndNodes"
    at = data.index(b"$Elements\n") + 10
    e_end = data.index(b"\n", at)
    left, o = int(data[at:e_end]), e_end + 1
    per = {15: 1, 1: 2, 2: 3}
    while left > 0:
        etype, count, ntags = struct.unpack_from("<iii", data, o)
        o += 12
        for _ in range(count):
            o += 4 * (1 + ntags)
            for _ in range(per[etype]):
                (t,) = struct.unpack_from("<i", data, o)
                struct.pack_into("<i", data, o, sparse_tag(t, n))
                o += 4
        left -= count
    extra = b"".join(struct.pack("<iddd", t, x, x, 0.0) for t, x in [(5, 9.0), (999999999, 8.0), (3, 7.0)])
    count_at = data.index(b"$Nodes\n") + 7
    out = data[:count_at] + str(n + 3).encode() + data[end:nodes_end] + extra + data[nodes_end:]
    with open(os.path.join(HERE, name), "wb") as f:
        f.write(out)


def sparse(save_all=True):
    """Node tags renumbered to 1000 + 7*(old tag)^2 order-scrambled, plus orphan nodes: a discrete
    point entity holding three nodes (tags 5, 999999999, 3) and no elements."""
    occ = gmsh.model.occ
    occ.addRectangle(0, 0, 0, 1, 1)
    occ.synchronize()
    gmsh.model.addPhysicalGroup(2, [1], 1, "plate")
    gmsh.model.addPhysicalGroup(1, [c for _, c in gmsh.model.getEntities(1)], 2, "rim")
    gmsh.option.setNumber("Mesh.MeshSizeMax", 0.3)
    gmsh.model.mesh.generate(2)
    old, _, _ = gmsh.model.mesh.getNodes()
    old = [int(t) for t in old]
    n = len(old)
    new = [sparse_tag(t, n) for t in old]
    assert len(set(new)) == n
    gmsh.model.mesh.renumberNodes(old, new)
    p = gmsh.model.addDiscreteEntity(0)
    gmsh.model.mesh.addNodes(0, p, [5, 999999999, 3], [9, 9, 0, 8, 8, 0, 7, 7, 0])
    gmsh.option.setNumber("Mesh.SaveAll", 1 if save_all else 0)


def expected():
    """Counts as gmsh reports them for the current model and options."""
    save_all = gmsh.option.getNumber("Mesh.SaveAll") == 1
    groups = gmsh.model.getPhysicalGroups()
    in_group = set()
    physicals = []
    for dim, tag in groups:
        ents = gmsh.model.getEntitiesForPhysicalGroup(dim, tag)
        count = 0
        for e in ents:
            in_group.add((dim, int(e)))
            types, tags, _ = gmsh.model.mesh.getElements(dim, int(e))
            count += sum(len(t) for t in tags)
        physicals.append({"dim": dim, "tag": tag, "name": gmsh.model.getPhysicalName(dim, tag), "elements": count})
    kinds, nodes = {}, set()
    for dim, ent in gmsh.model.getEntities():
        if not (save_all or not groups or (dim, ent) in in_group):
            continue
        types, tags, node_tags = gmsh.model.mesh.getElements(dim, ent)
        for t, et, nt in zip(types, tags, node_tags):
            name = KIND.get(int(t), f"type{int(t)}")
            kinds[name] = kinds.get(name, 0) + len(et)
            nodes.update(int(n) for n in nt)
    all_nodes = len(gmsh.model.mesh.getNodes()[0])
    return {"points": len(nodes), "nodes_in_file": all_nodes, "elements": kinds, "physicals": physicals}


def build(name, make, formats=FORMATS):
    gmsh.clear()
    gmsh.model.add(name)
    make()
    info = expected()
    files = []
    for tag, version, enc, binary in formats:
        gmsh.option.setNumber("Mesh.MshFileVersion", version)
        gmsh.option.setNumber("Mesh.Binary", binary)
        fname = f"{name}_{tag}_{enc}.msh" if len(formats) == 4 else f"{name}_{tag}_{enc}.msh"
        gmsh.write(os.path.join(HERE, fname))
        files.append(fname)
    gmsh.option.setNumber("Mesh.SaveAll", 0)
    gmsh.option.setNumber("Mesh.RecombineAll", 0)
    gmsh.option.setNumber("Mesh.Recombine3DAll", 0)
    gmsh.option.setNumber("Mesh.MeshSizeFactor", 1)
    gmsh.option.setNumber("Mesh.MeshSizeMax", 1e22)
    info["files"] = files
    return info


def read(name):
    with open(os.path.join(HERE, name), "rb") as f:
        return f.read()


def line_of(data, offset):
    return data[:offset].count(b"\n") + 1


def nth_line_start(data, marker, skip):
    """Offset of the line `skip` lines after the line holding `marker`."""
    at = data.index(marker)
    for _ in range(skip):
        at = data.index(b"\n", at) + 1
    return at


def broken():
    """Each broken file: (name, bytes, section, position, message substring)."""
    out = []
    lshape41 = read("lshape_v41_ascii.msh")
    lshape22 = read("lshape_v22_ascii.msh")
    disk41b = read("disk_v41_binary.msh")
    disk22b = read("disk_v22_binary.msh")

    # Truncated ASCII: cut in the middle of the 5th line after $Elements' header.
    at = nth_line_start(lshape41, b"$Elements\n", 6) + 3
    data = lshape41[:at]
    out.append(("truncated_ascii.msh", data, "$Elements", f":{line_of(data, len(data))}", "unexpected end of file"))
    # Truncated binary (4.1): cut 100 bytes into the node data.
    at = disk41b.index(b"$Nodes\n") + 7 + 100
    out.append(("truncated_binary.msh", disk41b[:at], "$Nodes", " at byte ", "unexpected end of file"))
    # Truncated binary (2.2): cut 10 bytes into the element data.
    at = disk22b.index(b"$Elements\n") + 10
    at = disk22b.index(b"\n", at) + 1 + 10
    out.append(("truncated_binary_v22.msh", disk22b[:at], "$Elements", " at byte ", "unexpected end of file"))
    # Wrong count: the 2.2 $Nodes count one larger, so `$EndNodes` is read as a node tag.
    at = lshape22.index(b"$Nodes\n") + 7
    end = lshape22.index(b"\n", at)
    n = int(lshape22[at:end])
    data = lshape22[:at] + str(n + 1).encode() + lshape22[end:]
    eat = data.index(b"$EndNodes")
    out.append(("wrong_count.msh", data, "$Nodes", f":{line_of(data, eat)}", "found `$EndNodes`"))
    # Wrong count (4.1): the $Elements header announces one element more than its blocks hold.
    at = lshape41.index(b"$Elements\n") + 10
    end = lshape41.index(b"\n", at)
    fields = lshape41[at:end].split()
    fields[1] = str(int(fields[1]) + 1).encode()
    data = lshape41[:at] + b" ".join(fields) + lshape41[end:]
    out.append(("wrong_total.msh", data, "$Elements", f":{line_of(data, at)}", "announces"))
    # Undefined node tag: the first node of the first 2.2 element becomes 99999.
    at = nth_line_start(lshape22, b"$Elements\n", 2)
    end = lshape22.index(b"\n", at)
    fields = lshape22[at:end].split()
    fields[-1] = b"99999"
    data = lshape22[:at] + b" ".join(fields) + lshape22[end:]
    out.append(("undefined_node.msh", data, "$Elements", f":{line_of(data, at)}", "node tag 99999 is not defined in $Nodes"))
    # Unknown element type: the type of the first 2.2 element becomes 99.
    fields = lshape22[at:end].split()
    fields[1] = b"99"
    data = lshape22[:at] + b" ".join(fields) + lshape22[end:]
    out.append(("unknown_type.msh", data, "$Elements", f":{line_of(data, at)}", "unknown gmsh element type 99"))
    # NaN coordinate: the x of the first node of the 4.1 file's first block with coordinates.
    at = nth_line_start(lshape41, b"$Nodes\n", 4)
    end = lshape41.index(b" ", at)
    data = lshape41[:at] + b"nan" + lshape41[end:]
    out.append(("nan_coordinate.msh", data, "$Nodes", f":{line_of(data, at)}", "non-finite coordinate"))
    # Wrong endianness: the check integer 1 written big-endian.
    at = disk41b.index(b"4.1 1 8\n") + 8
    data = disk41b[:at] + struct.pack(">i", 1) + disk41b[at + 4:]
    out.append(("big_endian.msh", data, "$MeshFormat", f" at byte {at}", "big-endian"))
    # Data size 4.
    data = lshape41.replace(b"4.1 0 8", b"4.1 0 4", 1)
    out.append(("data_size_4.msh", data, "$MeshFormat", ":2", "data size 4"))
    # $PhysicalNames entry for a group that no entity has (dim 2, tag 99).
    at = lshape41.index(b"$PhysicalNames\n") + 15
    end = lshape41.index(b"\n", at)
    n = int(lshape41[at:end])
    data = lshape41[:at] + str(n + 1).encode() + b'\n2 99 "ghost"' + lshape41[end:]
    gat = data.index(b'2 99 "ghost"')
    out.append(("missing_group.msh", data, "$PhysicalNames", f":{line_of(data, gat)}", "`ghost`"))
    # Version 3.0.
    data = lshape41.replace(b"4.1 0 8", b"3.0 0 8", 1)
    out.append(("version_3.msh", data, "$MeshFormat", ":2", "MSH version 3.0 is not supported"))
    # Missing $MeshFormat: the first three lines removed.
    data = lshape41[nth_line_start(lshape41, b"$MeshFormat", 3):]
    out.append(("missing_meshformat.msh", data, "$MeshFormat", ":1", "missing $MeshFormat"))
    # Missing $EndNodes marker (removed): the reader finds $Elements instead.
    eat = lshape41.index(b"$EndNodes\n")
    data = lshape41[:eat] + lshape41[eat + 10:]
    out.append(("missing_end.msh", data, "$Nodes", f":{line_of(data, eat)}", "expected $EndNodes"))
    manifest = {}
    for name, data, section, position, message in out:
        with open(os.path.join(HERE, "broken", name), "wb") as f:
            f.write(data)
        manifest[name] = {"section": section, "position": position, "message": message}
    with open(os.path.join(HERE, "broken", "expected.json"), "w") as f:
        json.dump(manifest, f, indent=1, sort_keys=True)
        f.write("\n")


def main():
    gmsh.initialize(["-v", "0"] if False else [])
    gmsh.option.setNumber("General.Terminal", 0)
    gmsh.option.setNumber("Mesh.RandomSeed", 1)
    out = {}
    out["lshape"] = build("lshape", lshape)
    out["disk"] = build("disk", disk)
    out["square"] = build("square", square)
    out["annulus"] = build("annulus", annulus)
    out["cube"] = build("cube", cube)
    out["structured"] = build("structured", structured, [("v41", 4.1, "ascii", 0)])
    # 2.2 with SaveAll writes every element with physical tag 0: the reader refuses its
    # $PhysicalNames (tested as such); 4.1 keeps the groups in $Entities.
    out["saveall"] = build("saveall", saveall, [("v41", 4.1, "ascii", 0), ("v41", 4.1, "binary", 1), ("v22", 2.2, "ascii", 0)])
    out["nogroups"] = build("nogroups", nogroups, [("v22", 2.2, "ascii", 0), ("v41", 4.1, "binary", 1)])
    out["sparse"] = build("sparse", sparse, [("v41", 4.1, "ascii", 0)])
    # 2.2 keeps physical groups only without SaveAll, which renumbers nodes 1..n and drops the
    # orphans: sparsify_v22_binary puts both back.
    out["sparse22"] = build("sparse", lambda: sparse(save_all=False), [("v22", 2.2, "binary", 1)])
    out["sparse22"]["nodes_in_file"] = out["sparse22"]["points"] + 3
    sparsify_v22_binary("sparse_v22_binary.msh")
    out["order2"] = build("order2", lambda: disk(order=2), [("v41", 4.1, "ascii", 0)])
    out["disk2"] = build("disk2", disk2)
    out["cube2tet"] = build("cube2tet", cube2tet)
    out["cube2hex"] = build("cube2hex", cube2hex)
    out["gmsh_version"] = gmsh.__version__
    with open(os.path.join(HERE, "expected.json"), "w") as f:
        json.dump(out, f, indent=1, sort_keys=True)
        f.write("\n")
    gmsh.finalize()
    broken()


if __name__ == "__main__":
    main()
