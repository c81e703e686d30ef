"""The dashboard's non-Python files ship in the wheel and load the way the dashboard loads them."""

from __future__ import annotations

import fnmatch
import sys
from importlib.resources import files
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # the dev extra installs tomli on Python 3.10: this test runs there too, never skips
    import tomli as tomllib

PACKAGE = "northstar.web.dashboard"
PYPROJECT = Path(__file__).parents[5] / "pyproject.toml"


def test_every_dashboard_asset_is_package_data_and_found_through_importlib_resources() -> None:
    patterns = tomllib.loads(PYPROJECT.read_text())["tool"]["setuptools"]["package-data"][PACKAGE]
    root = files(PACKAGE)
    assets = [entry.name for entry in root.iterdir() if entry.is_file() and not entry.name.endswith(".py")]
    assets += [f"static/{entry.name}" for entry in (root / "static").iterdir() if entry.is_file()]
    assert set(assets) >= {"base.html", "dashboard.css", "static/charts.js", "static/ECHARTS-LICENSE"}
    for asset in assets:
        assert any(fnmatch.fnmatch(asset, pattern) for pattern in patterns), asset
        assert (root / asset).read_text(encoding="utf-8").strip()
