"""Calls go down the layers only (docs/ARCHITECTURE.md): read src/, find
where each non-static function is defined, and for every module (a folder
of src/) the modules whose functions it calls and whose headers it
includes; each must sit on a lower layer. Also fails on a cycle, on a
module that is not in the table below, and when the reading finds too
little (so that a changed layout cannot pass by matching nothing).

    python3 tests/e2e/layers.py --graph    prints the module graph"""
import glob
import os
import re
import sys

from jdtest import TOP_SRC, check, eq, ok, done

# The layers, lowest first: a module may use only modules of a lower rank.
RANK = {"core": 0, "store": 1, "ingest": 2, "rules": 2, "engine": 3,
        "insight": 3, "delivery": 4, "daemon": 5, "ctl": 5}

SRC = os.path.join(TOP_SRC, "src")


def module(path):
    return os.path.relpath(path, SRC).split(os.sep)[0]


def code(path):
    """A file's text without comments and string literals."""
    with open(path) as f:
        text = f.read()
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    return re.sub(r'"(\\.|[^"\\\n])*"', '""', text)


def graph():
    files = sorted(glob.glob(os.path.join(SRC, "*", "*.[ch]")))
    texts = {f: code(f) for f in files}
    defs = {}
    for f, text in texts.items():
        if not f.endswith(".c"):
            continue
        for m in re.finditer(r"^([A-Za-z_]\w*)\(", text, re.M):
            before = text[:m.start()].rstrip().split("\n")[-1].split()
            if m.group(1) != "main" and "static" not in before:
                defs.setdefault(m.group(1), set()).add(module(f))
    edges = {}
    for f, text in texts.items():
        mod = module(f)
        used = set()
        for m in re.finditer(r"\b([A-Za-z_]\w*)\s*\(", text):
            used |= defs.get(m.group(1), set())
        with open(f) as fh:
            for m in re.finditer(r'^#include\s+"([^"]+)"', fh.read(), re.M):
                parts = os.path.normpath(m.group(1)).split(os.sep)
                if len(parts) == 3 and parts[0] == "..":
                    used.add(parts[1])
        used.discard(mod)
        edges.setdefault(mod, set()).update(used)
    return defs, edges


def cycle(edges):
    """A cycle among the modules, or None (depth-first search)."""
    state, path = {}, []

    def visit(v):
        state[v] = 1
        path.append(v)
        for w in sorted(edges.get(v, ())):
            if state.get(w) == 1:
                return path[path.index(w):] + [w]
            if w not in state:
                found = visit(w)
                if found:
                    return found
        state[v] = 2
        path.pop()
        return None

    for v in sorted(edges):
        if v not in state:
            found = visit(v)
            if found:
                return found
    return None


def main():
    defs, edges = graph()
    if "--graph" in sys.argv:
        for mod in sorted(edges, key=lambda m: (RANK.get(m, 99), m)):
            print("%-9s -> %s" % (mod, ", ".join(
                sorted(edges[mod], key=lambda m: (RANK.get(m, 99), m)))))
        return
    check(len(defs) > 200, "found the functions of src/",
          "(%d)" % len(defs))
    eq(sorted(edges), sorted(RANK), "every module of src/ has a layer")
    check(len(edges["daemon"]) >= 5, "found the daemon's calls",
          sorted(edges["daemon"]))
    for mod in sorted(edges):
        up = sorted(m for m in edges[mod] if RANK[m] >= RANK[mod])
        check(not up, "%s uses only lower layers" % mod,
              "but uses %s" % up)
    found = cycle(edges)
    check(found is None, "no cycle among the modules", found)
    ok("%d modules, %d functions" % (len(edges), len(defs)))
    done()


main()
