"""Imports flow one way through the stages (docs/architecture.md).

Every module under ``src/ecgr1`` is parsed with :mod:`ast`, so imports inside functions and
``if TYPE_CHECKING:`` blocks count, and so does a dotted ``"ecgr1.<stage>..."`` module name in a
string (``importlib.import_module`` calls and lazy-import tables): a deferred import is still a
dependency.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import ecgr1

# The design's stage order, earliest first. It is data, not code, so the rule reads as the
# design review wrote it and placing a new stage is a one-line edit. Stages in one set form a
# tier: each may import any earlier tier and its own tier (train builds on model), never a later
# one; cycles inside a tier are caught by ``test_no_import_cycle_between_packages``. The
# top-level ``ecgr1/pipeline.py`` (chains measure, protocol, report or a model engine) may import
# every library stage and is used by the CLI; ``python -m ecgr1`` (``__main__``) runs the CLI.
STAGE_ORDER: tuple[frozenset[str], ...] = (
    frozenset({"io"}),
    frozenset({"signal"}),
    frozenset({"measure"}),
    frozenset({"protocol"}),
    frozenset({"report"}),
    frozenset({"verify", "render", "simulate", "corpus", "model", "train", "evaluate"}),
    frozenset({"pipeline"}),
    frozenset({"serve"}),  # the web server runs the pipeline, as the CLI does
    frozenset({"cli"}),
    frozenset({"__main__"}),
)

# Leaf modules every stage may import; they import no stage themselves (``_callable`` makes the
# measure and simulate packages callable; ``llm`` is the OpenAI-compatible chat client of the
# corpus rephrasing and the LLM judge).
FOUNDATION = frozenset({"errors", "paths", "_callable", "llm"})

# ``ecgr1/__init__.py`` may import any stage, and any module may import it (``__version__``):
# Python runs it before every submodule anyway, so naming it adds no dependency.
ROOT = "__init__"
PLACED = frozenset().union(*STAGE_ORDER) | FOUNDATION | {ROOT}

# Backwards imports tolerated for now: (importing module, imported stage) -> why.
ALLOWED_BACKWARDS: dict[tuple[str, str], str] = {}

PACKAGE_ROOT = Path(ecgr1.__file__).resolve().parent
_MODULE_NAME = re.compile(r"ecgr1(\.[A-Za-z_]\w*)+")


def _tier(stage: str) -> int | None:
    """Position of ``stage`` in :data:`STAGE_ORDER`; None for the foundation and the root."""
    return next((i for i, tier in enumerate(STAGE_ORDER) if stage in tier), None)


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE_ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _stage(module: str) -> str:
    """``ecgr1.measure.result`` -> ``measure``; ``ecgr1`` and ``ecgr1.__version__`` -> the root."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in PLACED else ROOT


def _absolute(node: ast.ImportFrom, importer: str, is_package: bool) -> str:
    """The absolute module an ``ImportFrom`` names (relative imports resolved)."""
    if not node.level:
        return node.module or ""
    base = importer.split(".")
    base = base if is_package else base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _imported_modules(path: Path) -> list[tuple[int, str]]:
    """(line, ecgr1 module) for every import of ``path``, wherever it sits in the file."""
    importer = _module_name(path)
    is_package = path.name == "__init__.py"
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            module = _absolute(node, importer, is_package)
            # ``from ecgr1 import io`` imports a stage; ``from ecgr1 import __version__`` does not.
            found += [(node.lineno, f"{module}.{alias.name}") for alias in node.names]
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            if _MODULE_NAME.fullmatch(node.value):
                found.append((node.lineno, node.value))
    return [(line, name) for line, name in found if name.split(".")[0] == "ecgr1"]


def _modules() -> list[Path]:
    return sorted(PACKAGE_ROOT.rglob("*.py"))


def _stage_edges() -> list[tuple[str, int, str, str, str]]:
    """(importing module, line, imported module, importing stage, imported stage), cross-stage."""
    edges = []
    for path in _modules():
        importer = _module_name(path)
        source = _stage(importer)
        for line, target in _imported_modules(path):
            stage = _stage(target)
            if stage != source:
                edges.append((importer, line, target, source, stage))
    return edges


def _is_backwards(source: str, stage: str) -> bool:
    if source == ROOT or stage == ROOT or stage in FOUNDATION:
        return False
    if source in FOUNDATION:
        return True  # the foundation stays a leaf
    return _tier(stage) > _tier(source)


def test_every_package_has_a_place_in_the_stage_order() -> None:
    found = {_module_name(path).split(".")[1] for path in _modules() if path.parent != PACKAGE_ROOT}
    found |= {path.stem for path in PACKAGE_ROOT.glob("*.py")}
    assert found - PLACED == set(), "place these in STAGE_ORDER or FOUNDATION"


def test_no_stage_imports_a_later_stage() -> None:
    violations = [
        f"{importer} (line {line}, stage {source}) imports {target} (stage {stage})"
        for importer, line, target, source, stage in _stage_edges()
        if _is_backwards(source, stage) and (importer, stage) not in ALLOWED_BACKWARDS
    ]
    assert violations == [], "backwards imports:\n" + "\n".join(violations)


def test_allowed_backwards_imports_still_exist() -> None:
    # A stale exception would silently allow the import again later.
    present = {(importer, stage) for importer, _, _, _, stage in _stage_edges()}
    stale = set(ALLOWED_BACKWARDS) - present
    assert stale == set(), f"remove from ALLOWED_BACKWARDS: {sorted(stale)}"


def test_no_import_cycle_between_packages() -> None:
    graph: dict[str, set[str]] = {}
    for importer, _, _, source, stage in _stage_edges():
        if (importer, stage) not in ALLOWED_BACKWARDS and ROOT not in (source, stage):
            graph.setdefault(source, set()).add(stage)

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        for nxt in graph.get(start, ()):
            if nxt == goal or (nxt not in seen and reaches(nxt, goal, seen | {nxt})):
                return True
        return False

    cycles = sorted(stage for stage in graph if reaches(stage, stage, {stage}))
    assert cycles == [], f"packages on an import cycle: {cycles}"


# A newcomer reads the measurement engine one function at a time: no function of measure/
# longer than this, and engine.py a short orchestration.
MAX_MEASURE_FUNCTION_LINES = 120
MAX_ENGINE_MODULE_LINES = 250


def test_measurement_functions_stay_short() -> None:
    import ast

    long = []
    for path in sorted((PACKAGE_ROOT / "measure").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                n = node.end_lineno - node.lineno + 1
                if n > MAX_MEASURE_FUNCTION_LINES:
                    long.append(f"{path.relative_to(PACKAGE_ROOT)}:{node.name} ({n} lines)")
    assert long == [], f"split these: {long}"
    engine = PACKAGE_ROOT / "measure" / "engine.py"
    assert len(engine.read_text(encoding="utf-8").splitlines()) <= MAX_ENGINE_MODULE_LINES
