"""The package's import structure: no import cycles, verify/ independent of drill/, and the
declared public API."""

import ast
import functools
import subprocess
import sys
from pathlib import Path

import exitkit
import exitkit.api

SOURCE = Path(exitkit.__file__).parent
PUBLIC_API = ["AssessOptions", "AssessResult", "DrillResult", "RestoreProgress", "assess_estate",
              "probe_target", "restore_progress", "run_drill", "scan_source"]


def _module_names() -> dict[str, Path]:
    names = {}
    for path in SOURCE.rglob("*.py"):
        parts = ("exitkit", *path.relative_to(SOURCE).with_suffix("").parts)
        names[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return names


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _runtime_imports(tree: ast.AST, modules: dict[str, Path]) -> set[str]:
    """exitkit modules *tree* imports when it runs (``if TYPE_CHECKING:`` blocks left out);
    ``from package import submodule`` counts as importing the submodule."""
    found: set[str] = set()
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and _is_type_checking(node):
            for other in node.orelse:
                found |= _runtime_imports(other, modules)
            continue
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name in modules}
        elif isinstance(node, ast.ImportFrom) and node.module in modules:
            for alias in node.names:
                submodule = f"{node.module}.{alias.name}"
                found.add(submodule if submodule in modules else node.module)
        found |= _runtime_imports(node, modules)
    return found


@functools.cache
def _graph() -> dict[str, set[str]]:
    modules = _module_names()
    graph = {}
    for name, path in modules.items():
        imported = _runtime_imports(ast.parse(path.read_text(encoding="utf-8")), modules)
        # importing a submodule runs its package first: that edge is no cycle
        graph[name] = {other for other in imported if not name.startswith(f"{other}.")}
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, edges = work[-1]
            child = next(edges, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
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
    return found


def test_the_cycle_finder_finds_a_cycle():
    """The check below can fail: a two-module loop and a three-module loop are found."""
    graph = {"a": {"b"}, "b": {"a"}, "c": {"d"}, "d": {"e"}, "e": {"c"}, "f": {"a"}}
    assert sorted(_cycles(graph)) == [["a", "b"], ["c", "d", "e"]]


def test_no_module_imports_one_that_imports_it_back():
    assert _cycles(_graph()) == []


def test_verify_imports_nothing_from_drill():
    """drill/ runs the verification; verify/ takes what the drill hands over as arguments
    (named for type checkers only), so the two packages import each other in one direction."""
    graph = _graph()
    offending = {name: sorted(other for other in imports if other.startswith("exitkit.drill"))
                 for name, imports in graph.items() if name.startswith("exitkit.verify")}
    assert {name: found for name, found in offending.items() if found} == {}
    verify_modules = sorted(name for name in graph if name.startswith("exitkit.verify."))
    script = ("import importlib, sys\n"
              f"for name in {verify_modules!r}:\n"
              "    importlib.import_module(name)\n"
              "print(sorted(name for name in sys.modules if name.startswith('exitkit.drill')))\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          check=True, env={"PYTHONPATH": str(SOURCE.parent)})
    assert done.stdout.strip() == "[]"


def test_the_public_api_is_declared_and_re_exported():
    assert exitkit.api.__all__ == PUBLIC_API
    assert exitkit.__all__ == ["__version__", *PUBLIC_API]
    for name in PUBLIC_API:
        assert getattr(exitkit, name) is getattr(exitkit.api, name)
        assert getattr(exitkit.api, name).__doc__, f"{name} has no docstring"
    namespace: dict = {}
    exec("from exitkit import *", namespace)  # noqa: S102 - what `import *` users get
    assert sorted(name for name in namespace if name != "__builtins__") == sorted(
        exitkit.__all__)
