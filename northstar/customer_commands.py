"""The customer-insight commands of the `insights` command group: lifecycle, stickiness, paths, nps,
cohorts, targets (a table, or the API's JSON with `--json`), over the admin API of a running server.

`add_customer_commands` declares them on the group's subparsers; `CUSTOMER_ACTIONS` runs them
(merged into `northstar.admin_commands`). Bad input is one line (`CustomerCommandError`).
Imports stay inside the commands, so `--help` loads no analysis code.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from northstar.admin_client import AdminClient

__all__ = ["add_customer_commands", "CUSTOMER_ACTIONS", "CustomerCommandError"]


class CustomerCommandError(RuntimeError):
    """A command's input is wrong; the message is one line for a person."""


def _range_flags(parser: argparse.ArgumentParser, *, interval: bool = True) -> None:
    parser.add_argument("--from", dest="date_from", help="first day, YYYY-MM-DD (default: 6 days before --to)")
    parser.add_argument("--to", dest="date_to", help="last day, YYYY-MM-DD (default: today in UTC)")
    if interval:
        parser.add_argument("--interval", default="day", help="hour, day, week or month (default day)")
    parser.add_argument("--timezone", default="UTC", help="IANA time zone of the days (default UTC)")
    parser.add_argument("--filter", action="append", default=[], metavar="JSON",
                        help='a filter, e.g. \'{"type": "cohort", "key": "power-users"}\' (repeatable)')
    parser.add_argument("--json", action="store_true", help="print the API's JSON instead of a table")


def add_customer_commands(actions: argparse._SubParsersAction[Any]) -> None:
    """Declare `insights lifecycle|stickiness|paths|nps|cohorts|cohort-put|cohort-upload|cohort-persons|targets`."""
    for name, text in (("lifecycle", "new, returning, resurrecting and dormant persons per interval, and churn"),
                       ("stickiness", "persons by the number of intervals they were active in")):
        parser = actions.add_parser(name, help=text)
        parser.add_argument("event", nargs="?", help="event name (default: any event)")
        _range_flags(parser)
    paths = actions.add_parser("paths", help="the top journeys: edges between step-prefixed events and pages")
    paths.add_argument("--start", help="paths from this event or page forwards")
    paths.add_argument("--end", help="paths to this event or page, backwards")
    paths.add_argument("--steps", type=int, default=5, help="nodes per path (default 5)")
    paths.add_argument("--edge-limit", type=int, default=50, help="edges shown (default 50)")
    paths.add_argument("--idle-minutes", type=float, default=30, help="a session ends after this idle time (default 30)")
    paths.add_argument("--exclude", action="append", default=[], help="leave out this event or page (repeatable)")
    _range_flags(paths, interval=False)
    nps = actions.add_parser("nps", help="a survey's Net Promoter Score, averages and latest answers")
    nps.add_argument("survey", help="the survey key")
    nps.add_argument("--breakdown", help="by an event property (person:NAME for a person's, cohort:A,B for cohorts)")
    nps.add_argument("--all-responses", action="store_true", help="count every response, not each person's last")
    _range_flags(nps)
    cohorts = actions.add_parser("cohorts", help="list cohorts, or show one's size now and over recent days")
    cohorts.add_argument("key", nargs="?", help="a cohort key")
    cohorts.add_argument("--days", type=int, default=7, help="days of size history (default 7)")
    cohorts.add_argument("--json", action="store_true", help="print the API's JSON")
    put = actions.add_parser("cohort-put", help="define a cohort from a JSON/YAML file (rules or static_ids)")
    put.add_argument("file", type=Path, help="one cohort document")
    upload = actions.add_parser("cohort-upload", help="define a static cohort from a CSV file of ids (first column)")
    upload.add_argument("key", help="the cohort key")
    upload.add_argument("csv", type=Path, help="the CSV file")
    upload.add_argument("--name", default="", help="the cohort's name")
    members = actions.add_parser("cohort-persons", help="a cohort's members (person ids, one a line)")
    members.add_argument("key", help="the cohort key")
    members.add_argument("--limit", type=int, default=100, help="persons (default 100)")
    members.add_argument("--offset", type=int, default=0, help="from this position (default 0)")
    targets = actions.add_parser("targets", help="print the team's targets, or replace them from a file")
    targets.add_argument("file", type=Path, nargs="?", help='a JSON/YAML file: {"targets": [...]}')


