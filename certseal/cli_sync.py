"""CLI command: ``certseal sync`` (a counter's offline cache; see ``certseal.sync``)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable

KIND_LABELS = {"trust_list": "trust list", "status_index": "status lists of",
               "status_list": "status list", "seal_status": "seal status"}


def cmd_sync(args: argparse.Namespace) -> int:
    from certseal.cli import EXIT_ERROR, CliError
    from certseal.settings import load_settings
    from certseal.sync import age_text, is_counter_home, sync_home

    settings = load_settings(args.home)
    if not settings.config_file.is_file() and not is_counter_home(settings.home):
        raise CliError(f"{settings.home} is not a certseal home (import a trust list into "
                       "it first: certseal trust-list import --home DIR FILE "
                       "--signer-fingerprint SHA256)", "home_missing")
    report = sync_home(settings, timeout=args.timeout)
    body = report.to_json()
    if not body["items"]:
        raise CliError(f"{settings.home} accepts no trust list: nothing to sync",
                       "nothing_to_sync")
    if args.json:
        print(json.dumps(body, ensure_ascii=False, indent=2))
    else:
        for item in body["items"]:
            label = KIND_LABELS.get(item["kind"], item["kind"])
            status = f" ({item['status']})" if item.get("status") else ""
            if item["ok"]:
                print(f"✓ {label} {item['name']}{status}: "
                      f"{age_text(item['age_seconds'])} old")
            else:
                print(f"✗ {label} {item['name']}: {item['error']}")
        print(f"{len(body['items']) - body['failed']} synced, {body['failed']} failed")
    for item in report.failed:
        print(f"certseal: error: {KIND_LABELS.get(item.kind, item.kind)} {item.name}: "
              f"{item.error}", file=sys.stderr)
    return EXIT_ERROR if report.failed else 0


def register(sub: argparse._SubParsersAction, add_common: Callable[..., None]) -> None:
    p = sub.add_parser(
        "sync", help="fetch what a counter needs to verify offline",
        description="Fetch every accepted region's trust list (checked against its pinned "
                    "signer), every department's status list and each seal certificate's "
                    "status into the home, so that 'certseal verify --offline' works. "
                    "Prints each item's age; exits 1 if any item could not be fetched "
                    "(the others are still synced).")
    add_common(p)
    p.add_argument("--timeout", type=float, default=10.0, help="seconds per fetch")
    p.set_defaults(handler=cmd_sync)
