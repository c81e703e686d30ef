"""`python -m experiments`: read experiment results and definitions from a running server."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from collector.admin_client import AdminClient, ApiError
from experiments.apply import ApplyError, apply_definitions, load_definitions
from experiments.report import render_table

__all__ = ["main"]

_DEFAULT_URL = "http://127.0.0.1:8080"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m experiments", description=__doc__)
    parser.add_argument("--url", default=os.environ.get("NORTHSTAR_URL", _DEFAULT_URL),
                        help=f"collector URL (default {_DEFAULT_URL} or $NORTHSTAR_URL)")
    parser.add_argument("--secret", help="admin secret (default $NORTHSTAR_ADMIN_SECRET, "
                        "else ./northstar-data/admin_secret)")
    commands = parser.add_subparsers(dest="command", required=True)
    results = commands.add_parser("results", help="print an experiment's results")
    results.add_argument("key", help="experiment key")
    results.add_argument("--json", action="store_true", help="print JSON instead of a table")
    commands.add_parser("list", help="list experiments")
    apply = commands.add_parser("apply", help="create or update the experiments of a JSON/YAML file (idempotent)")
    apply.add_argument("file", type=Path, help="a list of definitions, or {\"experiments\": [...]}")
    args = parser.parse_args(argv)

    try:
        api = AdminClient(args.url, args.secret or _default_secret())
        if args.command == "results":
            document = api.results(args.key)
            print(json.dumps(document, indent=2) if args.json else render_table(document))
        elif args.command == "apply":
            print("\n".join(apply_definitions(load_definitions(args.file), api.save_experiment)))
        else:
            for definition in api.list_experiments():
                variants = ", ".join(f"{v['key']} {v['weight']:g}" for v in definition["variants"])
                print(f"{definition['key']}\t{definition.get('status') or 'draft'}\t{definition['conversion_event']}"
                      f"\t{variants}")
    except (ApiError, ApplyError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


def _default_secret() -> str:
    secret = os.environ.get("NORTHSTAR_ADMIN_SECRET")
    if secret:
        return secret
    path = Path("northstar-data") / "admin_secret"
    if path.exists():
        return path.read_text().strip()
    raise ApiError("no admin secret: pass --secret or set NORTHSTAR_ADMIN_SECRET")
