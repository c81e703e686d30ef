"""Browser tests never skip unnoticed in CI: a missing playwright or chromium fails them there."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from browser import sync_playwright_api


def test_missing_chromium_skips_locally_and_fails_in_ci(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="missing"):
        sync_playwright_api(tmp_path / "chromium")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="cannot run in CI"):
        sync_playwright_api(tmp_path / "chromium")


def test_missing_playwright_fails_in_ci(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "playwright.sync_api", None)  # the import raises ImportError
    monkeypatch.setenv("CI", "true")
    chromium = tmp_path / "chromium"
    chromium.write_text("")
    with pytest.raises(pytest.fail.Exception, match="playwright is not installed"):
        sync_playwright_api(chromium)
