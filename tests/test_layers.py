"""The dependency rule of the package, read from the code with ``ast`` (docs/architecture.md).

Every mxfair module imports only from its own subpackage and from lower layers:

    core (mxfair/_*.py) < groups < metrics < data, datasets, loss, postprocessing, plot
    < distributed < callbacks < the package root

never another subpackage's private module nor another module's ``_name`` (a subclass reads its
base class's ``self._name`` only inside one subpackage); imports inside functions are for
optional third-party libraries only; MXNet's private API is used in ``mxfair/_compat.py``
alone.
"""
import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "mxfair"

#: The layers, lowest first. A unit is a root module or a subpackage (``mxfair/_*.py`` modules
#: form the core). Units of one layer never import each other. Names of subpackages that do
#: not exist yet are where planned work goes: explain and nn beside loss, auditing beside
#: callbacks, training above callbacks.
LAYERS = (
    ("core", ("mxfair._*",)),
    ("groups", ("mxfair.groups",)),
    ("metrics", ("mxfair.metrics",)),
    ("models and data", ("mxfair.data", "mxfair.datasets", "mxfair.loss",
                         "mxfair.postprocessing", "mxfair.plot", "mxfair.explain",
                         "mxfair.nn")),
    ("workers", ("mxfair.distributed",)),
    ("training loop", ("mxfair.callbacks", "mxfair.auditing")),
    ("training recipes", ("mxfair.training",)),
    ("package", ("mxfair", "mxfair.launch", "mxfair.__main__")),
)
#: Third-party libraries that may be imported inside a function: optional, or slow to import
#: for a use that most callers never make.
LAZY = {"matplotlib", "pandas", "scipy", "sklearn", "tqdm", "IPython"}
#: The one module allowed to touch MXNet's private API.
COMPAT = "mxfair._compat"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


MODULES = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def unit_of(module: str) -> str:
    """The layer unit of a module: ``mxfair._ops`` (core), ``mxfair.metrics``, ``mxfair``."""
    parts = module.split(".")
    if len(parts) == 1:
        return module
    if len(parts) == 2 and parts[1].startswith("_") and parts[1] != "__main__":
        return "mxfair._*"
    return ".".join(parts[:2])


def layer_of(module: str) -> int:
    unit = unit_of(module)
    for index, (_, units) in enumerate(LAYERS):
        if unit in units:
            return index
    raise KeyError(unit)


def _is_package(module: str) -> bool:
    return MODULES[module].name == "__init__.py"


def _resolve(module: str, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".")
    base = base if _is_package(module) else base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


class _Imports(ast.NodeVisitor):
    """Every import of a module: (target module, imported names, line, inside a function)."""

    def __init__(self, module: str):
        self.module = module
        self.found = []
        self._depth = 0

    def _function(self, node):
        self._depth += 1
        self.generic_visit(node)
        self._depth -= 1

    visit_FunctionDef = visit_AsyncFunctionDef = visit_Lambda = _function

    def visit_Import(self, node):
        for alias in node.names:
            self.found.append((alias.name, [], node.lineno, self._depth > 0))

    def visit_ImportFrom(self, node):
        target = _resolve(self.module, node)
        names = [a.name for a in node.names]
        submodules = [f"{target}.{n}" for n in names if f"{target}.{n}" in MODULES]
        for sub in submodules:  # ``from . import stats``: an import of the module itself
            self.found.append((sub, [], node.lineno, self._depth > 0))
        plain = [n for n in names if f"{target}.{n}" not in MODULES]
        if plain or not submodules:
            self.found.append((target, plain, node.lineno, self._depth > 0))


def imports(module: str):
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
    visitor = _Imports(module)
    visitor.visit(tree)
    return visitor.found


