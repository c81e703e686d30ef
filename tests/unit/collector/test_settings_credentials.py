"""Where the server's credentials come from: values, files (one per line), the data directory or
generated (mode 0600, announced once); short or doubled secrets are refused before anything is created."""

from __future__ import annotations

import re
import stat
from pathlib import Path

import pytest

from collector.settings import CollectorSettings, SecretSource, load_credentials

ADMIN = "admin-secret-0123456789"
SDK = "sdk-key-0123456789abc"


NOT_GIVEN = SecretSource()


def _load(data_dir: Path, write: SecretSource = NOT_GIVEN, sdk: SecretSource = NOT_GIVEN,
          admin: SecretSource = NOT_GIVEN):
    return load_credentials(data_dir, write_keys=write, sdk_keys=sdk, admin_secret=admin)


def test_missing_credentials_are_generated_once_with_mode_0600_and_announced(tmp_path: Path) -> None:
    first = _load(tmp_path)
    assert [line.split(" (")[0] for line in first.generated] == [
        "Generated write key", "Generated SDK key", "Generated admin secret"]
    for name in ("write_key", "sdk_key", "admin_secret"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o600
    (sdk_key,) = first.sdk_keys
    assert sdk_key in first.generated[1] and len(sdk_key) >= 16 and sdk_key not in first.write_keys
    again = _load(tmp_path)
    assert again.generated == () and (again.write_keys, again.sdk_keys, again.admin_secret) == (
        first.write_keys, first.sdk_keys, first.admin_secret)


def test_files_hold_one_credential_per_line(tmp_path: Path) -> None:
    (tmp_path / "write").write_text("wk-one\n\n  wk-two  \n")
    (tmp_path / "sdk").write_text(f"{SDK}\n")
    (tmp_path / "admin").write_text(f"{ADMIN}\n")
    loaded = _load(tmp_path / "data", SecretSource(file=tmp_path / "write"), SecretSource(file=tmp_path / "sdk"),
                   SecretSource(file=tmp_path / "admin"))
    assert (loaded.write_keys, loaded.sdk_keys, loaded.admin_secret) == ({"wk-one", "wk-two"}, {SDK}, ADMIN)
    assert loaded.generated == () and not (tmp_path / "data").exists()


@pytest.mark.parametrize(("sources", "message"), [
    ({"admin": SecretSource(("short-secret",))}, "admin secret must be at least 16 characters (this one has 12)"),
    ({"sdk": SecretSource(("sdk-short",))}, "SDK key must be at least 16 characters"),
    ({"write": SecretSource((SDK,)), "sdk": SecretSource((SDK,))}, "equals a write key, which is public"),
    ({"admin": SecretSource((ADMIN,)), "sdk": SecretSource((ADMIN,))}, "admin secret equals an SDK key"),
    ({"admin": SecretSource((ADMIN,), Path("/dev/null"))}, "both as a value and as a file"),
    ({"admin": SecretSource(file=Path("/nonexistent/secret"))}, "cannot read the admin secret from /nonexistent"),
    ({"sdk": SecretSource(file=Path("/dev/null"))}, "/dev/null holds no SDK key"),
])
def test_a_refused_credential_is_one_line_and_creates_nothing(tmp_path: Path, sources: dict, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)) as refused:
        _load(tmp_path, **sources)
    assert "\n" not in str(refused.value)
    assert list(tmp_path.iterdir()) == []


def test_an_admin_secret_file_of_two_lines_is_refused(tmp_path: Path) -> None:
    (tmp_path / "admin").write_text(f"{ADMIN}\n{ADMIN}x\n")
    with pytest.raises(ValueError, match="one admin secret"):
        _load(tmp_path / "data", admin=SecretSource(file=tmp_path / "admin"))


def test_settings_built_in_code_are_checked_the_same_way(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="at least 16"):
        CollectorSettings(data_dir=tmp_path, clickhouse_dsn="chdb:///x", write_keys=frozenset({"wk"}),
                          admin_secret="short")
