"""CLI commands: ``certseal department list | show ID | suspend ID | reinstate ID``
(``department add`` is in certseal.cli)."""

from __future__ import annotations

import argparse
import getpass
from collections.abc import Callable


def _domain(args: argparse.Namespace):
    from certseal.domain import TrustDomain
    from certseal.settings import load_settings

    return TrustDomain.open(load_settings(args.home))


def cmd_list(args: argparse.Namespace) -> dict | int:
    from seal.departments import list_departments

    domain = _domain(args)
    try:
        with domain.session() as session:
            rows = [d.to_json() for d in list_departments(session)]
    finally:
        domain.close()
    if args.json:
        return {"departments": rows}
    if not rows:
        print("no departments (add one: certseal department add --name NAME --uscc CODE)")
    for d in rows:
        print(f"{d['department_id']}  {d['status']:9}  {d['name']}  "
              f"types: {','.join(d['licence_types']) or '-'}  "
              f"licences: {d['licences_issued']}")
    return 0


def cmd_show(args: argparse.Namespace) -> dict:
    from seal.departments import department_details

    domain = _domain(args)
    try:
        with domain.session() as session:
            return department_details(session, args.department_id).to_json()
    finally:
        domain.close()


def _change(action: str) -> Callable[[argparse.Namespace], dict]:
    def change(args: argparse.Namespace) -> dict:
        from certseal.db import transaction
        from seal.departments import change_department_status

        domain = _domain(args)
        try:
            with transaction(domain.engine) as session:
                return change_department_status(
                    session, args.department_id, action, reason=args.reason,
                    actor=args.actor or f"operator:{getpass.getuser()}").to_json()
        finally:
            domain.close()

    return change


def register_actions(dept_sub: argparse._SubParsersAction,
                     add_common: Callable[..., None]) -> None:
    p = dept_sub.add_parser("list", help="the departments, their status and licence types")
    add_common(p)
    p.set_defaults(handler=cmd_list)

    p = dept_sub.add_parser("show", help="one department: seals, API keys, status history")
    add_common(p)
    p.add_argument("department_id", metavar="ID", help="the department's USCC")
    p.set_defaults(handler=cmd_show)

    for action, text in (
            ("suspend", "stop a department from issuing: its API keys stop working and "
                        "issuance refuses it (its licences stay valid)"),
            ("reinstate", "let a suspended department issue again")):
        p = dept_sub.add_parser(action, help=text)
        add_common(p)
        p.add_argument("department_id", metavar="ID", help="the department's USCC")
        p.add_argument("--reason", required=True, help="why (kept in the audit log)")
        p.add_argument("--actor", default=None, help="who acts (default operator:USER)")
        p.set_defaults(handler=_change(action))
