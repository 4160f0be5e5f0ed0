"""Each step image installs only what its code imports (issue 8: "only that step's dependencies").

The import graph of steps/<name>/ and the shared/ modules it reaches is walked statically; every third-party
distribution reached must be listed in steps/<name>/requirements.txt, and nothing else may be. Docker cannot run
here, so the Dockerfiles are checked as text: each is built on steps/base.Dockerfile (Python, shared/, the step user),
installs its requirements file, runs as the step user and starts the step.
"""

from __future__ import annotations

import ast
import functools
import importlib.metadata
import importlib.util
import re
import sys
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest

from workflows.podspec import STEP_UID
from workflows.runtime import CODE

ROOT = Path(__file__).resolve().parents[2]
STEPS = sorted(p.parent.name for p in (ROOT / "steps").glob("*/__main__.py"))
FIRST_PARTY = {"shared", "steps"}
BASE_IMAGE = "r2a-step-base:build"  # steps/base.Dockerfile, as steps/build_images.sh tags it


def _module_file(module: str) -> Path | None:
    base = ROOT.joinpath(*module.split("."))
    if (base / "__init__.py").is_file():
        return base / "__init__.py"
    if base.with_suffix(".py").is_file():
        return base.with_suffix(".py")
    return None


def _imported_modules(path: Path) -> set[str]:
    """Absolute module names imported by a file; `from pkg import name` also yields pkg.name (a submodule or not)."""
    found: set[str] = set()
    package = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parent = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                if path.name == "__init__.py" and node.level == 1:
                    parent = ".".join(path.relative_to(ROOT).parts[:-1])
                base = f"{parent}.{node.module}" if node.module else parent
            else:
                base = node.module or ""
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def third_party_distributions(step: str) -> set[str]:
    to_visit = list((ROOT / "steps" / step).glob("*.py")) + [ROOT / "steps" / "__init__.py"]
    visited: set[Path] = set()
    top_levels: set[str] = set()
    while to_visit:
        path = to_visit.pop()
        if path in visited:
            continue
        visited.add(path)
        for module in _imported_modules(path):
            top = module.split(".")[0]
            if top in FIRST_PARTY:
                target = _module_file(module)
                if target is not None:
                    to_visit.append(target)
            elif top not in sys.stdlib_module_names and top != "__future__":
                top_levels.add(module)
    return {dist for module in top_levels if (dist := _distribution_of(module))}


def _distribution_of(module: str) -> str | None:
    """The distribution that installs a module; namespace packages (google.*) resolve by the module's file."""
    top = module.split(".")[0]
    owners = packages_distributions().get(top, [])
    if len(owners) == 1:
        return _canonical(owners[0])
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None  # `from pkg import name` where name is not a module: the package itself is counted
    if spec is None or not spec.origin or spec.origin == "namespace":
        return None
    return _files_to_distribution().get(Path(spec.origin).resolve())


@functools.cache
def _files_to_distribution() -> dict[Path, str]:
    index: dict[Path, str] = {}
    for dist in importlib.metadata.distributions():
        for file in dist.files or ():
            if file.suffix == ".py":
                index[Path(dist.locate_file(file)).resolve()] = _canonical(dist.metadata["Name"])
    return index


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _requirement_name(line: str) -> str:
    return _canonical(re.split(r"[<>=!~\[;\s]", line, maxsplit=1)[0])


def _requirements(step: str) -> dict[str, str]:
    lines = (ROOT / "steps" / step / "requirements.txt").read_text().splitlines()
    entries = [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]
    return {_requirement_name(line): line for line in entries}


def _pyproject_runtime() -> dict[str, str]:
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return {_requirement_name(line): line for line in project["dependencies"]}


# Distributions that arrive only as dependencies of a listed one (the import is of a transitive package).
TRANSITIVE = {"botocore": "boto3", "google-auth": "google-cloud-storage",
              "google-api-core": "google-cloud-storage", "requests": "google-cloud-storage",
              "google-crc32c": "google-cloud-storage"}


def test_every_step_is_checked():
    assert set(STEPS) == {"dump_schema", "rewrite_ddl", "validate_restore", "plan", "load_schema",
                          "table_transfer", "report"}


