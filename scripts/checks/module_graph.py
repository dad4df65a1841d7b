"""Module cycles: for every crate of the workspace, the graph of its top-level modules, with an
edge A -> B wherever A's non-test code names `crate::B` (or `crate::{B, ...}`). Prints each
strongly connected component of more than one module and exits 1 if there is any, so a new
back-reference between modules fails CI instead of growing into a tangle (docs/architecture.md).
"""
import os
import re
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
SKIP_DIRS = {"target", "fuzz", ".git", "node_modules"}


def crates(root):
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d not in SKIP_DIRS]
        if "Cargo.toml" in filenames and os.path.isdir(os.path.join(dirpath, "src")):
            yield dirpath


def module_graph(src):
    """Top-level module -> the top-level modules it refers to (binaries under src/bin excluded)."""
    graph = {}
    for dirpath, dirnames, filenames in os.walk(src):
        dirnames[:] = [d for d in dirnames if not (dirpath == src and d == "bin")]
        for name in filenames:
            if not name.endswith(".rs"):
                continue
            parts = os.path.relpath(os.path.join(dirpath, name), src).split(os.sep)
            top = parts[0][:-3] if len(parts) == 1 else parts[0]
            if top in ("lib", "main"):
                continue
            with open(os.path.join(dirpath, name), encoding="utf-8") as f:
                code = f.read().split("#[cfg(test)]")[0]
            refs = set(re.findall(r"crate::(\w+)", code))
            for group in re.findall(r"crate::\{([^}]*)\}", code, re.S):
                refs |= set(re.findall(r"(?:^|[,{\s])(\w+)", group))
            graph.setdefault(top, set()).update(refs - {top})
    return {m: refs & graph.keys() for m, refs in graph.items()}


def cycles(graph):
    """Tarjan's strongly connected components with more than one member."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def self_test():
    """The check finds a cycle it is shown (a check that cannot fail proves nothing)."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "src")
        os.makedirs(src)
        files = {
            "lib.rs": "mod a; mod b; mod c;",
            "a.rs": "use crate::b::B;",
            "b.rs": "pub struct B; /// see [`crate::{a, c}`]",
            "c.rs": "#[cfg(test)]\nmod tests { use crate::a; }",
        }
        for name, code in files.items():
            with open(os.path.join(src, name), "w", encoding="utf-8") as f:
                f.write(code)
        found = cycles(module_graph(src))
    assert found == [["a", "b"]], f"module_graph self-test found {found}"


def main():
    self_test()
    root = os.path.normpath(sys.argv[1] if len(sys.argv) > 1 else ROOT)
    total = 0
    for crate in sorted(crates(root)):
        for component in cycles(module_graph(os.path.join(crate, "src"))):
            print(f"module cycle in {os.path.relpath(crate, root)}: {' <-> '.join(component)}")
            total += 1
    print(f"module cycles: {total}")
    return 1 if total else 0


if __name__ == "__main__":
    sys.exit(main())
