"""The pure core stays pure: no clock, I/O, global randomness, brokers, or float arithmetic."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PURE = sorted((ROOT / "streams" / "domain").glob("*.py")) + sorted(
    p
    for p in (ROOT / "schemas").glob("*.py")
    if p.name != "export.py"  # the export CLI writes files by design
)
FORBIDDEN_MODULES = {
    "time",
    "datetime",
    "random",
    "secrets",
    "uuid",
    "os",
    "io",
    "socket",
    "asyncio",
    "threading",
    "faust",
    "mode",
    "aiokafka",
    "confluent_kafka",
    "kafka",
    "pathlib",
}
ALLOWED_THIRD_PARTY = {"pydantic", "orjson", "immutables", "schemas", "streams"}


def _ids(paths: list[Path]) -> list[str]:
    return [str(p.relative_to(ROOT)) for p in paths]


@pytest.mark.parametrize("path", PURE, ids=_ids(PURE))
def test_pure_modules_import_nothing_impure(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    imported: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module.split(".")[0])
    assert imported & FORBIDDEN_MODULES == set()
    third_party = {name for name in imported if name not in sys.stdlib_module_names and name != "__future__"}
    assert third_party <= ALLOWED_THIRD_PARTY


@pytest.mark.parametrize("path", PURE, ids=_ids(PURE))
def test_pure_modules_never_use_floats_or_true_division(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    offenders = [
        f"{path.name}:{node.lineno}"
        for node in ast.walk(tree)
        if (isinstance(node, ast.Name) and node.id == "float")
        or (isinstance(node, ast.Constant) and isinstance(node.value, float))
        or (isinstance(node, ast.BinOp | ast.AugAssign) and isinstance(node.op, ast.Div))
    ]
    assert offenders == []
