#!/usr/bin/env python3
"""Which source files of a crate import which (module = file), and where that points the wrong way.

Reads every `use crate::…` / `use super::…` tree and every inline `crate::…` path in ROOT/**.rs
(default: src), outside comments and outside inline `mod name { … }` blocks (unit tests), resolves
each path to the deepest file module it names, and prints

  - the import cycles: groups of files that reach each other (strongly connected components),
    with the imports inside each group;
  - every import of `crate::http` from a file outside ROOT/http/ (only when ROOT/http exists).

Exits 1 when a cycle or an upward import is not listed in the allow file (default:
scripts/import-graph.allow), whose lines read `cycle: a.rs b.rs …` (the exact group, paths relative
to ROOT) or `http: file.rs`; `#` starts a comment. When ROOT has both lib.rs and main.rs, main.rs is
the binary, a separate crate and the composition root, and is skipped.

    python3 scripts/import-graph.py            # the service crate
    python3 scripts/import-graph.py core/src   # the core crate
"""

import argparse
import pathlib
import re
import sys

USE = re.compile(r"\buse\s+((?:crate|super|self)\b[^;]*);")
INLINE = re.compile(r"\b(crate|super)((?:::\w+)+)")


def strip_comments_and_strings(text):
    text = re.compile(r"/\*.*?\*/", re.S).sub(" ", text)
    text = re.compile(r'r#*"(?:.|\n)*?"#*').sub('""', text)
    text = re.compile(r'"(?:\\.|[^"\\])*"').sub('""', text)
    return re.compile(r"//[^\n]*").sub("", text)


def strip_inline_modules(text):
    """Drops `mod name { … }` bodies: their `super` is this file, and they are tests."""
    out, i = [], 0
    for match in re.finditer(r"\bmod\s+\w+\s*\{", text):
        if match.start() < i:
            continue
        out.append(text[i : match.start()])
        depth, j = 0, match.end() - 1
        while j < len(text):
            depth += {"{": 1, "}": -1}.get(text[j], 0)
            j += 1
            if depth == 0:
                break
        i = j
    out.append(text[i:])
    return "".join(out)


def expand(tree):
    """`a::{b, c::{d, self}}` -> ['a::b', 'a::c::d', 'a::c']."""
    tree = re.sub(r"\s+as\s+\w+", "", tree)
    tree = re.sub(r"\s+", "", tree)
    brace = tree.find("{")
    if brace < 0:
        return [re.sub(r"::(self|\*)$", "", tree)]
    prefix, body = tree[:brace], tree[brace + 1 : tree.rfind("}")]
    parts, depth, start = [], 0, 0
    for k, ch in enumerate(body):
        depth += {"{": 1, "}": -1}.get(ch, 0)
        if ch == "," and depth == 0:
            parts.append(body[start:k])
            start = k + 1
    parts.append(body[start:])
    paths = []
    for part in filter(None, parts):
        paths += expand(prefix + part)
    return [re.sub(r"::(self|\*)?$", "", p) for p in paths]


def module_of(root, path):
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] in ("mod", "lib"):
        parts.pop()
    return tuple(parts)


def resolve(path, here, modules):
    """The file module a path names: its longest prefix that is a file, or None."""
    segments = path.split("::")
    base = list(here)
    if segments[0] == "crate":
        base, segments = [], segments[1:]
    elif segments[0] == "self":
        base, segments = list(here), segments[1:]
    while segments and segments[0] in ("super", "self"):
        if segments.pop(0) == "super":
            base = base[:-1]
    full = tuple(base + segments)
    for n in range(len(full), -1, -1):
        if full[:n] in modules:
            return full[:n]
    return None


def strongly_connected(graph):
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                out.append(sorted(group))

    sys.setrecursionlimit(10000)
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return sorted(out)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("root", nargs="?", default="src")
    parser.add_argument("--allow", default=str(pathlib.Path(__file__).with_name("import-graph.allow")))
    args = parser.parse_args()
    root = pathlib.Path(args.root)
    files = sorted(root.rglob("*.rs"))
    if (root / "lib.rs").exists():
        files = [f for f in files if f != root / "main.rs"]
    modules = {module_of(root, f): f for f in files}
    name = {m: str(f.relative_to(root)) for m, f in modules.items()}

    graph, upward = {}, []
    for here, path in modules.items():
        text = strip_inline_modules(strip_comments_and_strings(path.read_text()))
        paths = [p for tree in USE.findall(text) for p in expand(tree)]
        body = USE.sub("", text)
        paths += [m.group(1) + m.group(2) for m in INLINE.finditer(body)]
        # `use crate::providers::stripe;` then `stripe::webhook::verify(…)` names stripe/webhook.rs.
        for p in list(paths):
            alias = p.split("::")[-1]
            for m in re.finditer(r"(?<![\w:])" + re.escape(alias) + r"((?:::\w+)+)", body):
                paths.append(p + m.group(1))
        for p in paths:
            target = resolve(p, here, modules)
            if target is None or target == here:
                continue
            graph.setdefault(name[here], set()).add(name[target])
            outside = not (here[:1] == ("http",))
            if (root / "http").is_dir() and outside and target[:1] == ("http",):
                upward.append((name[here], name[target]))

    allowed_cycles, allowed_http = [], set()
    allow = pathlib.Path(args.allow)
    if allow.exists():
        for line in allow.read_text().splitlines():
            line = line.split("#")[0].strip()
            if line.startswith("cycle:"):
                allowed_cycles.append(sorted(line[6:].split()))
            elif line.startswith("http:"):
                allowed_http.add(line[5:].strip())

    unlisted = 0
    cycles = strongly_connected(graph)
    print(f"{root}: {len(modules)} files, {sum(map(len, graph.values()))} imports between them")
    print(f"import cycles: {len(cycles)}")
    for group in cycles:
        listed = group in allowed_cycles
        unlisted += not listed
        print(f"  {'(allowed) ' if listed else ''}{' <-> '.join(group)}")
        for a in group:
            for b in sorted(graph.get(a, ()) & set(group)):
                print(f"      {a} -> {b}")
    print(f"imports of crate::http from outside {root}/http: {len(set(upward))}")
    for a, b in sorted(set(upward)):
        listed = a in allowed_http
        unlisted += not listed
        print(f"  {'(allowed) ' if listed else ''}{a} -> {b}")
    if unlisted:
        print(f"{unlisted} unlisted; see {allow}")
    return 1 if unlisted else 0


if __name__ == "__main__":
    sys.exit(main())
