"""The import structure of the suite's modules: each module sits on a declared layer and imports
only modules of its own layer or of the layers below, without cycles, deferred imports (inside
functions) included. The model layer (`network`, `positional_encoder`) therefore knows nothing
of the command line, and no module imports a tool.

`pfam_loader` is the bottom: it must work copied alone beside a student's script (with
`positional_encoder`), so it imports no module of the suite, except *optionally*: an import
inside ``try: ... except ModuleNotFoundError`` (its `suite`) whose absence the module handles.
That is how it uses the suite's dataset lock and builders when they are there. Optional imports
are declared in `OPTIONAL` and are left out of the layer and cycle checks; every other import,
top-level or deferred, is checked."""
import ast
import functools
import glob
import os

from conftest import ROOT

#: From the bottom up. A new module must be placed here (the test says so).
LAYERS = (
    ('loader', {'pfam_loader'}),
    ('files', {'fileio'}),
    ('data', {'pfam_formats', 'pfam_build'}),
    ('settings', {'settings'}),
    ('model', {'positional_encoder', 'network', 'numpy_model', 'profile_check'}),
    ('run files', {'artefacts', 'checkpoints'}),
    ('command line', {'parser', 'job_control'}),
    ('tools', {'hw6_base', 'predict', 'figures', 'ensembles', 'bench', 'svm_baseline',
               'hmmer_baseline', 'open_set'}),
)
LAYER_OF = {module: floor for floor, (_, modules) in enumerate(LAYERS) for module in modules}
#: (module, module it imports optionally): the suite's extras of a file that works without them
OPTIONAL = {('pfam_loader', 'pfam_build'), ('pfam_loader', 'pfam_formats'),
            ('pfam_loader', 'fileio')}


def _optional_imports(tree):
    """The import nodes of ``tree`` inside a ``try`` that catches ModuleNotFoundError."""
    optional = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Try) and any(
                isinstance(handler.type, ast.Name)
                and handler.type.id in ('ModuleNotFoundError', 'ImportError')
                for handler in node.handlers):
            optional |= {id(inner) for statement in node.body for inner in ast.walk(statement)
                         if isinstance(inner, (ast.Import, ast.ImportFrom))}
    return optional


def _imports(which='required'):
    """``{module: set of the suite's modules it imports}``, deferred imports included: the
    ``'required'`` ones or the ``'optional'`` ones (see the module docstring)."""
    modules = {os.path.basename(path)[:-3]: path for path in glob.glob(os.path.join(ROOT, '*.py'))}
    graph = {}
    for module, path in modules.items():
        with open(path) as f:
            tree = ast.parse(f.read())
        optional = _optional_imports(tree)
        names = set()
        for node in ast.walk(tree):
            if (id(node) in optional) != (which == 'optional'):
                continue
            if isinstance(node, ast.Import):
                names |= {alias.name.split('.')[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names.add(node.module.split('.')[0])
        graph[module] = (names & set(modules)) - {module}
    return graph


def test_every_module_has_a_layer_and_imports_only_downwards():
    graph = _imports()
    assert set(graph) == set(LAYER_OF), ('place new modules in LAYERS',
                                        set(graph) ^ set(LAYER_OF))
    upward = [(module, other) for module, imported in graph.items() for other in imported
              if LAYER_OF[other] > LAYER_OF[module]]
    assert not upward, [f'{m} ({LAYERS[LAYER_OF[m]][0]}) imports {o} ({LAYERS[LAYER_OF[o]][0]})'
                        for m, o in upward]
    tools = LAYERS[-1][1]
    assert not [(m, o) for m, imported in graph.items() for o in imported if o in tools]


def test_optional_imports_are_the_declared_ones():
    optional = {(module, other) for module, imported in _imports('optional').items()
                for other in imported}
    assert optional == OPTIONAL


def test_no_import_cycle():
    graph = _imports()

    @functools.lru_cache(maxsize=None)
    def depth(module, path=()):
        assert module not in path, f'import cycle: {" -> ".join(path + (module,))}'
        return 1 + max((depth(other, path + (module,)) for other in graph[module]), default=0)

    assert all(depth(module) >= 1 for module in graph)