def _query(args: argparse.Namespace) -> dict[str, Any]:
    try:
        date_to = dt.date.fromisoformat(args.date_to) if args.date_to else dt.datetime.now(dt.timezone.utc).date()
        date_from = dt.date.fromisoformat(args.date_from) if args.date_from else date_to - dt.timedelta(days=6)
        filters = [json.loads(text) for text in args.filter]
    except ValueError as error:
        raise CustomerCommandError(f"--from/--to take YYYY-MM-DD and --filter a JSON object: {error}") from None
    query: dict[str, Any] = {"date_from": date_from.isoformat(), "date_to": date_to.isoformat(),
                             "timezone": args.timezone, "filters": filters}
    if getattr(args, "interval", None):
        query["interval"] = args.interval
    return query


def _show(answer: dict[str, Any], args: argparse.Namespace, kind: type[Any], render: Any) -> None:
    import msgspec

    print(json.dumps(answer, indent=2, ensure_ascii=False) if args.json else render(msgspec.convert(answer, kind)))


def _lifecycle(api: AdminClient, args: argparse.Namespace) -> None:
    from insights.customer_report import render_lifecycle, render_stickiness
    from insights.lifecycle import LifecycleResult, StickinessResult

    query = {**_query(args), **({"event": args.event} if args.event else {})}
    if args.action == "lifecycle":
        _show(api.insight("lifecycle", query), args, LifecycleResult, render_lifecycle)
    else:
        _show(api.insight("stickiness", query), args, StickinessResult, render_stickiness)


def _paths(api: AdminClient, args: argparse.Namespace) -> None:
    from insights.customer_report import render_paths
    from insights.paths import PathsResult

    query = {**_query(args), "steps": args.steps, "edge_limit": args.edge_limit,
             "session_idle_minutes": args.idle_minutes, "exclude_events": args.exclude}
    if args.start:
        query["start_event"] = args.start
    if args.end:
        query["end_event"] = args.end
    _show(api.insight("paths", query), args, PathsResult, render_paths)


def _nps(api: AdminClient, args: argparse.Namespace) -> None:
    from insights.customer_report import render_nps
    from insights.surveys import NpsResult

    query = {**_query(args), "survey": args.survey, "responses": "all" if args.all_responses else "last"}
    if args.breakdown:
        kind, _, name = args.breakdown.rpartition(":")
        query["breakdown"] = ({"type": "cohort", "cohorts": name.split(",")} if kind == "cohort"
                              else {"property": name, "type": kind or "event"})
    _show(api.insight("nps", query), args, NpsResult, render_nps)


def _cohorts(api: AdminClient, args: argparse.Namespace) -> None:
    from insights.cohorts import CohortDetail
    from insights.customer_report import render_cohort

    if args.key is None:
        for cohort in api.list_cohorts():
            print(f"{cohort['key']}\t{cohort.get('name', '')}".rstrip())
        return
    _show(api.get_cohort(args.key, args.days), args, CohortDetail, render_cohort)


def _document(path: Path) -> dict[str, Any]:
    from experiments.apply import load_document

    try:
        document = load_document(path)
    except Exception as error:
        raise CustomerCommandError(str(error)) from None
    if not isinstance(document, dict):
        raise CustomerCommandError(f"{path}: a JSON/YAML object")
    return document


def _cohort_put(api: AdminClient, args: argparse.Namespace) -> None:
    answer = api.save_cohort(_document(args.file))
    print(f"saved  {answer['key']}  v{answer['version']}")


def _cohort_upload(api: AdminClient, args: argparse.Namespace) -> None:
    try:
        text = args.csv.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise CustomerCommandError(f"{args.csv}: {getattr(error, 'strerror', None) or error}") from None
    answer = api.upload_cohort(args.key, text, args.name)
    print(f"saved  {answer['key']}  v{answer['version']}")


def _cohort_persons(api: AdminClient, args: argparse.Namespace) -> None:
    for person in api.cohort_persons(args.key, args.offset, args.limit)["persons"]:
        print(person)


def _targets(api: AdminClient, args: argparse.Namespace) -> None:
    if args.file is not None:
        api.save_targets(_document(args.file).get("targets", []))
    for target in api.targets():
        sign = "≥" if target["direction"] == "at_least" else "≤"
        print(f"{target['metric']}\t{sign} {target['value']:g}\t{target.get('label', '')}".rstrip())


CUSTOMER_ACTIONS: dict[tuple[str, str | None], Callable[[AdminClient, argparse.Namespace], None]] = {
    ("insights", "lifecycle"): _lifecycle,
    ("insights", "stickiness"): _lifecycle,
    ("insights", "paths"): _paths,
    ("insights", "nps"): _nps,
    ("insights", "cohorts"): _cohorts,
    ("insights", "cohort-put"): _cohort_put,
    ("insights", "cohort-upload"): _cohort_upload,
    ("insights", "cohort-persons"): _cohort_persons,
    ("insights", "targets"): _targets,
}
