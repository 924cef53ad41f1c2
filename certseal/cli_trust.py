"""CLI commands: trust. `certseal trust-list export|import|show|refresh|withdraw|publish`.

Imported lists are kept under HOME/trust-lists/<region>/ (see ``certseal.trust``).
"""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path


def _settings(args: argparse.Namespace):
    from certseal.settings import load_settings

    return load_settings(getattr(args, "home", None))


def _domain(args: argparse.Namespace):
    from certseal.domain import TrustDomain

    return TrustDomain.open(_settings(args))


def _warn(lines) -> None:
    for line in lines:
        print(f"certseal: warning: {line}", file=sys.stderr)


def _instant(text: str) -> datetime:
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"--at: not an ISO 8601 time: {text!r}") from None
    if when.tzinfo is None:
        raise ValueError(
            f"--at: {text!r} has no time zone (write e.g. 2025-01-31T12:00:00+08:00)")
    return when


def cmd_export(args: argparse.Namespace) -> dict:
    from certseal.trust import export_trust_list

    domain = _domain(args)
    try:
        exported = export_trust_list(domain, args.out, format=args.format)
    finally:
        domain.close()
    return exported.to_json()


def cmd_import(args: argparse.Namespace) -> dict:
    from ca.trustlist import TrustListError
    from certseal.trust import import_trust_list

    try:
        data = sys.stdin.buffer.read() if str(args.file) == "-" else args.file.read_bytes()
    except OSError as exc:
        raise TrustListError(f"cannot read {args.file}: {exc.strerror}") from exc
    from certseal.cli import CliError
    from certseal.sync import is_counter_home

    settings = _settings(args)
    home = settings.home
    if not settings.config_file.is_file():
        # No domain here: a counter's home (trust lists and caches only), made on first
        # import into a new or empty directory.
        if home.exists() and not is_counter_home(home):
            raise CliError(f"{home} is neither a certseal home nor empty: refusing to make "
                           "a counter home in it", "home_missing")
        home.mkdir(mode=0o700, parents=True, exist_ok=True)
    result = import_trust_list(settings, data, signer_fingerprint=args.signer_fingerprint,
                               source_url=args.url,
                               trust_on_first_use=args.trust_on_first_use)
    if result.newly_pinned:
        _warn([f"pinned the list signer of {result.region_name} ({result.region_code}): "
               f"SHA-256 {result.signer_fingerprint} — confirm it with that region's operator"
               + ("" if args.signer_fingerprint else
                  " (or pass --signer-fingerprint)")])
    return result.to_json()


def cmd_show(args: argparse.Namespace) -> dict:
    from ca.trustlist import fingerprint
    from certseal.list_of_lists import held_lists_of_lists
    from certseal.trust import show_trust_lists

    settings = _settings(args)
    rows, warnings = show_trust_lists(settings)
    _warn(warnings)
    lotls = [{"operator_code": code, "operator_name": s.list_of_lists.operator_name,
              "sequence_number": s.list_of_lists.sequence_number,
              "next_update": s.list_of_lists.next_update.isoformat(),
              "regions": [p.region_code for p in s.list_of_lists.pointers],
              "signer_fingerprint": fingerprint(s.signer_certificate)}
             for code, s in sorted(held_lists_of_lists(settings.home)[0].items())]
    return {"trust_lists": [r.to_json() for r in rows], "lists_of_lists": lotls,
            "warnings": list(warnings)}


def cmd_refresh(args: argparse.Namespace) -> dict:
    from certseal.cli import CliError
    from certseal.trust import refresh_trust_lists

    report = refresh_trust_lists(_settings(args), timeout=args.timeout)
    _warn(report.warnings)
    if report.failed:
        failed = [o.message for o in report.outcomes if o.outcome == "failed"]
        raise CliError("trust-list refresh failed: " + "; ".join(failed), "refresh_failed")
    return {"regions": [o.to_json() for o in report.outcomes],
            "warnings": list(report.warnings)}


def cmd_withdraw(args: argparse.Namespace) -> dict:
    from certseal.trust import withdraw_service

    domain = _domain(args)
    try:
        return withdraw_service(
            domain, args.service, reason=args.reason,
            at=_instant(args.at) if args.at else None,
            certificate_fingerprint=args.certificate_fingerprint,
            actor=f"operator:{getpass.getuser()}").to_json()
    finally:
        domain.close()


def cmd_publish(args: argparse.Namespace) -> dict:
    from certseal.trust import publish_own_list

    domain = _domain(args)
    try:
        return publish_own_list(domain).to_json()
    finally:
        domain.close()


def cmd_lotl_add(args: argparse.Namespace) -> dict:
    from ca.trustlist import TrustListError
    from certseal.list_of_lists import name_region

    try:
        data = sys.stdin.buffer.read() if str(args.file) == "-" else args.file.read_bytes()
    except OSError as exc:
        raise TrustListError(f"cannot read {args.file}: {exc.strerror}") from exc
    domain = _domain(args)
    try:
        return name_region(domain, data, signer_fingerprint=args.signer_fingerprint,
                           location=args.url, actor=f"operator:{getpass.getuser()}").to_json()
    finally:
        domain.close()


