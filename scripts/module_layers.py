#!/usr/bin/env python3
"""Import circles between the top-level modules of a crate.

    python3 scripts/module_layers.py [SRC] [--graph]

Reads every `.rs` file under SRC (default: src), notes which top-level modules each top-level
module names through `crate::x` (in `use` lines and in paths), and fails (exit 1) when some
modules form a circle, printing each circle and one file that makes each of its edges.
`--graph` prints every edge too. `.ci/run` calls it so a circle never lands.

Test code (`#[cfg(test)]` modules at the end of a file) is left out: tests may reach anywhere.
A module's own files are `src/x.rs` and `src/x/**`; `main.rs` and `lib.rs` are the roots and
may import everything.
"""

import re
import sys
from collections import defaultdict
from pathlib import Path

CRATE_PATH = re.compile(r"\bcrate::(\w+)")
# `use crate::{a, b::c}` names several modules in one brace group.
CRATE_GROUP = re.compile(r"\buse\s+crate::\{([^;]*)\};", re.S)
GROUP_HEAD = re.compile(r"(?:^|[,{])\s*(\w+)")


def module_of(path: Path, src: Path) -> str | None:
    parts = path.relative_to(src).parts
    if parts[0] in ("main.rs", "lib.rs"):
        return None
    return parts[0].removesuffix(".rs")


def without_tests(text: str) -> str:
    cut = text.find("#[cfg(test)]")
    return text if cut < 0 else text[:cut]


def top_level_group_names(group: str) -> set[str]:
    # Only names at brace depth 0 inside the group are modules of the crate.
    names, depth, token = set(), 0, ""
    for ch in group + ",":
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        elif ch == "," and depth == 0:
            head = re.match(r"\s*(\w+)", token)
            if head:
                names.add(head.group(1))
            token = ""
            continue
        if depth == 0 and ch not in "{}":
            token += ch
        elif depth > 0 and not token.strip():
            token += ch
    return names


def edges(src: Path) -> dict[tuple[str, str], str]:
    modules = {p.name.removesuffix(".rs") for p in src.iterdir() if p.suffix == ".rs" or p.is_dir()}
    found: dict[tuple[str, str], str] = {}
    for path in sorted(src.rglob("*.rs")):
        source = module_of(path, src)
        if source is None:
            continue
        text = without_tests(path.read_text())
        named = set(CRATE_PATH.findall(text))
        for group in CRATE_GROUP.findall(text):
            named |= top_level_group_names(group)
        for target in named:
            if target in modules and target != source:
                found.setdefault((source, target), str(path))
    return found


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on_stack, out, counter = {}, {}, [], set(), [], [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
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
                out.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def main() -> int:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    src = Path(args[0] if args else "src")
    found = edges(src)
    graph: dict[str, set[str]] = defaultdict(set)
    for source, target in found:
        graph[source].add(target)
    if "--graph" in sys.argv:
        for (source, target), path in sorted(found.items()):
            print(f"{source} -> {target}    ({path})")
    bad = circles(graph)
    for component in bad:
        print(f"import circle between {len(component)} modules: {', '.join(component)}")
        for (source, target), path in sorted(found.items()):
            if source in component and target in component:
                print(f"  {source} -> {target}    ({path})")
    if bad:
        return 1
    print(f"no import circle between the {len({m for e in found for m in e})} top-level modules of {src}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
