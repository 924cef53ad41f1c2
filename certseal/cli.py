"""The ``certseal`` command line: parse, build settings once, call the composition root.

Every command prints one JSON object with ``--json``; errors are one clear line on
stderr (and a JSON error object on stdout with ``--json``) and a non-zero exit status.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

COMMAND_MODULES = ("certseal.cli_status", "certseal.cli_verify", "certseal.cli_trust",
                   "certseal.cli_audit", "certseal.cli_sync")
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_UNUSABLE = 3


class CliError(Exception):
    def __init__(self, message: str, code: str = "error", exit_status: int = EXIT_ERROR):
        super().__init__(message)
        self.code = code
        self.exit_status = exit_status


def _settings(args: argparse.Namespace, **overrides):
    from certseal.settings import load_settings

    return load_settings(getattr(args, "home", None), **overrides)


def _domain(args: argparse.Namespace):
    from certseal.domain import TrustDomain

    return TrustDomain.open(_settings(args))


# -- commands ---------------------------------------------------------------------------
def cmd_init(args: argparse.Namespace) -> dict:
    from certseal.domain import init_trust_domain
    from hsm.token import KeySpec

    settings = _settings(args, region_code=args.region, region_name=args.region_name,
                         base_url=args.base_url)
    result = init_trust_domain(settings, key_spec=KeySpec[args.key_type])
    return result.to_json()


def cmd_department_add(args: argparse.Namespace) -> dict:
    types = [t.strip() for t in (args.types or "").split(",") if t.strip()]
    domain = _domain(args)
    try:
        onboarded = domain.add_department(name=args.name, uscc=args.uscc, licence_types=types)
        return {
            "department_id": onboarded.department_id,
            "seal_id": onboarded.seal_id,
            "seal_certificate": str(domain.seal_certificate_path(onboarded.seal_id)),
            "api_key": onboarded.api_key,
        }
    finally:
        domain.close()


def cmd_licence_types(args: argparse.Namespace) -> dict | int:
    domain = _domain(args)
    try:
        body = domain.catalogue.to_json()
    finally:
        domain.close()
    if args.json:
        return body
    for t in body["types"]:  # the schemas are for programs: --json
        fields = ", ".join(t["schema"].get("required", []))
        print(f"{t['code']:8} {t['name']} ({t['name_en']}; holder: {t['holder_kind']})")
        print(f"{'':8} required: {fields or '-'}")
    return 0


def _read_json_object(path: Path, what: str) -> dict:
    from certs.canonical import MAX_JSON_DEPTH, json_depth_exceeds

    try:
        text = sys.stdin.read() if str(path) == "-" else path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or "not UTF-8 text"
        raise CliError(f"cannot read {what} {path}: {reason}", "unreadable_input",
                       EXIT_UNUSABLE) from exc
    if json_depth_exceeds(text):
        raise CliError(f"{what} {path} nests deeper than {MAX_JSON_DEPTH} levels",
                       "invalid_json", EXIT_UNUSABLE)
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CliError(f"{what} {path} is not JSON: {exc}", "invalid_json",
                       EXIT_UNUSABLE) from exc
    if not isinstance(value, dict):
        raise CliError(f"{what} {path} must hold a JSON object", "invalid_json", EXIT_UNUSABLE)
    return value


def cmd_issue(args: argparse.Namespace) -> dict:
    from seal.issuance import IssuanceRequest

    data = _read_json_object(args.data, "licence data")
    if args.out.exists() and not args.force:
        raise CliError(f"{args.out} exists; refusing to overwrite it (use --force)",
                       "output_exists")
    domain = _domain(args)
    try:
        issued = domain.issue_licence(IssuanceRequest(
            department_id=args.department, type_code=args.type, data=data,
            idempotency_key=args.idempotency_key, actor="cli"))
    finally:
        domain.close()
    from certseal.home import write_public

    write_public(args.out, issued.pdf)
    return {"licence_id": issued.licence_id, "status": issued.licence.status,
            "pdf": str(args.out.resolve()), "replayed": issued.replayed}


def cmd_issue_batch(args: argparse.Namespace) -> dict | int:
    from certseal.batch import BatchFileError, failure_line, read_records, run_batch
    from seal.issuance import IssuanceRequest

    if not args.file.is_file():
        raise CliError(f"{args.file}: no such file", "unreadable_input", EXIT_UNUSABLE)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    domain = _domain(args)
    interactive = sys.stderr.isatty()

    def issue(record):
        return domain.issue_licence(IssuanceRequest(
            department_id=args.department, type_code=record.type_code, data=record.data,
            idempotency_key=record.idempotency_key, actor="cli"))

    def progress(done: int, outcome) -> None:
        line = (f"\r{done} records: {len(outcome.issued)} issued, "
                f"{len(outcome.replayed)} replayed, {len(outcome.failed)} failed")
        if interactive or done % 100 == 0:
            print(line, end="" if interactive else "\n", file=sys.stderr, flush=True)

    try:
        outcome = run_batch(read_records(args.file, args.type), issue, args.out_dir,
                            progress=progress, language=cli_language())
    except BatchFileError as exc:
        raise CliError(str(exc), exc.code, EXIT_UNUSABLE) from exc
    finally:
        domain.close()
        if interactive:
            print(file=sys.stderr)
    summary = outcome.to_json()
    for failure in outcome.failed:
        print(f"certseal: {failure_line(failure)}", file=sys.stderr)
    print(f"certseal: {outcome.summary_line()}", file=sys.stderr)
    _emit(summary, args.json)
    return EXIT_ERROR if outcome.failed else 0


def cmd_serve(args: argparse.Namespace) -> dict | None:
    import os
    import tempfile

    import uvicorn

    from certseal.home import require_home

    settings = _settings(args)
    require_home(settings)
    workers = args.workers or int(os.environ.get("CERTSEAL_WORKERS", "1"))
    if workers < 1:
        raise CliError("--workers must be at least 1", "invalid_argument", EXIT_USAGE)
    # Workers import the app factory after they fork and read settings from the
    # environment, so each opens its own PKCS#11 session and database pool.
    os.environ["CERTSEAL_HOME"] = str(settings.home)
    # Fewer glibc malloc arenas: lower, flatter worker memory (measured in bench/). The
    # variable reaches spawned workers; this process (the only worker when there is
    # one) is already running, so it is told directly.
    os.environ.setdefault("MALLOC_ARENA_MAX", "2")
    limit_malloc_arenas(int(os.environ["MALLOC_ARENA_MAX"]))
    if workers > 1:
        os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR",
                              tempfile.mkdtemp(prefix="certseal-metrics-"))
    # uvicorn's own access log prints raw paths and query strings; ours does not. No
    # "server: uvicorn" header: it names the software to scanners and is one more header
    # on every answer (thousands a second of OCSP). Date stays (RFC 9110; uvicorn
    # formats it once a second). uvloop is picked up when installed; the HTTP protocol
    # is httptools with deadlines for slow clients, and proxy headers are the app's
    # business (api/serving.py).
    from api.serving import server_options

    uvicorn.run("api.app:app_from_env", factory=True, host=args.host, port=args.port,
                workers=workers, log_level="info", **server_options(settings))
    return None


def limit_malloc_arenas(arenas: int) -> bool:
    """glibc's mallopt(M_ARENA_MAX): threads share ``arenas`` heaps instead of up to eight
    per core, each holding freed memory of its own. False where there is no glibc."""
    import ctypes
    import ctypes.util

    m_arena_max = -8  # <malloc.h>
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return bool(libc.mallopt(m_arena_max, arenas))
    except (OSError, AttributeError):
        return False


# -- parser -----------------------------------------------------------------------------
def _add_common(parser: argparse.ArgumentParser, *, home: bool = True) -> None:
    if home:
        parser.add_argument("--home", type=Path,
                            help="the trust domain's (or counter's) home directory "
                                 "(default: $CERTSEAL_HOME)")
    parser.add_argument("--json", action="store_true",
                        help="print one JSON object instead of lines for people")


DESCRIPTION = """\
certseal issues electronic licences sealed with a department's e-seal (a PAdES signature
made by a key inside an HSM), and verifies them: the PDF, a photo of its QR code, or the
QR text, online or offline, across regions through signed trust lists."""

EPILOG = """\
Every command that changes state takes --home DIR (or CERTSEAL_HOME). Output is for
people; --json prints one JSON object instead. Errors are one line on stderr and a
non-zero exit status. 'certseal COMMAND --help' tells more about each command.