def cmd_lotl_withdraw(args: argparse.Namespace) -> dict:
    from certseal.list_of_lists import withdraw_region

    domain = _domain(args)
    try:
        return withdraw_region(domain, args.region, reason=args.reason,
                               actor=f"operator:{getpass.getuser()}").to_json()
    finally:
        domain.close()


def cmd_lotl_export(args: argparse.Namespace) -> dict:
    from certseal.list_of_lists import export_list_of_lists

    domain = _domain(args)
    try:
        return export_list_of_lists(domain, args.out).to_json()
    finally:
        domain.close()


def register(sub: argparse._SubParsersAction, add_common: Callable[..., None]) -> None:
    """Add this module's commands; each sets `handler=` to a function returning a dict."""
    from certseal.trust import DEFAULT_FETCH_TIMEOUT, FORMATS, SERVICE_CHOICES

    group = sub.add_parser("trust-list", help="this region's signed trust list and those of "
                                              "the regions it recognises")
    tl_sub = group.add_subparsers(dest="trust_list_command", required=True, metavar="ACTION")

    p = tl_sub.add_parser("export", help="write this region's current signed trust list")
    add_common(p)
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("--format", choices=FORMATS, default="jws",
                   help="jws (default) or xml (ETSI TS 119 612, XAdES-signed)")
    p.set_defaults(handler=cmd_export)

    p = tl_sub.add_parser(
        "import", help="accept another region's signed trust list",
        description="Accept another region's signed trust list into this home. Into a new "
                    "or empty directory, this makes a counter's home: trust lists and "
                    "caches only, no CA and no HSM ('certseal sync' then keeps it current).")
    add_common(p)
    p.add_argument("file", type=Path,
                   help="the region's trust-list.jws or .xml, or a national list of lists "
                        "(- = stdin)")
    p.add_argument("--signer-fingerprint", "--fingerprint", default=None,
                   help="the SHA-256 fingerprint of the list signer, as the other region's "
                        "operator gave it (trust-list export prints it); needed on the "
                        "first import of a region")
    p.add_argument("--trust-on-first-use", action="store_true",
                   help="on a first import without --signer-fingerprint, pin whichever "
                        "signer the list names (confirm the printed fingerprint later)")
    p.add_argument("--url", default=None,
                   help="where refresh fetches this region's list (default: from the list)")
    p.set_defaults(handler=cmd_import)

    p = tl_sub.add_parser("show", help="the trust lists this home accepts")
    add_common(p)
    p.set_defaults(handler=cmd_show)

    p = tl_sub.add_parser("refresh", help="fetch every imported region's list again")
    add_common(p)
    p.add_argument("--timeout", type=float, default=DEFAULT_FETCH_TIMEOUT,
                   help="seconds per fetch")
    p.set_defaults(handler=cmd_refresh)

    p = tl_sub.add_parser("withdraw", help="withdraw one of this region's services from a "
                                           "given time and publish the new list")
    add_common(p)
    p.add_argument("--service", required=True, choices=SERVICE_CHOICES)
    p.add_argument("--at", default=None,
                   help="effective from (ISO 8601 with zone; default now)")
    p.add_argument("--reason", required=True)
    p.add_argument("--certificate-fingerprint", default=None,
                   help="which service, when several of that type are listed")
    p.set_defaults(handler=cmd_withdraw)

    p = tl_sub.add_parser("publish", help="re-sign this region's list as the next sequence")
    add_common(p)
    p.set_defaults(handler=cmd_publish)

    group = sub.add_parser("list-of-lists", help="a national operator's signed list of the "
                                                 "regions' trust lists (ETSI LOTL pattern)")
    lotl_sub = group.add_subparsers(dest="lotl_command", required=True, metavar="ACTION")
    p = lotl_sub.add_parser("add", help="name a region's list (and its signer) and publish")
    add_common(p)
    p.add_argument("file", type=Path, help="the region's exported list, .jws or .xml (- = stdin)")
    p.add_argument("--signer-fingerprint", required=True,
                   help="SHA-256 of the region's list signer, confirmed with that region")
    p.add_argument("--url", default=None,
                   help="where counters fetch that list (default: its /pki/trust-list.xml)")
    p.set_defaults(handler=cmd_lotl_add)
    p = lotl_sub.add_parser("withdraw", help="stop naming a region and publish")
    add_common(p)
    p.add_argument("--region", required=True)
    p.add_argument("--reason", required=True)
    p.set_defaults(handler=cmd_lotl_withdraw)
    p = lotl_sub.add_parser("export", help="write the current signed list of lists")
    add_common(p)
    p.add_argument("--out", required=True, type=Path)
    p.set_defaults(handler=cmd_lotl_export)
