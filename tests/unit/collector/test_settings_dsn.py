"""The DSN checks made at start, and the redaction used wherever a DSN is shown."""

from __future__ import annotations

import pytest

from collector.settings import check_clickhouse_dsn, redact_dsn


@pytest.mark.parametrize("dsn", ["chdb:///var/lib/northstar/clickhouse", "http://127.0.0.1:8123",
                                 "https://user:pw@ch.example.com:8443/analytics"])
def test_usable_dsns_pass(dsn: str) -> None:
    assert check_clickhouse_dsn(dsn) == dsn


@pytest.mark.parametrize(("dsn", "says"), [
    ("foo://bar", "unknown scheme 'foo'"),
    ("chdb://relative/path", "absolute path"),
    ("chdb:relative", "absolute path"),
    ("http://", "names no host"),
    ("http://host:99999", "not a URL"),
    ("127.0.0.1:8123", "unknown scheme"),
])
def test_unusable_dsns_are_refused_with_the_reason(dsn: str, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        check_clickhouse_dsn(dsn)


def test_a_refusal_does_not_repeat_the_password() -> None:
    with pytest.raises(ValueError) as refused:
        check_clickhouse_dsn("ftp://admin:hunter2@ch:8123")
    assert "hunter2" not in str(refused.value)


@pytest.mark.parametrize(("dsn", "shown"), [
    ("https://admin:hunter2@ch.example.com:8443/db", "https://admin:***@ch.example.com:8443/db"),
    ("http://admin:p%40ss@ch:8123", "http://admin:***@ch:8123"),
    ("http://ch:8123", "http://ch:8123"),
    ("chdb:///data/clickhouse", "chdb:///data/clickhouse"),
])
def test_redaction_hides_only_the_password(dsn: str, shown: str) -> None:
    assert redact_dsn(dsn) == shown