examples:
  certseal init --home gd --region 440000 --region-name 广东省 --base-url URL
  certseal department add --home gd --name NAME --uscc CODE --types yyzz
  certseal issue --home gd --department CODE --type yyzz --data data.json --out x.pdf
  certseal verify --home gd x.pdf
  certseal trust-list import --home counter gd.jws --signer-fingerprint SHA256
  certseal sync --home counter && certseal verify --home counter --offline x.pdf"""


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("certseal")
    except PackageNotFoundError:  # run from a tree that was not installed
        return "unknown"


def _describe(parser: argparse.ArgumentParser) -> None:
    """Give each sub-command's own --help the line its parent lists it with (argparse
    shows that line only in the parent's list)."""
    for action in parser._actions:
        if not isinstance(action, argparse._SubParsersAction):
            continue
        helps = {a.dest: a.help for a in action._choices_actions}
        for name, child in action.choices.items():
            if child.description is None and helps.get(name):
                text = helps[name]
                child.description = text[0].upper() + text[1:] + "."
            _describe(child)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="certseal", description=DESCRIPTION, epilog=EPILOG,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"certseal {_version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("init", help="create a trust domain: HSM keys, CA hierarchy, trust list")
    _add_common(p)
    p.add_argument("--region", required=True, help="6-digit administrative division code")
    p.add_argument("--region-name", required=True)
    p.add_argument("--base-url", default=None,
                   help="public base URL of this domain's /pki endpoints")
    p.add_argument("--key-type", choices=["EC_P256", "EC_P384", "RSA_3072"], default="EC_P256")
    p.set_defaults(handler=cmd_init)

    dept = sub.add_parser("department", help="departments that issue licences")
    dept_sub = dept.add_subparsers(dest="department_command", required=True, metavar="ACTION")
    p = dept_sub.add_parser("add", help="onboard a department: e-seal key, certificate, API key")
    _add_common(p)
    p.add_argument("--name", required=True)
    p.add_argument("--uscc", required=True, help="unified social credit code (18 characters)")
    p.add_argument("--types", default="", help="licence type codes, comma-separated")
    p.set_defaults(handler=cmd_department_add)
    from certseal.cli_department import register_actions

    register_actions(dept_sub, _add_common)

    p = sub.add_parser("licence-types", help="list the licence types (--json: with their "
                                             "JSON Schemas)")
    _add_common(p)
    p.set_defaults(handler=cmd_licence_types)

    p = sub.add_parser("issue", help="issue a sealed licence PDF")
    _add_common(p)
    p.add_argument("--department", required=True, help="department id (its USCC)")
    p.add_argument("--type", required=True, help="licence type code (see licence-types)")
    p.add_argument("--data", required=True, type=Path, help="licence data, a JSON file (- = stdin)")
    p.add_argument("--out", required=True, type=Path, help="where to write the sealed PDF")
    p.add_argument("--idempotency-key", default=None,
                   help="a retry with the same key returns the same licence")
    p.add_argument("--force", action="store_true", help="overwrite --out if it exists")
    p.set_defaults(handler=cmd_issue)

    p = sub.add_parser("issue-batch", help="issue many licences from a JSON Lines or CSV file")
    _add_common(p)
    p.add_argument("--department", required=True, help="department id (its USCC)")
    p.add_argument("--type", default=None,
                   help="licence type of a CSV file (JSON Lines records carry their own)")
    p.add_argument("--out-dir", required=True, type=Path,
                   help="where the sealed PDFs go (LICENCE_ID.pdf)")
    p.add_argument("file", type=Path, help="records: .jsonl ({type, data, idempotency_key?})"
                                           " or .csv (one column per field)")
    p.set_defaults(handler=cmd_issue_batch)

    p = sub.add_parser("serve", help="serve the API, PKI endpoints and web pages")
    _add_common(p)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--workers", type=int, default=None,
                   help="worker processes (default CERTSEAL_WORKERS or 1); one per core")
    p.set_defaults(handler=cmd_serve)

    # Command groups kept in modules of their own; each has register(subparsers).
    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).register(sub, _add_common)
    _describe(parser)
    return parser


