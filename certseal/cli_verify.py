"""CLI commands: verify. `register` adds this group's sub-commands to the parser.

    certseal verify [--home DIR] [--trust-list PATH ...] [--offline] [--json] INPUT

Exit status 0 valid, 1 invalid, 2 indeterminate, 3 unusable input or set-up. The report is
printed here (one JSON object with --json) because the exit status depends on its verdict.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path

from certs.qr import PREFIX

EXIT_STATUS = {"valid": 0, "invalid": 1, "indeterminate": 2}
EXIT_UNUSABLE = 3


def register(sub: argparse._SubParsersAction, add_common: Callable[..., None]) -> None:
    """Add this module's commands; each sets `handler=` to a function returning a dict."""
    p = sub.add_parser("verify", help="verify a licence PDF, a picture of its QR code, or the "
                                      "QR text")
    add_common(p)
    p.add_argument("--trust-list", action="append", type=Path, default=[], metavar="PATH",
                   help="a region's published directory, or a trust-list.jws with its "
                        "trust-list-signer.pem beside it (repeatable)")
    p.add_argument("--offline", action="store_true",
                   help="no network: embedded and cached status only")
    p.add_argument("input", metavar="INPUT",
                   help="a PDF, a PNG/JPEG image, the QR text, or - for standard input")
    p.set_defaults(handler=cmd_verify)


def _read_input(value: str) -> bytes:
    from certseal.cli import CliError

    if value == "-":
        return sys.stdin.buffer.read()
    if value.strip().startswith(PREFIX):  # QR text first: base45 holds '/' and runs long
        return value.strip().encode("utf-8")
    path = Path(value)
    try:
        is_file = path.is_file()
    except OSError:  # e.g. a name too long for the file system: not a file of ours
        is_file = False
    if is_file:
        try:
            return path.read_bytes()
        except OSError as exc:
            raise CliError(f"cannot read {path}: {exc.strerror}", "unreadable_input",
                           EXIT_UNUSABLE) from exc
    raise CliError(f"{value}: no such file, and not a licence QR text", "unreadable_input",
                   EXIT_UNUSABLE)


def cmd_verify(args: argparse.Namespace) -> int:
    """Prints the report itself; its exit status says the verdict."""
    from certseal.cli import CliError
    from certseal.settings import VerifierSettings, load_settings
    from certseal.verifying import verifier_for
    from verify import accel
    from verify.errors import VerifyError
    from verify.inputs import verify_blocking

    data = _read_input(args.input)
    home = args.home or (Path(os.environ["CERTSEAL_HOME"])
                         if os.environ.get("CERTSEAL_HOME") else None)
    settings = load_settings(home) if home is not None else VerifierSettings()
    try:
        # This process only verifies: the accelerator may be in place while it does.
        with accel.accelerated(settings.verify_accelerator):
            context = verifier_for(home, args.trust_list).context(offline=args.offline)
            report = verify_blocking(data, context)
    except VerifyError as exc:
        raise CliError(str(exc), exc.code, EXIT_UNUSABLE) from exc
    body = report.to_json()
    if args.json:
        print(json.dumps(body, ensure_ascii=False, indent=2))
    else:
        _print_human(body)
    return EXIT_STATUS[body["verdict"]]


def _print_human(body: dict) -> None:
    marks = {"passed": "✓", "failed": "✗", "indeterminate": "?", "not_applicable": "-"}
    print(f"verdict: {body['verdict']}")
    signer = body.get("signer") or {}
    if signer:
        print(f"signer: {signer.get('department_name')} ({signer.get('uscc')})")
    trust = body.get("trust") or {}
    if trust:
        print(f"trust list: {trust['region_name']} {trust['region_code']} "
              f"#{trust['trust_list_sequence']}")
    if body.get("signing_time"):
        print(f"signed at: {body['signing_time']}")
    for check in body["checks"]:
        print(f"  {marks[check['outcome']]} {check['code']}: {check['message_zh']} / "
              f"{check['message_en']}")
    for key, value in (body.get("licence") or {}).items():
        print(f"  {key}: {value}")
