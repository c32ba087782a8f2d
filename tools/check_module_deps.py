#!/usr/bin/env python3
"""Checks that every include between modules under src/ is an allowed edge.

Usage: check_module_deps.py [--root DIR] [--edges FILE]

A module is a directory src/<module>/. A file in it may include headers of
its own module, and of another module only if the edges file (by default
tools/module_deps.txt) lists that edge. The edges file itself must agree with
its layers: every module in exactly one layer, every edge pointing to a lower
layer. Exits 1 and prints file:line and the edge for each violation; exits 2
if the edges file cannot be read.
"""

import argparse
import os
import re
import sys

SOURCE_SUFFIXES = (".h", ".cc")
# A quoted include; the first component of its path names the module it
# reaches (includes are written from src/, as "log/log.h").
INCLUDE = re.compile(r'^\s*#\s*include\s*"([^"]+)"')


class EdgesError(Exception):
    pass


def parse_edges(path):
    """Returns (layer of each module, allowed targets of each module)."""
    layer_of = {}
    allowed = {}
    with open(path, encoding="utf-8") as f:
        for number, raw in enumerate(f, 1):
            line = raw.split("#", 1)[0].strip()
            if not line:
                continue
            head, sep, rest = line.partition(":")
            if not sep:
                raise EdgesError(f"{path}:{number}: expected 'module: deps' or 'layer N: modules'")
            head = head.strip()
            names = rest.split()
            if head.startswith("layer "):
                try:
                    layer = int(head[len("layer "):])
                except ValueError:
                    raise EdgesError(f"{path}:{number}: bad layer number '{head}'") from None
                for name in names:
                    if name in layer_of:
                        raise EdgesError(f"{path}:{number}: module {name} is in two layers")
                    layer_of[name] = layer
            else:
                if head in allowed:
                    raise EdgesError(f"{path}:{number}: module {head} has two lines of edges")
                allowed[head] = (number, set(names))
    return layer_of, allowed


def check_edges_file(path, layer_of, allowed, modules):
    """Problems with the edges file itself, against the modules present."""
    problems = []
    for module in sorted(modules - layer_of.keys()):
        problems.append(f"{path}: module {module} (src/{module}/) is in no layer")
    for module in sorted(modules - allowed.keys()):
        problems.append(f"{path}: module {module} (src/{module}/) has no line of edges")
    for module, (number, targets) in sorted(allowed.items()):
        if module not in layer_of:
            problems.append(f"{path}:{number}: module {module} is in no layer")
            continue
        for target in sorted(targets):
            if target not in layer_of:
                problems.append(f"{path}:{number}: {module} -> {target}: {target} is in no layer")
            elif layer_of[target] >= layer_of[module]:
                problems.append(
                    f"{path}:{number}: {module} -> {target} points up or sideways "
                    f"(layer {layer_of[module]} -> {layer_of[target]})")
    return problems


def check_includes(root, modules, allowed):
    """Includes in src/ that cross to another module without an edge."""
    problems = []
    used = set()
    src = os.path.join(root, "src")
    for module in sorted(modules):
        targets = allowed.get(module, (0, set()))[1]
        for directory, subdirs, files in os.walk(os.path.join(src, module)):
            subdirs.sort()
            for name in sorted(files):
                if not name.endswith(SOURCE_SUFFIXES):
                    continue
                path = os.path.join(directory, name)
                shown = os.path.relpath(path, root)
                with open(path, encoding="utf-8", errors="replace") as f:
                    for number, line in enumerate(f, 1):
                        m = INCLUDE.match(line)
                        if not m:
                            continue
                        included = m.group(1)
                        if included.startswith("../") or "/../" in included:
                            problems.append(
                                f"{shown}:{number}: \"{included}\" climbs out of its directory; "
                                f"include other modules as \"<module>/...\"")
                            continue
                        first = included.split("/", 1)[0]
                        if "/" not in included or first not in modules or first == module:
                            continue
                        if first in targets:
                            used.add((module, first))
                            continue
                        problems.append(f"{shown}:{number}: {module} -> {first} is not an "
                                        f"allowed edge (\"{included}\")")
    return problems, used


def main(argv):
    here = os.path.dirname(os.path.abspath(__file__))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", default=os.path.dirname(here),
                        help="the source tree (default: this script's repository)")
    parser.add_argument("--edges", help="the edges file (default: ROOT/tools/module_deps.txt)")
    args = parser.parse_args(argv)
    edges = args.edges or os.path.join(args.root, "tools", "module_deps.txt")
    src = os.path.join(args.root, "src")
    modules = {
        d for d in os.listdir(src) if os.path.isdir(os.path.join(src, d)) and not d.startswith(".")
    }
    try:
        layer_of, allowed = parse_edges(edges)
    except (OSError, EdgesError) as e:
        print(e, file=sys.stderr)
        return 2
    problems = check_edges_file(edges, layer_of, allowed, modules)
    include_problems, used = check_includes(args.root, modules, allowed)
    problems += include_problems
    for problem in problems:
        print(problem)
    # Not an error: an edge no include needs any more is still downward. It is
    # named so the list can be trimmed to what the code does.
    for module, (number, targets) in sorted(allowed.items()):
        for target in sorted(targets):
            if module in modules and (module, target) not in used:
                print(f"{edges}:{number}: note: {module} -> {target} is allowed but unused",
                      file=sys.stderr)
    if problems:
        print(f"{len(problems)} module boundary problem(s); the allowed edges are in {edges}",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
