"""The import picture of ``mmdet/`` (docs/design.md, "Layers"): no module
imports a layer above its own, ``models`` and ``datasets`` never import
each other, and no import cycle exists between modules. Read from the
source with ``ast`` (imports inside functions included), so a lazy import
cannot hide an upward dependency."""

import ast
import os
import os.path as osp

ROOT = osp.dirname(osp.dirname(osp.dirname(__file__)))
PACKAGE = osp.join(ROOT, 'mmdet')

# layer of each top-level part of mmdet; a module may import its own layer
# (its own part only, for models/datasets) and those below
LAYERS = {
    'version': 0,
    'utils': 1,
    'core': 2,
    'models': 3,
    'datasets': 3,
    'testing': 3,
    'apis': 4,
    'analysis': 5,
}


def module_files():
    for dirpath, _, filenames in os.walk(PACKAGE):
        for filename in filenames:
            if filename.endswith('.py'):
                path = osp.join(dirpath, filename)
                rel = osp.relpath(path, ROOT)[:-3].replace(os.sep, '.')
                if rel.endswith('.__init__'):
                    rel = rel[: -len('.__init__')]
                yield rel, path


def imported_modules(name, path, known):
    """The mmdet modules that module ``name`` (at ``path``) imports."""
    is_package = path.endswith('__init__.py')
    package = name if is_package else name.rpartition('.')[0]
    with open(path, encoding='utf-8') as f:
        tree = ast.parse(f.read(), path)
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ''
            if node.level:
                parts = package.split('.')
                parts = parts[: len(parts) - node.level + 1]
                base = '.'.join(parts + ([base] if base else []))
            # `from pkg import sub` imports the submodule pkg.sub
            targets = [
                f'{base}.{alias.name}'
                if f'{base}.{alias.name}' in known
                else base
                for alias in node.names
            ]
        else:
            continue
        found.update(t for t in targets if t.split('.')[0] == 'mmdet')
    return found


def import_graph():
    files = dict(module_files())
    return {
        name: {
            t
            for t in imported_modules(name, path, files)
            if t in files and t != name
        }
        for name, path in files.items()
    }


def part(name):
    parts = name.split('.')
    return parts[1] if len(parts) > 1 else None


def test_no_upward_or_sideways_import():
    wrong = []
    for name, targets in import_graph().items():
        own = part(name)
        if own is None:
            continue
        for target in targets:
            other = part(target)
            if other is None:  # the package root: __version__ only
                continue
            assert own in LAYERS and other in LAYERS, (name, target)
            upward = LAYERS[other] > LAYERS[own]
            sideways = LAYERS[other] == LAYERS[own] and other != own
            if upward or sideways:
                wrong.append(f'{name} imports {target}')
    assert not wrong, '\n'.join(sorted(wrong))


def _cycles(graph):
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on_stack, result = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                result.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return result


def _without_package_reexports(graph):
    """Drop the edges from a package ``__init__`` to its own sub-modules:
    a sub-module importing a sibling through the package is then still a
    cycle, but the package gathering its own parts is not."""
    return {
        name: {t for t in targets if not t.startswith(name + '.')}
        for name, targets in graph.items()
    }


def test_no_import_cycle():
    cycles = _cycles(_without_package_reexports(import_graph()))
    assert not cycles, '\n'.join(' <-> '.join(c) for c in cycles)


def test_the_checker_sees_cycles_and_upward_imports():
    assert _cycles({'a': {'b'}, 'b': {'c'}, 'c': {'a'}, 'd': {'a'}}) == [
        ['a', 'b', 'c']
    ]
    graph = import_graph()
    # a known downward import is seen (core -> utils through the registry)
    assert any(part(t) == 'utils' for t in graph['mmdet.core.anchor.builder'])
    assert 'mmdet.apis.test' in graph['mmdet.apis.train']