@pytest.mark.parametrize("step", STEPS)
def test_requirements_cover_exactly_the_imports(step):
    needed = {TRANSITIVE.get(dist, dist) for dist in third_party_distributions(step)}
    listed = set(_requirements(step))
    assert needed - listed == set(), f"steps/{step}/requirements.txt misses {sorted(needed - listed)}"
    assert listed - needed == set(), f"steps/{step}/requirements.txt lists unused {sorted(listed - needed)}"


@pytest.mark.parametrize("step", STEPS)
def test_requirement_pins_match_pyproject(step):
    runtime = _pyproject_runtime()
    for name, line in _requirements(step).items():
        assert runtime.get(name) == line, f"steps/{step}/requirements.txt: {line!r} differs from pyproject.toml"


@pytest.mark.parametrize("step", STEPS)
def test_dockerfile_installs_only_the_step_requirements_and_runs_unprivileged(step):
    text = (ROOT / "steps" / step / "Dockerfile").read_text()
    assert re.findall(r"^FROM\s+(\S+)", text, flags=re.M) == [BASE_IMAGE]
    assert (f"--mount=type=bind,source=steps/{step}/requirements.txt,target=/tmp/requirements.txt "
            "pip install --no-cache-dir -c constraints.txt -r /tmp/requirements.txt") in text
    assert f"COPY steps/{step} ./steps/{step}" in text
    assert "COPY shared" not in text and "requirements.txt ./" not in text  # shared/ comes once, from the base
    users = re.findall(r"^USER\s+(\S+)", text, flags=re.M)
    assert users == [str(STEP_UID)]
    assert f'ENTRYPOINT ["python", "-m", "steps.{step}"]' in text


def test_base_image_holds_the_shared_code_and_the_step_user_and_make_images_builds_it_first():
    text = (ROOT / "steps" / "base.Dockerfile").read_text()
    assert re.findall(r"^FROM\s+(\S+)", text, flags=re.M) == ["python:3.11-slim"]
    assert "WORKDIR /app" in text and "COPY constraints.txt ./" in text
    assert f"COPY {CODE[0]} ./{CODE[0]}" in text and "COPY steps/__init__.py ./steps/__init__.py" in text
    assert f"useradd --uid {STEP_UID} " in text
    script = (ROOT / "steps" / "build_images.sh").read_text()
    base_build = script.index(f"docker build -f steps/base.Dockerfile -t {BASE_IMAGE} .")
    assert base_build < script.index('docker build -f "steps/$step/Dockerfile"')


def test_every_requirement_is_bounded_and_pinned_by_the_constraints():
    pins = dict(line.split("==") for line in (ROOT / "constraints.txt").read_text().splitlines()
                if line and not line.startswith("#"))
    pins = {_canonical(name): version for name, version in pins.items()}
    for name, line in _pyproject_runtime().items():
        assert "<" in line, f"pyproject.toml: {line!r} has no upper bound"
        assert name in pins, f"constraints.txt does not pin {name}"
    major, minor = (int(part) for part in pins["paramiko"].split(".")[:2])
    assert (major, minor) >= (3, 4), "paramiko before 3.4 lacks the Terrapin fix (CVE-2023-48795)"


def test_hera_is_not_in_any_step_image():
    for step in STEPS:
        assert "hera" not in _requirements(step)


def test_make_images_builds_exactly_the_images_the_manifests_pull(tmp_path):
    """steps/build_images.sh tags what `python -m workflows.render --list-images` prints (docker cannot run here)."""
    import subprocess

    import yaml

    script = (ROOT / "steps" / "build_images.sh").read_text()
    assert '-m workflows.render "${list[@]}"' in script and '-t "$reference"' in script
    listed = subprocess.run([sys.executable, "-m", "workflows.render", "--list-images", "--image-registry",
                             "eu.gcr.io/p/r2a", "--image-tag", "1.0"], cwd=ROOT, capture_output=True, text=True,
                            check=True).stdout.split("\n")
    built = dict(line.split() for line in listed if line)
    assert set(built) == set(STEPS)
    subprocess.run([sys.executable, "-m", "workflows.render", "--out", str(tmp_path), "--image-registry",
                    "eu.gcr.io/p/r2a", "--image-tag", "1.0"], cwd=ROOT, capture_output=True, check=True)
    pulled = set()
    for path in tmp_path.glob("*.yaml"):
        spec = yaml.safe_load(path.read_text())["spec"]
        for template in spec.get("workflowSpec", spec).get("templates", []):
            if "container" in template:
                pulled.add(template["container"]["image"])
    assert pulled == set(built.values())
