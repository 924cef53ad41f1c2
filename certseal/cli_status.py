"""CLI commands: status. Licence revoke/suspend/reinstate (the operator acting for the
issuing department) and `seal revoke|suspend|reinstate` (the CA operator)."""

from __future__ import annotations

import argparse
import getpass
from collections.abc import Callable

from cryptography import x509

HOLD_AND_REMOVE = ("certificateHold", "removeFromCRL")
SEAL_REASONS = [f.value for f in x509.ReasonFlags if f.value not in HOLD_AND_REMOVE]


def _domain(args: argparse.Namespace):
    from certseal.domain import TrustDomain
    from certseal.settings import load_settings

    return TrustDomain.open(load_settings(getattr(args, "home", None)))


def _actor(args: argparse.Namespace) -> str:
    return args.actor or f"operator:{getpass.getuser()}"


def cmd_licence_status(args: argparse.Namespace) -> dict:
    from certs.registry import licence_history
    from certseal.status import change_licence_status

    domain = _domain(args)
    try:
        licence = change_licence_status(domain, args.licence_id, args.action,
                                        reason=args.reason, actor=_actor(args),
                                        department_id=args.department)
        with domain.session() as session:
            last = licence_history(session, licence.licence_id)[-1]
        return {"licence_id": licence.licence_id, "status": licence.status,
                "reason": last.reason, "actor": last.actor, "at": last.at.isoformat()}
    finally:
        domain.close()


def cmd_seal_status(args: argparse.Namespace) -> dict:
    from certseal import status

    domain = _domain(args)
    try:
        if args.seal_action == "revoke":
            outcome = status.revoke_seal(domain, args.seal_id, args.reason, actor=_actor(args),
                                         note=args.note)
        elif args.seal_action == "suspend":
            outcome = status.suspend_seal(domain, args.seal_id, actor=_actor(args),
                                          note=args.note)
        else:
            outcome = status.reinstate_seal(domain, args.seal_id, actor=_actor(args),
                                            note=args.note)
        return outcome.to_json()
    finally:
        domain.close()


def register(sub: argparse._SubParsersAction, add_common: Callable[..., None]) -> None:
    """Add this module's commands; each sets `handler=` to a function returning a dict."""
    helps = {"revoke": "revoke a licence for good", "suspend": "suspend a licence",
             "reinstate": "lift a licence's suspension"}
    for action, text in helps.items():
        p = sub.add_parser(action, help=f"{text} (recorded with who, when, why)")
        add_common(p)
        p.add_argument("licence_id", metavar="LICENCE_ID")
        p.add_argument("--reason", required=True, help="why (recorded in the history)")
        p.add_argument("--department", default=None,
                       help="refuse unless this department (USCC) issued the licence")
        p.add_argument("--actor", default=None, help="who acts (default operator:USER)")
        p.set_defaults(handler=cmd_licence_status, action=action)

    seal = sub.add_parser("seal", help="seal certificates: revoke, suspend, reinstate")
    seal_sub = seal.add_subparsers(dest="seal_action", required=True, metavar="ACTION")
    p = seal_sub.add_parser("revoke", help="revoke a seal's certificate (RFC 5280 reason)")
    add_common(p)
    p.add_argument("seal_id", metavar="SEAL_ID")
    p.add_argument("--reason", required=True, choices=SEAL_REASONS, metavar="REASON",
                   help="one of " + ", ".join(SEAL_REASONS) + " (certificateHold: use "
                        "'seal suspend')")
    p.add_argument("--note", default=None, help="free text kept with the event")
    p.add_argument("--actor", default=None, help="who acts (default operator:USER)")
    p.set_defaults(handler=cmd_seal_status)
    for action, text in (("suspend", "put a seal's certificate on hold (certificateHold)"),
                         ("reinstate", "lift a seal's suspension")):
        p = seal_sub.add_parser(action, help=text)
        add_common(p)
        p.add_argument("seal_id", metavar="SEAL_ID")
        p.add_argument("--note", default=None, help="free text kept with the event")
        p.add_argument("--actor", default=None, help="who acts (default operator:USER)")
        p.set_defaults(handler=cmd_seal_status)