def _error_code(exc: BaseException) -> str:
    code = getattr(exc, "code", None)
    if isinstance(code, str):
        return code
    name = type(exc).__name__
    return "".join("_" + c.lower() if c.isupper() else c for c in name).lstrip("_")


def _emit(obj: dict, as_json: bool) -> None:
    if as_json:
        print(json.dumps(obj, ensure_ascii=False, indent=2))
    else:
        for line in human_lines(obj):
            print(line)


def _scalar(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def human_lines(obj: dict, indent: int = 0) -> list[str]:
    """An object as people read it: ``name: value`` lines, nested objects and lists
    indented under their name (``--json`` gives the object itself)."""
    pad = " " * indent
    lines = []
    for key, value in obj.items():
        label = str(key).replace("_", " ")
        if isinstance(value, dict):
            lines.append(f"{pad}{label}:")
            lines.extend(human_lines(value, indent + 2))
        elif isinstance(value, list) and any(isinstance(v, dict | list) for v in value):
            lines.append(f"{pad}{label}:")
            for item in value:
                if isinstance(item, dict):
                    inner = human_lines(item, indent + 4)
                    lines.append(f"{pad}  - {inner[0].lstrip()}" if inner else f"{pad}  -")
                    lines.extend(inner[1:])
                else:
                    lines.append(f"{pad}  - {json.dumps(item, ensure_ascii=False)}")
        elif isinstance(value, list):
            lines.append(f"{pad}{label}: {', '.join(_scalar(v) for v in value) or '-'}")
        else:
            lines.append(f"{pad}{label}: {_scalar(value)}")
    return lines


def _known_errors() -> tuple[type[BaseException], ...]:
    from ca.errors import CaError
    from ca.trustlist import TrustListError
    from certs.errors import CertsError
    from certseal.errors import CertsealError
    from certseal.settings import SettingsError
    from hsm.errors import HsmError
    from seal.errors import SealError

    return (CliError, CertsealError, SettingsError, HsmError, CaError, CertsError, SealError,
            TrustListError, ValueError, FileNotFoundError)


def cli_language(environ: dict[str, str] | None = None) -> str:
    """The language of messages, from the locale: zh_TW, zh_HK, zh_MO and zh_Hant read
    Traditional Chinese, any other zh Simplified, everything else English."""
    import os

    env = os.environ if environ is None else environ
    for name in ("LC_ALL", "LC_MESSAGES", "LANG", "LANGUAGE"):
        value = env.get(name, "").split(":", 1)[0].lower().replace("_", "-")
        if not value:
            continue
        if value.startswith(("zh-tw", "zh-hk", "zh-mo", "zh-hant")):
            return "zh-Hant"
        if value.startswith("zh"):
            return "zh-Hans"
        return "en"
    return "en"


def _error_message(exc: BaseException, language: str) -> tuple[str, list[dict]]:
    from certs.rules import summary

    problems = getattr(exc, "problems", ())
    if problems:
        more = getattr(exc, "more", 0)
        return (summary(problems, language) + (f"; … (+{more})" if more else ""),
                [p.to_json(language) for p in problems])
    return str(exc) or type(exc).__name__, []


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    # A handler returns a dict to print, None, or an int exit status (it printed itself).
    handler: Callable[[argparse.Namespace], dict | int | None] = args.handler
    from ca.audit import acting_as
    from certseal.audit import cli_source

    try:
        with acting_as(source=cli_source()):  # the audit log records where actions came from
            result = handler(args)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        import os

        known = isinstance(exc, _known_errors())
        if not known and os.environ.get("CERTSEAL_DEBUG"):
            raise
        status = getattr(exc, "exit_status", EXIT_ERROR)
        if known:
            message, errors = _error_message(exc, cli_language())
            code = _error_code(exc)
        else:  # a defect of ours: one line, never a traceback (CERTSEAL_DEBUG=1 shows it)
            message, errors, code = f"internal error ({type(exc).__name__})", [], "internal_error"
        print(f"certseal: error: {message}", file=sys.stderr)
        if getattr(args, "json", False):
            error = {"code": code, "message": message, **({"errors": errors} if errors else {})}
            print(json.dumps({"error": error}, ensure_ascii=False))
        return status
    if isinstance(result, int):  # the handler printed its own output
        return result
    if result is not None:
        _emit(result, getattr(args, "json", False))
    return 0


if __name__ == "__main__":  # pragma: no cover
    # ``python -m certseal.cli``: run the imported module, so that the CliError the
    # command modules raise is the one main() knows (not __main__'s copy of it).
    from certseal.cli import main as imported_main

    sys.exit(imported_main())
