"""The layout's rules, read from the source with `ast` (ARCHITECTURE.md):

- the pure core (`skytells._core`) imports nothing that does I/O, keeps time or runs concurrently,
  and nothing from the layers above it (imports inside functions count too);
- the I/O layer (`skytells._io`) imports nothing from the public surface;
- the SDK's modules import each other without cycles (module-level imports; those under
  ``if TYPE_CHECKING:`` are for annotations only and are left out).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

import skytells

PACKAGE = Path(skytells.__file__).parent
SDK_PACKAGES = ("cli", "emulator")  # beside the SDK: they use its public surface only

CORE_FORBIDDEN = (
    "skytells._io",
    "skytells._clients",
    "skytells.resources",
    "skytells.cli",
    "skytells.emulator",
    "httpx",
    "httpcore",
    "aiohttp",
    "anyio",
    "asyncio",
    "threading",
    "concurrent",
    "socket",
    "ssl",
    "time",
    "os",
    "shutil",
    "tempfile",
    "subprocess",
    "signal",
)
IO_FORBIDDEN = ("skytells._clients", "skytells.resources")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules(under: str = "") -> dict[str, Path]:
    """The SDK's modules (``skytells...`` name -> file), below ``under`` if given."""
    found = {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}
    return {name: path for name, path in found.items() if name.startswith(under)}


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _resolve(name: str, node: ast.ImportFrom) -> list[str]:
    """The absolute names an ``from ... import ...`` statement in module ``name`` reaches."""
    if node.level:
        package = name.split(".")
        is_package = modules().get(name, Path()).name == "__init__.py"
        base = package if is_package else package[:-1]
        base = base[: len(base) - (node.level - 1)]
        prefix = ".".join(base + ([node.module] if node.module else []))
    else:
        prefix = node.module or ""
    # ``from pkg import mod`` may name a module: count ``pkg.mod`` when it is one.
    known = modules()
    return [prefix] + [f"{prefix}.{a.name}" for a in node.names if f"{prefix}.{a.name}" in known]


def imports(name: str, path: Path, *, top_level_only: bool) -> Iterator[str]:
    """Every module ``name`` imports: all of them, or those run when it is imported."""
    tree = ast.parse(path.read_text(encoding="utf-8"))

    def visit(nodes: list[ast.stmt]) -> Iterator[str]:
        for node in nodes:
            if isinstance(node, ast.Import):
                yield from (alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                yield from _resolve(name, node)
            elif isinstance(node, ast.If) and _is_type_checking(node):
                if not top_level_only:
                    yield from visit(node.body)
                yield from visit(node.orelse)
            elif isinstance(node, (ast.If, ast.Try, ast.With)):
                for block in ("body", "orelse", "finalbody", "handlers"):
                    for child in getattr(node, block, []):
                        if isinstance(child, ast.ExceptHandler):
                            yield from visit(child.body)
                        else:
                            yield from visit([child])
            elif not top_level_only:
                yield from visit(
                    [child for child in ast.iter_child_nodes(node) if isinstance(child, ast.stmt)]
                )

    yield from visit(tree.body)


def _reaches(imported: str, forbidden: tuple[str, ...]) -> str | None:
    for prefix in forbidden:
        if imported == prefix or imported.startswith(prefix + "."):
            return prefix
    return None


def test_the_core_imports_no_io_no_clock_and_nothing_above_it() -> None:
    found = modules("skytells._core")
    assert "skytells._core.protocol" in found
    bad = sorted(
        f"{name} imports {imported}"
        for name, path in found.items()
        for imported in imports(name, path, top_level_only=False)
        if _reaches(imported, CORE_FORBIDDEN)
    )
    assert bad == []


def test_the_io_layer_imports_nothing_of_the_public_surface() -> None:
    found = modules("skytells._io")
    assert "skytells._io.sync_driver" in found
    bad = sorted(
        f"{name} imports {imported}"
        for name, path in found.items()
        for imported in imports(name, path, top_level_only=False)
        if _reaches(imported, IO_FORBIDDEN)
    )
    assert bad == []


def test_the_sdk_has_no_import_cycles() -> None:
    sdk = {
        name: path
        for name, path in modules("skytells").items()
        if not any(name.startswith(f"skytells.{beside}") for beside in SDK_PACKAGES)
    }
    graph = {
        name: sorted(
            {target for target in imports(name, path, top_level_only=True) if target in sdk}
            - {name}
        )
        for name, path in sdk.items()
    }
    cycles: list[list[str]] = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def walk(node: str) -> None:
        state[node] = 1
        path.append(node)
        for target in graph[node]:
            # A package's __init__ importing its own submodules is how packages work.
            if node.startswith(target + ".") and sdk[target].name == "__init__.py":
                continue
            if state.get(target) == 1:
                cycles.append([*path[path.index(target) :], target])
            elif target not in state:
                walk(target)
        path.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            walk(node)
    assert cycles == []


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("import time\n", ["time"]),
        ("def f():\n    import asyncio\n", ["asyncio"]),
        ("from .._io import files\n", ["skytells._io", "skytells._io.files"]),
        ("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import httpx\n", ["typing"]),
    ],
)
def test_the_import_reader_sees_what_it_must(
    tmp_path: Path, source: str, expected: list[str]
) -> None:
    """The reader itself: function-level imports count, relative ones resolve, and the
    top-level reading leaves out ``TYPE_CHECKING`` imports (the full one keeps them)."""
    path = tmp_path / "m.py"
    path.write_text(source, encoding="utf-8")
    assert list(imports("skytells._core.m", path, top_level_only=True)) == (
        [] if source.startswith("def") else expected
    )
    full = list(imports("skytells._core.m", path, top_level_only=False))
    assert set(expected) <= set(full)