def _defined_private_names(tree: ast.AST) -> set:
    """``_names`` a module defines: functions, classes, assignments, ``self._x = ...``."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            names.add(node.attr)
        elif isinstance(node, ast.arg):
            names.add(node.arg)
    return {n for n in names if n.startswith("_")}


def _private_reads(tree: ast.AST, own: set, unit_own: set):
    """``obj._name`` reads of a ``_name`` the module does not define itself; ``self._name`` may
    also read what a module of the same unit defines (a subclass of a base class there)."""
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and node.attr.startswith("_")
                and not (node.attr.startswith("__") and node.attr.endswith("__"))
                and node.attr not in own):
            on_self = isinstance(node.value, ast.Name) and node.value.id in ("self", "cls")
            if not (on_self and node.attr in unit_own):
                yield node.lineno, node.attr


def _violations():
    found = []
    trees = {m: ast.parse(p.read_text(encoding="utf-8")) for m, p in MODULES.items()}
    unit_own = {}
    for module, tree in trees.items():
        unit_own.setdefault(unit_of(module), set()).update(_defined_private_names(tree))
    for module in MODULES:
        layer = layer_of(module)
        for target, names, line, lazy in imports(module):
            where = f"{module}:{line}"
            top = target.split(".")[0]
            if lazy:
                if top not in LAZY:
                    found.append(f"{where}: imports {target} inside a function (only optional "
                                 f"libraries {sorted(LAZY)} may be)")
                continue
            if top != "mxfair":
                continue
            if target not in MODULES:
                found.append(f"{where}: imports {target}, which is no module of mxfair")
                continue
            if unit_of(target) != unit_of(module):
                if layer_of(target) >= layer:
                    found.append(f"{where}: imports {target} from layer "
                                 f"{LAYERS[layer_of(target)][0]!r}, not below its own "
                                 f"{LAYERS[layer][0]!r}")
                parts = target.split(".")
                if len(parts) > 2 and any(p.startswith("_") for p in parts[2:]):
                    found.append(f"{where}: imports {target}, private to {unit_of(target)}")
            if target != module:
                found += [f"{where}: imports the private name {n} of {target}"
                          for n in names if n.startswith("_")]
        if module == COMPAT:
            continue
        tree = trees[module]
        reads = _private_reads(tree, _defined_private_names(tree), unit_own[unit_of(module)])
        found += [f"{module}:{line}: reads {name}, a private name it does not define (MXNet's "
                  f"private API belongs in {COMPAT})" for line, name in reads]
    return found


def test_every_module_belongs_to_a_layer():
    for module in MODULES:
        assert layer_of(module) >= 0, module


def test_the_dependency_rule_holds():
    violations = _violations()
    assert not violations, "\n".join(violations)


def test_no_import_cycle_inside_a_unit():
    graph = {m: {t for t, _, _, lazy in imports(m) if t in MODULES and not lazy and t != m}
             for m in MODULES}
    state = {}

    def visit(m, path):
        state[m] = "open"
        for t in graph[m]:
            if state.get(t) == "open" and not _is_package(t):
                raise AssertionError(" -> ".join(path + [m, t]))
            if t not in state:
                visit(t, path + [m])
        state[m] = "done"

    for m in MODULES:
        if m not in state:
            visit(m, [])


def test_the_checker_sees_violations(tmp_path, monkeypatch):
    # the rule can fail: a metrics module that imports the losses, a private name of another
    # module, a function-level import of mxfair and a read of MXNet's private API
    bad = PACKAGE / "metrics" / "stats.py"
    source = ("from ..loss import fair_loss\nfrom .report import _gap\n"
              "def f(p):\n    from .. import plot\n    return p._data\n")
    monkeypatch.setitem(MODULES, "mxfair.metrics.stats", tmp_path / "stats.py")
    (tmp_path / "stats.py").write_text(source)
    found = "\n".join(v for v in _violations() if v.startswith("mxfair.metrics.stats"))
    assert "imports mxfair.loss.fair_loss from layer 'models and data'" in found
    assert "imports the private name _gap" in found
    assert "imports mxfair.plot inside a function" in found
    assert "reads _data" in found
    assert bad.is_file()


@pytest.mark.skipif(sys.version_info < (3, 8), reason="ast end positions")
def test_layers_table_names_every_existing_unit():
    units = {unit_of(m) for m in MODULES}
    listed = {u for _, names in LAYERS for u in names}
    assert units <= listed, sorted(units - listed)
