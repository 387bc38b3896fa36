#!/usr/bin/env python3
"""Builds the workspace's rustdoc (`cargo doc --no-deps`, -D warnings) and fails on intra-doc
links that rendered as literal text, e.g. "[`CsrMatrix`]" in a page's prose.

rustdoc's lints catch links it cannot resolve, not links it resolves but cannot point to: a link
into another crate renders as its bracketed text when that crate's doc directory does not exist
when rustdoc starts (rustdoc decides "documented locally" by the directory). With --no-deps cargo
runs the workspace's rustdoc jobs in no dependency order and removes a crate's directory when it
documents it (cargo issues #8487, #9447), so `cargo doc --workspace --no-deps` links between our
crates only by luck. This script documents the workspace twice: once in parallel (every crate's
directory then exists), then again one rustdoc at a time (`-j1`, forced by a respelled flag), so
each crate is documented while every other crate's directory is in place; then it scans the pages.
Both passes select the whole workspace: selecting crates layer by layer (`-p`) changes feature
unification per call and rebuilt dependencies each time (over 5 minutes of a CI run).

Usage: python3 .ci/check_docs.py [--no-build]   (--no-build: scan existing pages only)
"""

import html
import json
import os
import pathlib
import re
import subprocess
import sys

# "[<code>Foo</code>]" not followed by "(" (a link renders as <a ...><code>Foo</code></a>).
CODE_LINK = re.compile(r"\[<code>([^<]{1,200})</code>\](?![(\[])")
# "[Foo]", "[foo::Bar]", "[Foo::bar()]" in prose (code spans and tags removed first).
PLAIN_LINK = re.compile(r"\[((?:[A-Za-z_][A-Za-z0-9_]*::)*[A-Za-z_][A-Za-z0-9_]*(?:\(\))?)\](?![(\[])")
# A link rustdoc could not turn into a URL but wrote out as given, e.g. href="crate::Foo".
RAW_HREF = re.compile(r'<a href="([^"/#]*::[^"]*)"')
# Literal links in text this workspace does not write: abi_stable's generated trait-object docs
# (links to its hidden `*_MV::VTABLE`), figment's `Provider` docs on our impls (`Metadata`,
# `crate::Figment`).
FOREIGN = re.compile(r"^(?:\w+_MV::VTABLE|Metadata|crate::Figment)$")
PRE = re.compile(r"<pre[^>]*>.*?</pre>", re.S)
DOCBLOCK = re.compile(r'<div class="docblock[^"]*">(.*?)</div>', re.S)


def workspace():
    """The doc directory, the library crate names and the external crates' names."""
    out = subprocess.run(
        ["cargo", "metadata", "--no-deps", "--format-version", "1"],
        check=True, capture_output=True, text=True,
    ).stdout
    meta = json.loads(out)
    names = {p["name"] for p in meta["packages"]}
    external = {
        d.get("rename") or d["name"]
        for p in meta["packages"]
        for d in p["dependencies"]
        if d["name"] not in names
    }
    libs = sorted({
        t["name"].replace("-", "_")
        for p in meta["packages"]
        for t in p["targets"]
        if any(k in ("lib", "rlib", "dylib", "cdylib", "proc-macro") for k in t["kind"])
        and t.get("doc", True)
    })
    external = {n.replace("-", "_") for n in external}
    return pathlib.Path(meta["target_directory"]) / "doc", libs, external


def page_findings(text, external):
    """Links in one page's own prose that rendered as text or as a raw path."""
    # Blanket impls document other crates' traits (tracing's `Instrument`, ...), whose links
    # point into crates `--no-deps` does not document: not this workspace's prose.
    cut = text.find('id="blanket-implementations-list"')
    if cut >= 0:
        text = text[:cut]
    text = PRE.sub("", text)
    found = [m.group(0) for m in CODE_LINK.finditer(text)]
    for block in DOCBLOCK.finditer(text):
        prose = re.sub(r"<code>.*?</code>", "", block.group(1), flags=re.S)
        prose = html.unescape(re.sub(r"<[^>]+>", "", prose))
        found += [m.group(0) for m in PLAIN_LINK.finditer(prose)]
    found += [f'href="{m.group(1)}"' for m in RAW_HREF.finditer(text)]

    # `--no-deps` does not document dependencies: a link spelled with its crate's name, e.g.
    # [`faer::Par::Seq`], renders as text here and as a link in `cargo doc` with dependencies.
    def ours(hit):
        target = re.sub(r"</?code>|^\[|\]$|^href=\"|\"$", "", hit)
        target = re.sub(r"^\w+@|#.*$", "", target).lstrip(":")
        return target.split("::")[0] not in external and not FOREIGN.match(target)

    return [h for h in found if ours(h)]


def main():
    doc, libs, external = workspace()
    if "--no-build" not in sys.argv[1:]:
        base = os.environ.get("RUSTDOCFLAGS", "")
        # The same flags spelled two ways: the second pass's fingerprint differs, so cargo reruns
        # rustdoc (only rustdoc: RUSTDOCFLAGS do not touch the compiled crates).
        for flags, jobs in ((f"{base} -D warnings", []), (f"{base} -Dwarnings", ["-j1"])):
            env = dict(os.environ, RUSTDOCFLAGS=flags.strip())
            cmd = ["cargo", "doc", "--workspace", "--no-deps", "--quiet", *jobs]
            subprocess.run(cmd, check=True, env=env)
    problems = 0
    for lib in libs:
        pages = sorted((doc / lib).rglob("*.html"))
        if not pages:
            print(f"no pages for {lib} under {doc}")
            problems += 1
        for page in pages:
            for hit in sorted(set(page_findings(page.read_text(errors="replace"), external))):
                print(f"{page.relative_to(doc)}: link rendered as {html.unescape(hit)}")
                problems += 1
    if problems:
        print(f"{problems} link(s) rendered as text: fix the link or escape the brackets (\\[ \\])")
        return 1
    print(f"rustdoc: {len(libs)} crates, no link rendered as text")
    return 0


if __name__ == "__main__":
    sys.exit(main())
