"""CLI commands: audit. ``verify`` checks the hash chain and its time-stamped checkpoints
(exit 1 when tampered), ``checkpoint`` seals the current head, ``show`` lists entries."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

EXIT_TAMPERED = 1


def _domain(args: argparse.Namespace):
    from certseal.domain import TrustDomain
    from certseal.settings import load_settings

    return TrustDomain.open(load_settings(getattr(args, "home", None)))


def cmd_verify(args: argparse.Namespace) -> dict:
    from certseal import audit

    domain = _domain(args)
    try:
        result = audit.verify(domain)
    finally:
        domain.close()
    report = result.to_json()
    if not result.intact:
        from certseal.cli import _emit

        first = result.first_problem
        _emit(report, args.json)
        print(f"certseal: audit log tampered: {first.message}", file=sys.stderr)
        # The report is the answer; the exit status says it failed.
        raise SystemExit(EXIT_TAMPERED)
    return report


def cmd_checkpoint(args: argparse.Namespace) -> dict:
    from certseal import audit

    domain = _domain(args)
    try:
        with audit.acting_as(args.actor, audit.cli_source()):
            row = audit.checkpoint(domain)
    finally:
        domain.close()
    return {"checkpoint": row.id, "sequence": row.sequence, "head_hash": row.head_hash,
            "created_at": row.created_at.isoformat()}


def cmd_show(args: argparse.Namespace) -> dict:
    from certseal import audit

    domain = _domain(args)
    try:
        return {"entries": audit.show(domain, args.limit)}
    finally:
        domain.close()


def _positive(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError("must be a positive number")
    return value


def register(sub: argparse._SubParsersAction, add_common: Callable[..., None]) -> None:
    """Add this module's commands; each sets `handler=` to a function returning a dict."""
    audit = sub.add_parser("audit", help="the tamper-evident audit log")
    audit_sub = audit.add_subparsers(dest="audit_command", required=True, metavar="ACTION")
    p = audit_sub.add_parser("verify", help="recompute the hash chain and check checkpoints "
                                            "(exit 1 when tampered)")
    add_common(p)
    p.set_defaults(handler=cmd_verify)
    p = audit_sub.add_parser("checkpoint", help="time-stamp the head of the log (TSA in the HSM)")
    add_common(p)
    p.add_argument("--actor", default="operator:cli", help="who asks (default operator:cli)")
    p.set_defaults(handler=cmd_checkpoint)
    p = audit_sub.add_parser("show", help="the newest entries")
    add_common(p)
    p.add_argument("--limit", type=_positive, default=20)
    p.set_defaults(handler=cmd_show)
