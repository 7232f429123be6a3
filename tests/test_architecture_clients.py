"""The public surface has one implementation: the async client is the sync one with ``await``.

What each public method does is built once, in `skytells._clients.core.ClientCore`; the two
clients (and the two flavours of each resource) only run it, with ``driver.run(op)`` or
``await driver.run(op)``. These tests read the source: a method whose async body is not the sync
body with ``await`` added, a resource reaching into its client, or an import cycle between the
clients and `prediction` / `resources` fails them.
"""

from __future__ import annotations

import ast
import importlib
import inspect
from pathlib import Path

import pytest

import skytells

SRC = Path(skytells.__file__).parent
CLIENTS = SRC / "_clients"
RESOURCES = SRC / "resources"

# The only methods a flavour may have on its own or write its own way: how it connects (its
# HTTP client type), which driver and resources it builds, how it iterates, how it closes.
OWN_WAY = {
    "_connect",
    "_bind",
    "_run_many",
    "close",
    "__enter__",
    "__exit__",
    "aclose",
    "__aenter__",
    "__aexit__",
}


class _AsSync(ast.NodeTransformer):
    """An async body as the sync one would read: no ``await``, ``AsyncX`` named ``X``."""

    def visit_Await(self, node: ast.Await) -> ast.AST:
        return self.visit(node.value)

    def visit_Name(self, node: ast.Name) -> ast.AST:
        if node.id.startswith("Async"):
            node.id = node.id.removeprefix("Async")
        return node


def _classes(path: Path) -> dict[str, ast.ClassDef]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {node.name: node for node in tree.body if isinstance(node, ast.ClassDef)}


def _bodies(cls: ast.ClassDef, *, as_sync: bool = False) -> dict[str, str]:
    """Each method's body (docstring left out) as source text."""
    out: dict[str, str] = {}
    for node in cls.body:
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        body = node.body
        if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
            body = body[1:]
        if as_sync:
            body = [_AsSync().visit(statement) for statement in body]
        out[node.name] = ast.unparse(ast.Module(body=body, type_ignores=[]))
    return out


TWINS = [
    (CLIENTS / "sync.py", "SkytellsClient", CLIENTS / "async_.py", "AsyncSkytellsClient"),
    (RESOURCES / "predictions.py", "Predictions", RESOURCES / "predictions.py", "AsyncPredictions"),
    (RESOURCES / "models.py", "Models", RESOURCES / "models.py", "AsyncModels"),
    (CLIENTS / "prediction.py", "Prediction", CLIENTS / "prediction.py", "AsyncPrediction"),
]


@pytest.mark.parametrize(("sync_path", "sync_name", "async_path", "async_name"), TWINS)
def test_the_async_flavour_is_the_sync_one_with_await(
    sync_path: Path, sync_name: str, async_path: Path, async_name: str
) -> None:
    sync = _bodies(_classes(sync_path)[sync_name])
    asynchronous = _bodies(_classes(async_path)[async_name], as_sync=True)
    assert set(sync) ^ set(asynchronous) <= OWN_WAY, "a method only one flavour has"
    differ = [
        name
        for name in sorted(set(sync) & set(asynchronous) - OWN_WAY)
        if sync[name] != asynchronous[name]
    ]
    assert differ == [], f"{async_name} is not {sync_name} with await in: {differ}"


@pytest.mark.parametrize(("sync_path", "sync_name", "async_path", "async_name"), TWINS[:3])
def test_public_methods_only_run_what_the_core_builds(
    sync_path: Path, sync_name: str, async_path: Path, async_name: str
) -> None:
    """Every public method body is at most two statements: build, then run (or a deprecation
    warning, then the new name). The logic between is `ClientCore`'s, written once."""
    for path, name in ((sync_path, sync_name), (async_path, async_name)):
        for node in _classes(path)[name].body:
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            if node.name.startswith("_") or node.name in OWN_WAY:
                continue
            body = node.body[1:] if ast.get_docstring(node) is not None else node.body
            assert len(body) <= 2, f"{name}.{node.name} has logic of its own"


def _runtime_imports(path: Path) -> set[str]:
    """What ``path`` imports when it runs (anywhere but under ``if TYPE_CHECKING``): each module
    or name it binds, as an absolute dotted name."""
    package = "skytells." + ".".join(path.relative_to(SRC).with_suffix("").parts[:-1])
    found: set[str] = set()

    def walk(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and ast.unparse(child.test) == "TYPE_CHECKING":
                for orelse in child.orelse:
                    walk(orelse)
                continue
            if isinstance(child, ast.Import):
                found.update(alias.name for alias in child.names)
            elif isinstance(child, ast.ImportFrom):
                base = importlib.util.resolve_name(
                    "." * child.level + (child.module or ""), package
                )
                found.update(f"{base}.{alias.name}" for alias in child.names)
            walk(child)

    walk(ast.parse(path.read_text(encoding="utf-8")))
    return found


@pytest.mark.parametrize(
    "path",
    [CLIENTS / "prediction.py", CLIENTS / "core.py", CLIENTS / "base.py", *RESOURCES.glob("*.py")],
    ids=lambda p: p.name,
)
def test_prediction_resources_and_core_never_import_the_clients(path: Path) -> None:
    """No import cycle: the clients import these; these import the clients only for typing."""
    clients = ("skytells._clients.sync", "skytells._clients.async_")
    imported = [name for name in _runtime_imports(path) if name.startswith(clients)]
    assert imported == []


@pytest.mark.parametrize(
    "path",
    [p for p in [*CLIENTS.glob("*.py"), *RESOURCES.glob("*.py")] if p.name != "core.py"],
    ids=lambda p: p.name,
)
def test_only_client_core_builds_operations(path: Path) -> None:
    """Nothing in the public surface but `ClientCore` calls an operation of the core: none of
    it imports a function that makes an `Op` (a generator function of `skytells._core`)."""
    for name in _runtime_imports(path):
        if not name.startswith("skytells._core."):
            continue
        module_name, _, attribute = name.rpartition(".")
        try:
            module = importlib.import_module(name)
        except ImportError:
            target = getattr(importlib.import_module(module_name), attribute)
            returns = getattr(target, "__annotations__", {}).get("return", "")
            makes_op = inspect.isgeneratorfunction(target) or str(returns).startswith("Op[")
            assert not (inspect.isfunction(target) and makes_op), f"{path.name} runs {name}"
        else:
            operations = [n for n, f in vars(module).items() if inspect.isgeneratorfunction(f)]
            assert not operations, f"{path.name} imports {name} to run its operations"


@pytest.mark.parametrize("path", [CLIENTS / "prediction.py", *RESOURCES.glob("*.py")])
def test_resources_and_predictions_keep_out_of_the_client(path: Path) -> None:
    """They use what they were given (a resource: the core and the driver; a prediction: its
    client's public methods), never a client's private attributes such as ``_driver``."""
    private = {"_driver", "_config", "_core", "_pool", "_queue", "_http"}
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Attribute) and node.attr in private:
            owner = node.value
            assert isinstance(owner, ast.Name) and owner.id == "self", ast.unparse(node)
