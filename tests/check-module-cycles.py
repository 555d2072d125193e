#!/usr/bin/env python3
"""No import cycle between the modules of one crate.

For each crate (crates/*/src and src/), every file is a node named by its top-level module
(`scheduler/slot.rs` belongs to `scheduler`); an edge A -> B is a `crate::B` path in A's
code (comments and `#[cfg(test)]` tails excluded; the crate root, which declares and
re-exports modules, is not a node). A cycle between two top-level modules is reported with
the files that make it, and the check fails.
"""
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
PATH = re.compile(r"\bcrate::(?:\{([^}]*)\}|([a-z_][a-z0-9_]*))")


def top_module(src: pathlib.Path, file: pathlib.Path) -> str | None:
    rel = file.relative_to(src)
    if rel.parts[0] in ("lib.rs", "main.rs"):
        return None
    return rel.parts[0].removesuffix(".rs")


def code_of(text: str) -> str:
    # Drop unit tests at the end of a file and line comments.
    cut = text.find("#[cfg(test)]")
    if cut >= 0:
        text = text[:cut]
    return "\n".join(line.split("//")[0] for line in text.splitlines())


def edges(src: pathlib.Path) -> dict[tuple[str, str], set[str]]:
    modules = {p.name.removesuffix(".rs") for p in src.iterdir() if p.suffix == ".rs" or p.is_dir()}
    found: dict[tuple[str, str], set[str]] = {}
    for file in src.rglob("*.rs"):
        a = top_module(src, file)
        if a is None:
            continue
        for group, single in PATH.findall(code_of(file.read_text())):
            names = [n.strip().split("::")[0] for n in group.split(",")] if group else [single]
            for b in names:
                if b in modules and b != a:
                    found.setdefault((a, b), set()).add(str(file.relative_to(ROOT)))
    return found


def cycles(found: dict[tuple[str, str], set[str]]) -> list[list[str]]:
    graph: dict[str, set[str]] = {}
    for a, b in found:
        graph.setdefault(a, set()).add(b)
    out, seen = [], set()

    def walk(node: str, path: list[str]) -> None:
        for nxt in sorted(graph.get(node, ())):
            if nxt in path:
                cycle = path[path.index(nxt):] + [nxt]
                key = frozenset(cycle)
                if key not in seen:
                    seen.add(key)
                    out.append(cycle)
            elif len(path) < 8:
                walk(nxt, path + [nxt])

    for start in sorted(graph):
        walk(start, [start])
    return out


def main() -> int:
    crates = [ROOT / "src"] + sorted(p / "src" for p in (ROOT / "crates").iterdir())
    bad = 0
    for src in crates:
        found = edges(src)
        for cycle in cycles(found):
            bad += 1
            print(f"{src.relative_to(ROOT)}: import cycle {' -> '.join(cycle)}", file=sys.stderr)
            for a, b in zip(cycle, cycle[1:]):
                print(f"  {a} -> {b}: {', '.join(sorted(found[(a, b)]))}", file=sys.stderr)
    if bad:
        return 1
    print(f"module cycles: none in {len(crates)} crates")
    return 0


if __name__ == "__main__":
    sys.exit(main())
