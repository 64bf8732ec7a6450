#!/usr/bin/env python3
"""Lists pairs of top-level modules of a crate that use each other (`crate::a` in b and
`crate::b` in a, test modules left out): the circles issue 17 removes. Exits 1 if any.

    scripts/module-cycles.py [CRATE_DIR...]     (default: every library crate)
"""
import os
import re
import sys

crates = sys.argv[1:] or ["uapi", "obj", "sys", "maps", "prog", "loader"]
here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
found = 0
for crate in crates:
    root = os.path.join(here, crate, "src")
    uses = {}
    for dirpath, _, files in os.walk(root):
        for f in files:
            if not f.endswith(".rs"):
                continue
            path = os.path.join(dirpath, f)
            top = os.path.relpath(path, root).split(os.sep)[0].removesuffix(".rs")
            if top in ("lib", "main"):
                continue
            text = open(path, encoding="utf-8").read()
            text = re.sub(r"#\[cfg\(test\)\]\s*mod tests\s*\{.*", "", text, flags=re.S)
            for m in re.findall(r"crate::(\w+)", text):
                if m != top:
                    uses.setdefault(top, set()).add(m)
    for a in sorted(uses):
        for b in sorted(uses[a]):
            if a < b and a in uses.get(b, ()):
                print(f"{crate}: {a} <-> {b}")
                found += 1
sys.exit(1 if found else 0)
