"""The admin commands of `python -m northstar` (experiments, metrics, insights, events, persons,
status), over the admin API of a running server.

Every command either does all it says or nothing: files are read and validated before the
first request, and every failure (an unreadable file, a refused request, an unreachable
server, a verification that found missing ids) is one `AdminCommandError` of one line.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from functools import partial
from typing import Any

from experiments.apply import ApplyError, apply_definitions, load_definitions, load_document
from northstar.admin_client import AdminClient, ApiError
from northstar.customer_commands import CUSTOMER_ACTIONS, CustomerCommandError

__all__ = ["AdminCommandError", "run_admin_command"]


class AdminCommandError(RuntimeError):
    """The command failed; the message is one line for a person."""


Action = Callable[[AdminClient, argparse.Namespace], None]


def run_admin_command(args: argparse.Namespace, admin_secret: str) -> int:
    """Run `args.command` (and `args.action`) against `args.url`; 0 on success.

    Raises AdminCommandError for any failure, after nothing was changed when the failure
    was in the input.
    """
    action = _ACTIONS[(args.command, getattr(args, "action", None))]
    try:
        action(AdminClient(args.url, admin_secret), args)
    except (ApiError, ApplyError, CustomerCommandError) as error:
        raise AdminCommandError(str(error)) from None
    return 0


def _print_json(document: Any) -> None:
    print(json.dumps(document, indent=2, ensure_ascii=False))


def _list_experiments(api: AdminClient, args: argparse.Namespace) -> None:
    for definition in api.list_experiments():
        variants = ", ".join(f"{v['key']} {v['weight']:g}" for v in definition["variants"])
        print(f"{definition['key']}\t{definition.get('status') or 'draft'}\t{definition['conversion_event']}"
              f"\t{variants}")


def _put_experiment(api: AdminClient, args: argparse.Namespace) -> None:
    definitions = load_definitions(args.file)
    if len(definitions) != 1:
        raise ApplyError(f"{args.file}: holds {len(definitions)} definitions; put takes one (apply takes many)")
    save = partial(api.save_experiment, new_phase=args.new_phase)
    print("\n".join(apply_definitions(definitions, lambda one: [save(definition) for definition in one])))


def _apply_experiments(api: AdminClient, args: argparse.Namespace) -> None:
    print("\n".join(apply_definitions(load_definitions(args.file), api.apply_experiments)))


def _print_saved(answer: dict[str, Any]) -> None:
    """One line for a lifecycle change: key, version, status, phase, salt; `unchanged` when nothing moved."""
    outcome = "changed" if answer.get("changed", True) else "unchanged"
    print(f"{outcome:<9}  {answer['key']}  v{answer['version']}  {answer['status']}  phase {answer['phase']}"
          f"  salt {answer['salt']}")


def _history(api: AdminClient, args: argparse.Namespace) -> None:
    for version in api.experiment_history(args.key):
        definition = version["definition"]
        print(f"v{version['version']}\t{version['updated_at']}\t{definition.get('status') or 'draft'}"
              f"\tphase {definition.get('phase', 1)}")


def _results(api: AdminClient, args: argparse.Namespace) -> None:
    if args.json:
        _print_json(api.results(args.key))
        return
    from experiments.report import render_table  # loads the statistics: only for this command

    print(render_table(api.result_document(args.key)))


def _list_metrics(api: AdminClient, args: argparse.Namespace) -> None:
    for metric in api.list_metrics():
        print(f"{metric['key']}\t{metric['kind']}\t{metric['event']}\t{metric.get('name', '')}".rstrip())


def _put_metric(api: AdminClient, args: argparse.Namespace) -> None:
    import msgspec

    from experiments.metrics import MetricError, parse_metric

    document = load_document(args.file)
    try:
        parse_metric(msgspec.json.encode(document))
    except (MetricError, TypeError) as error:
        raise ApplyError(f"{args.file}: {error}") from None
    answer = api.save_metric(document)
    print(f"saved  {answer['key']}  v{answer['version']}")


def _trends_query(args: argparse.Namespace) -> dict[str, Any]:
    """The API body the `insights trends` flags describe (or the --query file's); checked by the server."""
    if args.query is not None:
        if args.events:
            raise AdminCommandError("give event names or --query, not both")
        document = load_document(args.query)
        if not isinstance(document, dict):
            raise AdminCommandError(f"{args.query}: a trends query is a JSON object")
        return document
    if not args.events:
        raise AdminCommandError("name at least one event (or pass --query FILE)")
    import datetime as dt

    try:
        date_to = dt.date.fromisoformat(args.date_to) if args.date_to else dt.date.today()
        date_from = dt.date.fromisoformat(args.date_from) if args.date_from else date_to - dt.timedelta(days=6)
        filters = [json.loads(text) for text in args.filter]
    except ValueError as error:
        raise AdminCommandError(f"--from/--to take YYYY-MM-DD and --filter a JSON object: {error}") from None
    series = [{"event": event, "math": args.math, **({"property": args.property} if args.property else {})}
              for event in args.events]
    query: dict[str, Any] = {"series": series, "date_from": date_from.isoformat(), "date_to": date_to.isoformat(),
                             "interval": args.interval, "timezone": args.timezone, "filters": filters}
    if args.breakdown:
        kind, _, name = args.breakdown.rpartition(":")
        query["breakdown"] = {"property": name, "type": kind or "event"}
        query["breakdown_limit"] = args.breakdown_limit
    return query


def _print_trends(answer: dict[str, Any], as_json: bool) -> None:
    if as_json:
        _print_json(answer)
        return
    import msgspec

    from insights.report import render_trends
    from insights.trends import TrendsResult

    print(render_trends(msgspec.convert(answer, TrendsResult)))


def _trends(api: AdminClient, args: argparse.Namespace) -> None:
    _print_trends(api.trends(_trends_query(args)), args.json)


def _query_file(args: argparse.Namespace, what: str) -> dict[str, Any] | None:
    if args.query is None:
        return None
    document = load_document(args.query)
    if not isinstance(document, dict):
        raise AdminCommandError(f"{args.query}: a {what} query is a JSON object")
    return document


def _days(args: argparse.Namespace) -> dict[str, str]:
    import datetime as dt

    try:
        date_to = dt.date.fromisoformat(args.date_to) if args.date_to else dt.date.today()
        date_from = dt.date.fromisoformat(args.date_from) if args.date_from else date_to - dt.timedelta(days=6)
    except ValueError as error:
        raise AdminCommandError(f"--from/--to take YYYY-MM-DD: {error}") from None
    return {"date_from": date_from.isoformat(), "date_to": date_to.isoformat(), "timezone": args.timezone}


def _funnel_query(args: argparse.Namespace) -> dict[str, Any]:
    """The API body the `insights funnel` flags describe (or the --query file's); checked by the server."""
    document = _query_file(args, "funnel")
    if document is not None:
        if args.events:
            raise AdminCommandError("give step events or --query, not both")
        return document
    if len(args.events) < 2:
        raise AdminCommandError("name at least two step events (or pass --query FILE)")
    query: dict[str, Any] = {"steps": [{"event": event} for event in args.events], **_days(args),
                             "window_seconds": args.window_seconds, "order": args.order}
    if args.breakdown:
        kind, _, name = args.breakdown.rpartition(":")
        query["breakdown"] = {"property": name, "type": kind or "event"}
    return query


def _funnel(api: AdminClient, args: argparse.Namespace) -> None:
    answer = api.funnel(_funnel_query(args))
    if args.json:
        _print_json(answer)
        return
    import msgspec

    from insights.funnels import FunnelResult
    from insights.report import render_funnel

    print(render_funnel(msgspec.convert(answer, FunnelResult)))


def _retention_query(args: argparse.Namespace) -> dict[str, Any]:
    """The API body the `insights retention` flags describe (or the --query file's)."""
    document = _query_file(args, "retention")
    if document is not None:
        if args.start_event:
            raise AdminCommandError("give the start event or --query, not both")
        return document
    if not args.start_event:
        raise AdminCommandError("name the start event (or pass --query FILE)")
    return {"start_event": {"event": args.start_event}, "return_event": {"event": args.return_event or args.start_event},
            **_days(args), "interval": args.interval, "periods": args.periods, "type": args.type, "window": args.window}


def _retention(api: AdminClient, args: argparse.Namespace) -> None:
    answer = api.retention(_retention_query(args))
    if args.json:
        _print_json(answer)
        return
    import msgspec

    from insights.report import render_retention
    from insights.retention import RetentionResult

    print(render_retention(msgspec.convert(answer, RetentionResult)))


def _catalog_events(api: AdminClient, args: argparse.Namespace) -> None:
    for event in api.catalog_events():
        print(f"{event['name']}\t{event['count_30d']:,}\t{event['last_seen']}")


def _catalog_properties(api: AdminClient, args: argparse.Namespace) -> None:
    for one in api.catalog_properties(args.event, "person" if args.person else "event"):
        print(f"{one['name']}\t{','.join(one['types'])}\t{', '.join(one['examples'])}")


def _saved(api: AdminClient, args: argparse.Namespace) -> None:
    if args.key is None:
        for insight in api.list_insights():
            print(f"{insight['key']}\t{insight.get('name', '')}".rstrip())
        return
    _print_trends(api.trends(api.get_insight(args.key)["query"]), args.json)


def _latest_events(api: AdminClient, args: argparse.Namespace) -> None:
    _print_json(api.events(event=args.event, type=args.type, user_id=args.user_id, limit=args.limit))


def _verify(api: AdminClient, args: argparse.Namespace) -> None:
    message_ids = list(args.message_ids)
    if args.file is not None:
        message_ids += _lines(args.file)
    if not message_ids:
        raise AdminCommandError("no message ids: pass them as arguments or with --file")
    report = api.verify(message_ids)
    _print_json(report)
    if report["missing"] or report["duplicated"]:
        raise AdminCommandError(f"{len(report['missing'])} missing and {len(report['duplicated'])} counted "
                                f"more than once of {report['checked']} message ids")


def _lines(path: Any) -> list[str]:
    try:
        text = sys.stdin.read() if str(path) == "-" else path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise AdminCommandError(f"{path}: {getattr(error, 'strerror', None) or error}") from None
    return [line.strip() for line in text.splitlines() if line.strip()]


_ACTIONS: dict[tuple[str, str | None], Action] = {
    ("experiments", "list"): _list_experiments,
    ("experiments", "get"): lambda api, args: _print_json(api.get_experiment(args.key)),
    ("experiments", "put"): _put_experiment,
    ("experiments", "apply"): _apply_experiments,
    ("experiments", "start"): lambda api, args: _print_saved(api.start_experiment(args.key, args.phase_started_at)),
    ("experiments", "stop"): lambda api, args: _print_saved(api.stop_experiment(args.key)),
    ("experiments", "new-phase"): lambda api, args: _print_saved(api.new_phase(args.key, args.salt)),
    ("experiments", "history"): _history,
    ("experiments", "results"): _results,
    ("metrics", "list"): _list_metrics,
    ("metrics", "get"): lambda api, args: _print_json(api.get_metric(args.key)),
    ("metrics", "put"): _put_metric,
    ("insights", "trends"): _trends,
    ("insights", "funnel"): _funnel,
    ("insights", "retention"): _retention,
    ("insights", "events"): _catalog_events,
    ("insights", "properties"): _catalog_properties,
    ("insights", "saved"): _saved,
    **CUSTOMER_ACTIONS,
    ("events", "latest"): _latest_events,
    ("events", "verify"): _verify,
    ("persons", "show"): lambda api, args: _print_json(api.person(args.id)),
    ("persons", "list"): lambda api, args: _print_json(
        api.persons(property_name=args.property, value=args.value, limit=args.limit)),
    ("persons", "delete"): lambda api, args: _print_json(api.delete_person(args.id)),
    ("status", None): lambda api, args: _print_json(api.status()),
}
