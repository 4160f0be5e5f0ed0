"""Every test left out of `make test` (marked slow) is run by `make faults`, CI's other long target: a slow test no
target names would never run anywhere."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SLOW_MARK = re.compile(r"^\s*@pytest\.mark\.slow\b|pytestmark\s*=.*\bpytest\.mark\.slow\b", re.MULTILINE)


def make_target_paths(target: str) -> list[str]:
    """The test paths named on the pytest line of `target`'s recipe (continuation lines joined)."""
    makefile = (ROOT / "Makefile").read_text().replace("\\\n", " ")
    recipe = re.search(rf"^{re.escape(target)}:.*\n((?:\t.*\n)+)", makefile, re.MULTILINE)
    assert recipe, f"Makefile has no {target} target"
    return [word.rstrip("/") for word in recipe.group(1).split() if word.startswith("tests/")]


def slow_test_modules() -> list[str]:
    return sorted(str(path.relative_to(ROOT)) for path in (ROOT / "tests").rglob("test_*.py")
                  if SLOW_MARK.search(path.read_text()))


def test_every_slow_test_module_is_run_by_make_faults():
    named = make_target_paths("faults")
    unreached = [module for module in slow_test_modules()
                 if not any(module == path or module.startswith(path + "/") for path in named)]
    assert slow_test_modules(), "no slow test found: the pattern no longer matches how tests are marked"
    assert unreached == [], f"marked slow but run by no make target: {unreached}"
