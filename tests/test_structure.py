"""The import structure of the suite's modules (issue 14): no cycle, and the driver on the top
floor: no module imports it, none sits above it."""
import ast
import functools
import glob
import os

from conftest import ROOT


def _imports():
    """``{module: set of the suite's modules it imports}``, deferred imports included."""
    modules = {os.path.basename(path)[:-3]: path for path in glob.glob(os.path.join(ROOT, '*.py'))}
    graph = {}
    for module, path in modules.items():
        with open(path) as f:
            tree = ast.parse(f.read())
        names = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names |= {alias.name.split('.')[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names.add(node.module.split('.')[0])
        graph[module] = (names & set(modules)) - {module}
    return graph


def test_no_cycle_and_the_driver_on_the_top_floor():
    graph = _imports()

    @functools.lru_cache(maxsize=None)
    def floor(module, path=()):
        assert module not in path, f'import cycle: {" -> ".join(path + (module,))}'
        return 1 + max((floor(other, path + (module,)) for other in graph[module]), default=0)

    floors = {module: floor(module) for module in graph}
    assert not [module for module, imported in graph.items() if 'hw6_base' in imported]
    assert floors['hw6_base'] == max(floors.values()), floors
    assert {'fileio', 'pfam_loader', 'network', 'checkpoints'} <= set(graph)   # it looked
