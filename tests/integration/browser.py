"""The browser tests' requirements: Playwright (a dev dependency) and Debian's /usr/bin/chromium.

Outside CI a missing piece skips the browser tests with the reason. In CI (`CI` set, as CI runs
with CI=true) it fails them: a browser test that cannot run there is a broken build, never a
silent skip.
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from types import ModuleType

import pytest

CHROMIUM = Path("/usr/bin/chromium")


def sync_playwright_api(chromium: Path = CHROMIUM) -> ModuleType:
    """`playwright.sync_api`, once it and `chromium` are there; skips (fails under CI) otherwise."""
    missing = _missing(chromium)
    if missing is None:
        return importlib.import_module("playwright.sync_api")
    if os.environ.get("CI"):
        pytest.fail(f"browser tests cannot run in CI: {missing}", pytrace=False)
    pytest.skip(missing)


def _missing(chromium: Path) -> str | None:
    try:
        importlib.import_module("playwright.sync_api")
    except ImportError as error:
        return f"playwright is not installed ({error}); pip install -e '.[dev]'"
    if not chromium.is_file():
        return f"{chromium} is missing; apt-get install -y chromium"
    return None
