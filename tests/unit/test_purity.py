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
# Of this project's packages, the core may import itself and the wire models, nothing else.
ALLOWED_PROJECT_PREFIXES = ("streams.domain", "schemas")


def _ids(paths: list[Path]) -> list[str]:
    return [str(p.relative_to(ROOT)) for p in paths]


@pytest.mark.parametrize("path", PURE, ids=_ids(PURE))
def test_pure_modules_import_nothing_impure(path: Path) -> None:
    modules = imported_modules(path.read_text(encoding="utf-8"))
    imported = {module.split(".")[0] for module in modules}
    assert imported & FORBIDDEN_MODULES == set()
    third_party = {name for name in imported if name not in sys.stdlib_module_names and name != "__future__"}
    assert third_party <= ALLOWED_THIRD_PARTY
    project = sorted(m for m in modules if m.split(".")[0] in {"streams", "schemas", "producers"})
    outside = [m for m in project if not any(m == p or m.startswith(p + ".") for p in ALLOWED_PROJECT_PREFIXES)]
    assert outside == [], f"the pure core imports {outside}"


def imported_modules(source: str) -> set[str]:
    """Every module an import statement names, in full (`from streams import x` names `streams.x`)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names if node.module == "streams")
    return found


def test_the_purity_check_catches_an_import_of_another_layer() -> None:
    """The check itself, broken on purpose: a core module that reaches into the Kafka layer or the store."""
    for bad in ("from streams.kafka.settings import Settings", "from streams import store", "import streams.eos"):
        modules = imported_modules(bad)
        outside = [m for m in modules if not any(m == p or m.startswith(p + ".") for p in ALLOWED_PROJECT_PREFIXES)]
        assert outside, bad


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
