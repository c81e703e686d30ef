"""`python -m northstar`: the one entry point; runs the server or the demo, reads and manages experiments.

    python -m northstar serve [--port 8080 --data-dir ./northstar-data ...]
    python -m northstar demo
    python -m northstar experiments list|get|put|apply|start|stop|new-phase|history|results ...
    python -m northstar metrics list|get|put ...
    python -m northstar insights trends|funnel|retention|events|properties|saved ...
    python -m northstar insights lifecycle|stickiness|paths|nps|cohorts|cohort-put|cohort-upload|cohort-persons|targets ...
    python -m northstar events latest|verify ...
    python -m northstar status

Imports stay inside the commands, so `--help` loads no server, ClickHouse or statistics code.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

if TYPE_CHECKING:
    from collector.settings import CollectorSettings

__all__ = ["main", "build_settings"]

_DEFAULT_URL = "http://127.0.0.1:8080"
_ADMIN_COMMANDS = ("experiments", "metrics", "insights", "events", "persons", "status")


class _Parser(argparse.ArgumentParser):
    """Usage mistakes in one line on stderr (argparse prints the whole usage first), exit code 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"error: {self.prog}: {message} (see --help)\n")


def main(argv: list[str] | None = None) -> int:
    """Run one command; the exit code: 0 on success, 1 for a failed admin command, 2 for bad flags."""
    parser = _Parser(prog="python -m northstar", description=__doc__.partition("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the collector and experiment API")
    _add_server_arguments(serve, default_port=8080)
    demo = commands.add_parser("demo", help="run an experiment end to end on a temporary store")
    demo.add_argument("--users", type=_positive_int, default=10_000, help="simulated users (default 10000)")
    demo.add_argument("--port", type=_port, default=0, help="port (default: a free one)")
    demo.add_argument("--keep", action="store_true", help="keep serving after printing the results")
    demo.add_argument("--seed", type=int, default=7, help="random seed of the simulation")
    _add_admin_commands(commands)
    args = parser.parse_args(argv)
    if args.command in _ADMIN_COMMANDS:
        return _admin(args)

    from northstar.logs import configure_logging

    level = logging.WARNING if args.command == "demo" else logging.INFO
    configure_logging(level, getattr(args, "log_format", "text"))
    if args.command == "demo":
        from northstar.demo import run_demo

        try:
            return run_demo(users=args.users, port=args.port, keep=args.keep, seed=args.seed)
        except KeyboardInterrupt:  # before the results: run_demo has cleaned up
            return 130
        except OSError as error:  # the port is in use
            print(f"error: {error}", file=sys.stderr)
            return 2
    return _serve(args)


def _serve(args: argparse.Namespace) -> int:
    """Validate, bind, then create: a refused start leaves nothing behind in the data directory."""
    from collector.settings import check_clickhouse_dsn
    from collector.wal import WalError
    from northstar.runner import bind, serve_forever

    try:
        if args.clickhouse_dsn is not None:
            check_clickhouse_dsn(args.clickhouse_dsn)
        _cluster(args.cluster, args.clickhouse_dsn)
        listener = bind(args.host, args.port)
    except (ValueError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    try:
        settings = build_settings(args)
        serve_forever(settings, listener)
    except (ValueError, OSError, WalError) as error:  # unusable data directory
        print(f"error: {error}", file=sys.stderr)
        return 2
    finally:
        listener.close()
    return 0


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {value}")
    return value


def _non_negative_int(text: str) -> int:
    return 0 if text.strip() == "0" else _positive_int(text)


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, got {text}")
    return value


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"{value} is out of range: a port is 1-65535 (0: any free port)")
    return value


def _option(parser: argparse.ArgumentParser, flag: str, env_name: str | None, default: object,
            help: str, **options: object) -> None:
    """A flag whose default comes from `env_name` when set; its help names both.

    argparse converts a string default with the flag's `type`, so a bad value in the
    environment is reported like a bad flag.
    """
    shown = "none" if default is None else default
    where = f"; env {env_name}" if env_name else ""
    value = os.environ.get(env_name, default) if env_name else default
    parser.add_argument(flag, default=value, help=f"{help} (default {shown}{where})", **options)  # type: ignore[arg-type]


def _add_server_arguments(parser: argparse.ArgumentParser, default_port: int) -> None:
    from collector.event_time import IMPORT_WINDOW, LIVE_WINDOW  # stdlib only: cheap for --help
    from collector.settings import AnalyticsLimits, CollectorSettings, ConnectionLimits

    limits = ConnectionLimits()
    analytics = AnalyticsLimits()
    _option(parser, "--host", "NORTHSTAR_LISTEN_HOST", "127.0.0.1",
            "interface to listen on; 0.0.0.0 for every IPv4 interface")
    _option(parser, "--port", "NORTHSTAR_PORT", str(default_port), "port to listen on, 1-65535 (0: a free one)",
            type=_port)
    _option(parser, "--data-dir", "NORTHSTAR_DATA_DIR", "northstar-data",
            "local state: write-ahead log, embedded ClickHouse, secrets", type=Path)
    _option(parser, "--clickhouse-dsn", "NORTHSTAR_CLICKHOUSE_DSN", None,
            "chdb:///absolute/path (embedded; none: <data-dir>/clickhouse) or http(s)://user:password@host:8123")
    _option(parser, "--cluster", "NORTHSTAR_CLICKHOUSE_CLUSTER", None,
            "ClickHouse cluster name: Replicated tables + Distributed, ON CLUSTER (server DSN only)")
    _add_secret_arguments(parser)
    _option(parser, "--log-budget-mb", "NORTHSTAR_LOG_BUDGET_MB", "2048",
            "disk the write-ahead log may hold before answering 503", type=_positive_int)
    _option(parser, "--max-event-age-days", "NORTHSTAR_MAX_EVENT_AGE_DAYS", str(LIVE_WINDOW.max_age.days),
            "events dated earlier (or over 23 h ahead) are stored at their receive time, the client's "
            "time kept in client_timestamp", type=_positive_int)
    _option(parser, "--import-max-age-days", "NORTHSTAR_IMPORT_MAX_AGE_DAYS", str(IMPORT_WINDOW.max_age.days),
            "/v1/import refuses events dated earlier (or over 23 h ahead), by index", type=_positive_int)
    _option(parser, "--max-requests-in-flight", "NORTHSTAR_MAX_REQUESTS_IN_FLIGHT",
            str(CollectorSettings.max_concurrent_requests),
            "past this many requests being served, 503 with Retry-After (/health excepted)", type=_positive_int)
    _option(parser, "--max-connections-per-client", "NORTHSTAR_MAX_CONNECTIONS_PER_CLIENT",
            str(limits.max_connections_per_client),
            "connections one client address may hold; more are closed at once (0: no cap; behind a "
            "load balancer raise it or use 0)", type=_non_negative_int)
    _option(parser, "--head-timeout", "NORTHSTAR_HEAD_TIMEOUT", f"{limits.head_timeout_seconds:g}",
            "seconds a connection has to send a complete request head, else 408 and closed", type=_positive_float)
    _option(parser, "--body-timeout", "NORTHSTAR_BODY_TIMEOUT", f"{limits.body_timeout_seconds:g}",
            f"seconds a request has to send its body, plus 1 s per {limits.body_min_bytes_per_second} bytes "
            "received, else 408 and closed", type=_positive_float)
    _option(parser, "--keep-alive-timeout", "NORTHSTAR_KEEP_ALIVE_TIMEOUT", f"{limits.keep_alive_timeout_seconds:g}",
            "seconds an idle kept-alive connection stays open", type=_positive_float)
    _option(parser, "--insights-max-seconds", "NORTHSTAR_INSIGHTS_MAX_SECONDS", f"{analytics.max_query_seconds:g}",
            "seconds one analytical query (insights) may run before it is cut off (503)", type=_positive_float)
    _option(parser, "--insights-max-memory-mb", "NORTHSTAR_INSIGHTS_MAX_MEMORY_MB",
            str(analytics.max_query_memory_bytes >> 20),
            "memory one analytical query may use in ClickHouse before it is cut off (503)", type=_positive_int)
    _option(parser, "--insights-max-concurrent", "NORTHSTAR_INSIGHTS_MAX_CONCURRENT",
            str(analytics.max_concurrent_queries),
            f"analytical queries running at once; another waits {analytics.queue_seconds:g} s for a slot, "
            "then gets 429 with Retry-After", type=_positive_int)
    _option(parser, "--log-format", "NORTHSTAR_LOG_FORMAT", "text", "text, or one JSON object per line",
            choices=["text", "json"])
    parser.add_argument("--no-fsync", action="store_true",
                        default=os.environ.get("NORTHSTAR_NO_FSYNC", "") == "1",
                        help="benchmark baseline only: acknowledge before the log reaches the disk "
                        "(default off; env NORTHSTAR_NO_FSYNC=1)")


def _add_secret_arguments(parser: argparse.ArgumentParser) -> None:
    """Each credential as values or as a file (one per line: keeps it out of `ps`), else generated."""
    env = os.environ.get

    def listed(name: str) -> list[str]:
        return [value for value in env(name, "").split(",") if value.strip()]

    parser.add_argument("--write-key", action="append", dest="write_keys",
                        help="public write key, for apps and browsers: ingestion and /v1/assign (repeatable; "
                        "default: env NORTHSTAR_WRITE_KEYS, comma-separated, else one generated under the data dir)")
    _option(parser, "--write-key-file", "NORTHSTAR_WRITE_KEY_FILE", None, "file of write keys, one per line",
            type=Path)
    parser.add_argument("--sdk-key", action="append", dest="sdk_keys",
                        help="server-side SDK key (16+ characters), for local evaluation: /v1/sdk/definitions "
                        "(repeatable; default: env NORTHSTAR_SDK_KEYS, comma-separated, else one generated)")
    _option(parser, "--sdk-key-file", "NORTHSTAR_SDK_KEY_FILE", None, "file of SDK keys, one per line", type=Path)
    _option(parser, "--admin-secret", "NORTHSTAR_ADMIN_SECRET", None,
            "secret (16+ characters) for results, management and the dashboard; without one, one is "
            "generated under the data dir")
    _option(parser, "--admin-secret-file", "NORTHSTAR_ADMIN_SECRET_FILE", None, "file holding the admin secret",
            type=Path)
    parser.add_argument("--secure-cookies", action="store_true", default=env("NORTHSTAR_SECURE_COOKIES", "") == "1",
                        help="mark the dashboard cookie Secure over http too, behind a TLS proxy; https "
                        "requests always get it (default off; env NORTHSTAR_SECURE_COOKIES=1)")
    _option(parser, "--secret-guess-burst", "NORTHSTAR_SECRET_GUESS_BURST", "20",
            "refused secrets one client address may present before its guesses get 429 "
            "(refilled one per 3 s; then a backoff from 1 s to 60 s)", type=_positive_int)
    parser.set_defaults(env_write_keys=listed("NORTHSTAR_WRITE_KEYS"), env_sdk_keys=listed("NORTHSTAR_SDK_KEYS"))


def build_settings(args: argparse.Namespace) -> CollectorSettings:
    """Settings from parsed flags; secrets not given are generated once and printed."""
    from dataclasses import replace
    from datetime import timedelta

    from collector.event_time import IMPORT_WINDOW, LIVE_WINDOW
    from collector.settings import (
        AnalyticsLimits,
        CollectorSettings,
        ConnectionLimits,
        SecretSource,
        default_clickhouse_dsn,
        load_credentials,
    )

    cluster = _cluster(args.cluster, args.clickhouse_dsn)
    data_dir: Path = args.data_dir
    data_dir.mkdir(parents=True, exist_ok=True)
    credentials = load_credentials(
        data_dir,
        write_keys=SecretSource(tuple(args.write_keys or args.env_write_keys), args.write_key_file),
        sdk_keys=SecretSource(tuple(args.sdk_keys or args.env_sdk_keys), args.sdk_key_file),
        admin_secret=SecretSource((args.admin_secret,) if args.admin_secret else (), args.admin_secret_file),
    )
    for line in credentials.generated:
        print(line, flush=True)
    return CollectorSettings(
        data_dir=data_dir,
        clickhouse_dsn=args.clickhouse_dsn or default_clickhouse_dsn(data_dir),
        write_keys=credentials.write_keys,
        admin_secret=credentials.admin_secret,
        sdk_keys=credentials.sdk_keys,
        secure_cookies=args.secure_cookies,
        secret_guess_burst=args.secret_guess_burst,
        host=args.host,
        port=args.port,
        wal_max_backlog_bytes=args.log_budget_mb << 20,
        fsync=not args.no_fsync,
        cluster=cluster,
        live_window=replace(LIVE_WINDOW, max_age=timedelta(days=args.max_event_age_days)),
        import_window=replace(IMPORT_WINDOW, max_age=timedelta(days=args.import_max_age_days)),
        max_concurrent_requests=args.max_requests_in_flight,
        analytics=AnalyticsLimits(max_query_seconds=args.insights_max_seconds,
                                  max_query_memory_bytes=args.insights_max_memory_mb << 20,
                                  max_concurrent_queries=args.insights_max_concurrent),
        connections=ConnectionLimits(
            head_timeout_seconds=args.head_timeout,
            body_timeout_seconds=args.body_timeout,
            keep_alive_timeout_seconds=args.keep_alive_timeout,
            max_connections_per_client=args.max_connections_per_client,
        ),
    )


def _cluster(name: str | None, dsn: str | None) -> str | None:
    if not name:
        return None
    from collector.storage.clickhouse import is_embedded
    from collector.storage.cluster import validate_cluster_name

    if not dsn or is_embedded(dsn):
        raise ValueError("--cluster needs a ClickHouse server DSN (http:// or https://)")
    return validate_cluster_name(name)


def _add_admin_commands(commands: argparse._SubParsersAction[Any]) -> None:
    """The admin API as commands: each talks to a running server with the admin secret."""
    actions, put = _definition_commands(commands, "experiments", "experiment",
                                        "manage experiments and read their results")
    put.add_argument("--new-phase", action="store_true", help="also start a new phase (a new salt, a new split)")
    apply = actions.add_parser("apply", help="create or update the experiments of a JSON/YAML file (idempotent)")
    apply.add_argument("file", type=Path, help="a list of definitions, or {\"experiments\": [...]}")
    started = _keyed(actions, "start", "start an experiment (draft or stopped → running)")
    started.add_argument("--from", dest="phase_started_at", metavar="TIME",
                         help="analyse exposures already stored from TIME (ISO 8601 with a time zone; a draft only)")
    _keyed(actions, "stop", "stop a running experiment")
    phase = _keyed(actions, "new-phase", "start a new phase: a new salt, so a new split")
    phase.add_argument("--salt", help="the new phase's salt (default: one the server derives)")
    _keyed(actions, "history", "list every stored version of an experiment")
    results = _keyed(actions, "results", "print an experiment's results")
    results.add_argument("--json", action="store_true", help="print JSON instead of a table")

    _definition_commands(commands, "metrics", "metric", "manage metric definitions")
    _insight_commands(commands)

    events = _admin_group(commands, "events", "look at what the store kept")
    actions = events.add_subparsers(dest="action", required=True)
    latest = actions.add_parser("latest", help="the latest stored events matching the filters, and their total (JSON)")
    latest.add_argument("--event", default="", help="event name")
    latest.add_argument("--type", default="", help="message type (track, identify, ...)")
    latest.add_argument("--user-id", default="", help="user id")
    latest.add_argument("--limit", type=int, default=20, help="events to print, 0 to 1000 (default 20)")
    verify = actions.add_parser("verify", help="check message ids are stored exactly once (exit 1 if not)")
    verify.add_argument("message_ids", nargs="*", help="message ids")
    verify.add_argument("--file", type=Path, help="read message ids from a file, one a line ('-': stdin)")

    persons = _admin_group(commands, "persons", "look up, list and delete persons")
    actions = persons.add_subparsers(dest="action", required=True)
    show = actions.add_parser("show", help="a person's ids, properties, first/last seen and refused merges (JSON)")
    show.add_argument("id", help="any of its distinct ids, or its person id")
    listed = actions.add_parser("list", help="persons, latest activity first (JSON)")
    listed.add_argument("--property", default="", help="only persons whose property ...")
    listed.add_argument("--value", default="", help="... equals this value")
    listed.add_argument("--limit", type=int, default=20, help="persons to print, 0 to 1000 (default 20)")
    delete = actions.add_parser("delete", help="remove a person, its ids and its events")
    delete.add_argument("id", help="any of its distinct ids, or its person id")

    _admin_group(commands, "status", "print the ingestion counters (JSON)")


def _days_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--from", dest="date_from", help="first day, YYYY-MM-DD (default: 6 days before --to)")
    parser.add_argument("--to", dest="date_to", help="last day, YYYY-MM-DD (default: today)")
    parser.add_argument("--timezone", default="UTC", help="IANA time zone of the days (default UTC)")


def _insight_commands(commands: argparse._SubParsersAction[Any]) -> None:
    """`insights trends|funnel|retention|events|properties|saved`: product analytics from a running server."""
    actions = _admin_group(commands, "insights", "query product insights: trends, the event catalog, saved "
                           "insights").add_subparsers(dest="action", required=True)
    trends = actions.add_parser("trends", help="a value per interval per event (a table, or --json)")
    trends.add_argument("events", nargs="*", help="event names, one series each (or --query)")
    trends.add_argument("--math", default="total", help="total, persons, dau, wau, mau, per_person_avg, "
                        "sum, avg, min, max, median, p90, p95, p99 (default total)")
    trends.add_argument("--property", help="the numeric property of sum/avg/min/max/median/p90/p95/p99")
    trends.add_argument("--from", dest="date_from", help="first day, YYYY-MM-DD (default: 6 days before --to)")
    trends.add_argument("--to", dest="date_to", help="last day, YYYY-MM-DD (default: today in --timezone)")
    trends.add_argument("--interval", default="day", help="hour, day, week or month (default day)")
    trends.add_argument("--timezone", default="UTC", help="IANA time zone of the intervals (default UTC)")
    trends.add_argument("--breakdown", help="split by this property (event property; person:NAME for a person's)")
    trends.add_argument("--breakdown-limit", type=_positive_int, default=25, help="top values kept (default 25)")
    trends.add_argument("--filter", action="append", default=[], metavar="JSON",
                        help='a filter for every series, e.g. \'{"property": "plan", "operator": "equals", '
                        '"value": "pro"}\' (repeatable)')
    trends.add_argument("--query", type=Path, help="a JSON/YAML file holding the whole query (the API's body)")
    trends.add_argument("--json", action="store_true", help="print the API's JSON instead of a table")
    funnel = actions.add_parser("funnel", help="persons reaching each step, conversion and drop-off (a table, or --json)")
    funnel.add_argument("events", nargs="*", help="the steps' event names, in order (or --query)")
    _days_flags(funnel)
    funnel.add_argument("--window-seconds", type=_positive_int, default=14 * 86400,
                        help="step k at most this long after step 1 (default 14 days)")
    funnel.add_argument("--order", default="ordered", help="ordered, strict or unordered (default ordered)")
    funnel.add_argument("--breakdown", help="split by this step-1 event property (person:NAME for a person's)")
    funnel.add_argument("--query", type=Path, help="a JSON/YAML file holding the whole query (the API's body)")
    funnel.add_argument("--json", action="store_true", help="print the API's JSON instead of a table")
    retention = actions.add_parser("retention", help="per start cohort, the share returning each period (a table, or --json)")
    retention.add_argument("start_event", nargs="?", help="the event that puts a person in a cohort (or --query)")
    retention.add_argument("--return-event", help="the event that counts as coming back (default: the start event)")
    _days_flags(retention)
    retention.add_argument("--interval", default="day", help="day, week or month (default day)")
    retention.add_argument("--periods", type=_positive_int, default=8, help="periods per cohort, 0 included (default 8)")
    retention.add_argument("--type", default="recurring", help="recurring or first_time (default recurring)")
    retention.add_argument("--window", default="calendar", help="calendar or rolling (default calendar)")
    retention.add_argument("--query", type=Path, help="a JSON/YAML file holding the whole query (the API's body)")
    retention.add_argument("--json", action="store_true", help="print the API's JSON instead of a table")
    actions.add_parser("events", help="event names of the last 30 days with counts (the catalog)")
    properties = actions.add_parser("properties", help="properties of an event (or --person) with types and examples")
    properties.add_argument("event", nargs="?", help="event name (default: every event's)")
    properties.add_argument("--person", action="store_true", help="person properties instead")
    saved = actions.add_parser("saved", help="list saved insights, or show one's trend")
    saved.add_argument("key", nargs="?", help="a saved insight's key: print its trend")
    saved.add_argument("--json", action="store_true", help="print JSON instead of a table")
    from northstar.customer_commands import add_customer_commands

    add_customer_commands(actions)


def _definition_commands(
    commands: argparse._SubParsersAction[Any], name: str, noun: str, help_text: str
) -> tuple[argparse._SubParsersAction[Any], argparse.ArgumentParser]:
    """`name list|get|put` for a kind of stored definition; the group's actions and its `put`."""
    actions = _admin_group(commands, name, help_text).add_subparsers(dest="action", required=True)
    actions.add_parser("list", help=f"list {name}")
    _keyed(actions, "get", f"print the stored {noun} definition (JSON)")
    put = actions.add_parser("put", help=f"create or update one {noun} from a JSON/YAML file")
    put.add_argument("file", type=Path, help=f"one {noun} definition")
    return actions, put


def _admin_group(
    commands: argparse._SubParsersAction[Any], name: str, help_text: str
) -> argparse.ArgumentParser:
    group = commands.add_parser(name, help=help_text, description=help_text[0].upper() + help_text[1:] + ".")
    group.add_argument("--url", default=os.environ.get("NORTHSTAR_URL", _DEFAULT_URL),
                       help=f"collector URL (default {_DEFAULT_URL} or $NORTHSTAR_URL)")
    group.add_argument("--secret", help="admin secret (default $NORTHSTAR_ADMIN_SECRET, "
                       "else ./northstar-data/admin_secret)")
    return group


def _keyed(
    actions: argparse._SubParsersAction[Any], name: str, help_text: str
) -> argparse.ArgumentParser:
    action = actions.add_parser(name, help=help_text)
    action.add_argument("key", help="the key it is stored under")
    return action


def _admin(args: argparse.Namespace) -> int:
    """Run an admin command: one line on stderr and exit code 1 for any API, file or check failure."""
    from northstar.admin_commands import AdminCommandError, run_admin_command

    try:
        return run_admin_command(args, args.secret or _default_secret())
    except AdminCommandError as error:
        print(f"error: {' '.join(str(error).split())}", file=sys.stderr)
        return 1


def _default_secret() -> str:
    from northstar.admin_commands import AdminCommandError

    secret = os.environ.get("NORTHSTAR_ADMIN_SECRET")
    if secret:
        return secret
    path = Path("northstar-data") / "admin_secret"
    if path.exists():
        return path.read_text().strip()
    raise AdminCommandError("no admin secret: pass --secret or set NORTHSTAR_ADMIN_SECRET")
