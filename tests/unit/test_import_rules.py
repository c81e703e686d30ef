"""The direction of imports (DESIGN.md): sdk ← collector ← insights ← experiments ← the edge (northstar).

Read from the source with `ast`, so an import inside a function counts as much as one at the top.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
OURS = ("sdk", "collector", "experiments", "northstar", "insights", "loadtests", "tests")
WEB_FRAMEWORKS = ("starlette", "uvicorn")


def imported_modules(package: str) -> dict[str, set[str]]:
    """Absolute module names each file of `package` imports (relative imports resolved)."""
    found: dict[str, set[str]] = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        module_parts = list(path.relative_to(ROOT).with_suffix("").parts)
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = module_parts[: len(module_parts) - node.level]  # "__init__" counts as a part
                    names.add(".".join([*base, *([node.module] if node.module else [])]))
                else:
                    names.add(node.module or "")
        found[str(path.relative_to(ROOT))] = names
    return found


def offenders(package: str, forbidden: tuple[str, ...]) -> list[str]:
    return sorted(
        f"{path}: {name}"
        for path, names in imported_modules(package).items()
        for name in names
        if name.split(".")[0] in forbidden
    )


@pytest.mark.parametrize("package", ["sdk", "collector", "insights", "experiments"])
def test_domain_packages_import_no_web_framework(package: str) -> None:
    assert offenders(package, WEB_FRAMEWORKS) == []


def test_sdk_imports_only_the_standard_library_and_itself() -> None:
    outside = [
        f"{path}: {name}"
        for path, names in imported_modules("sdk").items()
        for name in names
        if (top := name.split(".")[0]) != "sdk" and (top in OURS or top not in sys.stdlib_module_names)
    ]
    assert outside == []


def test_collector_imports_nothing_of_experiments_or_the_edge() -> None:
    assert offenders("collector", ("experiments", "northstar", "insights", "loadtests", "tests")) == []


def test_insights_import_nothing_of_experiments_or_the_edge() -> None:
    assert offenders("insights", ("experiments", "northstar", "loadtests", "tests")) == []


def test_experiments_import_nothing_of_the_edge() -> None:
    assert offenders("experiments", ("northstar", "loadtests", "tests")) == []


@pytest.mark.parametrize("package", ["sdk", "collector", "insights", "experiments", "northstar"])
def test_the_product_imports_no_test_or_benchmark_helper(package: str) -> None:
    assert offenders(package, ("loadtests", "tests")) == []


def modules_of_ours_loaded_by(module: str) -> list[str]:
    """What `import <module>` loads of ours, in a fresh interpreter."""
    probe = (
        f"import sys, {module}\n"
        f"ours = {OURS!r}\n"
        "print('\\n'.join(sorted(m for m in sys.modules if m.split('.')[0] in ours)))\n"
    )
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=ROOT)
    return loaded.stdout.split()


def test_statistics_load_no_other_module_of_ours() -> None:
    modules = modules_of_ours_loaded_by("experiments.stats")
    assert [m for m in modules if m != "experiments" and not m.startswith("experiments.stats")] == []


@pytest.mark.parametrize("package", ["collector", "insights", "experiments", "northstar"])
def test_package_init_files_load_nothing_else(package: str) -> None:
    assert modules_of_ours_loaded_by(package) == [package]


def test_the_command_line_loads_no_server_or_statistics_code_before_a_command_runs() -> None:
    probe = (
        "import sys, contextlib, io, northstar.cli\n"
        "with contextlib.suppress(SystemExit), contextlib.redirect_stdout(io.StringIO()):\n"
        "    northstar.cli.main(['experiments', '--help'])\n"
        "heavy = ('scipy', 'numpy', 'starlette', 'uvicorn', 'clickhouse_connect', 'chdb', 'msgspec')\n"
        "print(' '.join(sorted({m.split('.')[0] for m in sys.modules} & set(heavy))))\n"
    )
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=ROOT)
    assert loaded.stdout.split() == []
