"""The layout's rules, checked on the source: no import circles, surfaces above the domain, providers without models.

Every import counts, wherever it is written: an import inside a function only postpones the circle to call time, and
still ties the two modules together.
"""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("core", "accounts", "audit", "byok", "byok_project")
SURFACES = ("byok.api", "byok.console", "byok.admin")

def _module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules(root: Path, packages) -> dict[str, Path]:
    return {_module_name(root, path): path for package in packages for path in (root / package).rglob("*.py")
            if "migrations" not in path.parts}


def _resolve(module: str, node: ast.ImportFrom, is_package: bool) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _imports(modules: dict[str, Path]) -> dict[str, set[str]]:
    """Module -> the first-party modules it imports anywhere: at the top, in a function, a class or a branch."""
    graph: dict[str, set[str]] = {}
    for module, path in modules.items():
        tree = ast.parse(path.read_text(), filename=str(path))
        targets: set[str] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                targets.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = _resolve(module, node, path.name == "__init__.py")
                for alias in node.names:  # `from pkg import submodule` needs the submodule, else the module itself
                    submodule = f"{base}.{alias.name}"
                    targets.add(submodule if submodule in modules else base)
        graph[module] = {t for t in targets if t in modules and t != module}
    return graph


def import_graph(root: Path, packages) -> dict[str, set[str]]:
    return _imports(_modules(root, packages))


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in graph:
        if node not in index:
            visit(node)
    return found


GRAPH = import_graph(ROOT, PACKAGES)


def _package_of(module: str, packages) -> str | None:
    return next((p for p in packages if module == p or module.startswith(p + ".")), None)


def test_no_module_imports_itself_back():
    assert _cycles(GRAPH) == []


def test_the_circle_finder_finds_circles():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_a_planted_late_import_circle_fails_the_check(tmp_path):
    """A package whose two modules import each other only inside a function and a method: the check sees it."""
    package = tmp_path / "planted"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "prices.py").write_text("def price():\n    from .usage import TOKENS\n    return TOKENS\n")
    (package / "usage.py").write_text(
        "TOKENS = 1000\n\n\nclass Record:\n    def save(self):\n        if self:\n"
        "            from planted import prices\n            return prices.price()\n")
    (package / "leaf.py").write_text("from .usage import TOKENS\n")
    graph = import_graph(tmp_path, ("planted",))
    assert graph["planted.prices"] == {"planted.usage"} and graph["planted.usage"] == {"planted.prices"}
    assert _cycles(graph) == [["planted.prices", "planted.usage"]]


def test_package_init_re_exports_do_not_hide_circles():
    # A package's __init__ importing its own submodules is fine; a submodule importing the package that imports it
    # back is a circle the check above already sees. This guards the check itself: it must see package imports.
    assert "byok.providers.bedrock.iam" in GRAPH["byok.providers.bedrock"]


def test_the_domain_imports_no_surface():
    offenders = {
        module: sorted(t for t in targets if _package_of(t, SURFACES))
        for module, targets in GRAPH.items()
        if module.startswith(("byok.", "accounts", "audit", "core")) and not _package_of(module, SURFACES)
        and module not in ("byok.console",)
    }
    assert {m: t for m, t in offenders.items() if t} == {}


def test_providers_import_no_models_and_nothing_else_of_byok():
    offenders = {
        module: sorted(t for t in targets if not t.startswith(("byok.providers", "core")))
        for module, targets in GRAPH.items() if module.startswith("byok.providers")
    }
    assert {m: t for m, t in offenders.items() if t} == {}


def test_audit_and_core_stand_below_byok_and_accounts():
    """accounts records through audit, so audit (but its API surface, which asks who may see a workspace) and the
    kernel import neither."""
    offenders = {
        module: sorted(t for t in targets if t.startswith(("byok", "accounts")))
        for module, targets in GRAPH.items() if module.startswith(("audit", "core")) and module != "audit.api"
    }
    assert {m: t for m, t in offenders.items() if t} == {}
