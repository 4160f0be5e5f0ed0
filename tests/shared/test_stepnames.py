"""A step's name is declared once, in shared/stepnames.py: every steps/<name> package is one of them, and no
module binds a step's name as a literal of its own (an assignment or a StepApp argument)."""

from __future__ import annotations

import ast
from pathlib import Path

from shared.stepnames import STEPS

ROOT = Path(__file__).resolve().parents[2]


def test_every_step_package_is_a_declared_step():
    assert sorted(p.parent.name for p in ROOT.glob("steps/*/__main__.py")) == sorted(STEPS)


def _literal_step_names(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        values = []
        if isinstance(node, ast.Assign | ast.AnnAssign) and node.value is not None:
            values = [node.value]
        elif isinstance(node, ast.Call) and getattr(node.func, "id", None) == "StepApp":
            values = node.args[:1]
        found += [f"{path.relative_to(ROOT)}:{v.lineno}" for v in values
                  if isinstance(v, ast.Constant) and v.value in STEPS]
    return found


def test_no_module_declares_a_step_name_again():
    modules = [p for folder in ("shared", "steps", "workflows") for p in (ROOT / folder).rglob("*.py")
               if p != ROOT / "shared" / "stepnames.py"]
    assert [hit for path in modules for hit in _literal_step_names(path)] == []
