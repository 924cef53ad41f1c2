"""Batch issuance from a file: JSON Lines ({"type", "data", "idempotency_key"?} per line)
or CSV (one licence type, one column per field; dotted headers such as ``营业期限.起``
nest). Each record is issued on the same code path as `certseal issue`; one bad record
(unreadable, invalid, refused, or failing for any other reason) is reported with its line
number and every problem found, and does not stop the others: the file is always read to
its end and summed up once. A rerun of the same file replays what was issued.

A record without its own idempotency key gets one derived from its content (type and
canonical data), so running the file again returns the licences issued the first time
instead of issuing twice.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from certs.canonical import MAX_JSON_DEPTH, canonical_json, json_depth_exceeds
from certs.rules import DEFAULT_LANGUAGE, FieldProblem, summary

MAX_RECORDS = 100_000
log = logging.getLogger("certseal.batch")


class BatchFileError(ValueError):
    """The batch file itself cannot be read (not a record's problem)."""

    code = "batch_file_invalid"


@dataclass(frozen=True)
class BatchRecord:
    line: int
    type_code: str
    data: dict[str, Any]
    idempotency_key: str


@dataclass(frozen=True)
class UnreadableRecord:
    line: int
    error: Exception


@dataclass
class BatchOutcome:
    issued: list[dict] = field(default_factory=list)
    replayed: list[dict] = field(default_factory=list)
    failed: list[dict] = field(default_factory=list)

    def to_json(self) -> dict:
        return {"issued": len(self.issued), "replayed": len(self.replayed),
                "failed": len(self.failed), "licences": self.issued + self.replayed,
                "failures": sorted(self.failed, key=lambda f: f["line"])}

    def summary_line(self) -> str:
        total = len(self.issued) + len(self.replayed) + len(self.failed)
        return (f"{total} records: {len(self.issued)} issued, {len(self.replayed)} "
                f"replayed, {len(self.failed)} failed")


def content_key(type_code: str, data: dict[str, Any]) -> str:
    digest = hashlib.sha256(type_code.encode() + b"\0" + canonical_json(data)).hexdigest()
    return f"batch-{digest[:40]}"


class _RecordError(ValueError):
    """One record cannot be read (the others can)."""

    def __init__(self, rule: str, message: str, **params: Any) -> None:
        super().__init__(message)
        self.problems = (FieldProblem("record", rule, params or {"message": message}),)


def _nest(flat: dict[str | None, Any]) -> dict[str, Any]:
    nested: dict[str, Any] = {}
    for key, value in flat.items():
        if key is None:  # more cells than the header has columns
            raise _RecordError("invalid", "the row has more cells than the header columns")
        if value is None or value == "":
            continue
        target = nested
        parts = key.split(".")
        for part in parts[:-1]:
            target = target.setdefault(part, {})
            if not isinstance(target, dict):
                raise _RecordError("invalid", f"column {key!r} nests under a plain value")
        target[parts[-1]] = value
    return nested


def _failure(line: int, exc: BaseException, language: str = DEFAULT_LANGUAGE) -> dict:
    problems = getattr(exc, "problems", ())
    code = getattr(exc, "code", None)
    if not isinstance(code, str):
        code = "invalid_record" if isinstance(exc, _RecordError) else type(exc).__name__
    failure: dict[str, Any] = {"line": line, "code": code}
    if problems:
        failure["message"] = summary(problems, language)
        failure["errors"] = [p.to_json(language) for p in problems]
    else:
        failure["message"] = str(exc) or type(exc).__name__
    return failure


def failure_line(failure: dict) -> str:
    return f"line {failure['line']}: {failure['message']}"


def _csv_rows(text: str) -> Iterator[tuple[int, dict | BaseException]]:
    """(line number, row or the error reading it); a malformed row does not end the file."""
    read = 0

    def counted() -> Iterator[str]:  # the reader's own count lags behind on an error
        nonlocal read
        for line in io.StringIO(text):
            read += 1
            yield line

    reader = csv.DictReader(counted())
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield read, _RecordError("invalid", f"not a CSV row: {exc}")
            continue
        yield reader.line_num, row


def read_records(path: Path, default_type: str | None
                 ) -> Iterator[BatchRecord | UnreadableRecord]:
    """Records of the file; a line that cannot be read yields an ``UnreadableRecord``."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise BatchFileError(f"cannot read {path}: {exc}") from exc
    if path.suffix.lower() == ".csv":
        if not default_type:
            raise BatchFileError("a CSV batch needs --type (one licence type per file)")
        for count, (number, row) in enumerate(_csv_rows(text), start=1):
            if count > MAX_RECORDS:
                raise BatchFileError(f"more than {MAX_RECORDS} records")
            try:
                if isinstance(row, BaseException):
                    raise row
                key = (row.pop("idempotency_key", None) or "")
                data = _nest(row)
            except _RecordError as exc:
                yield UnreadableRecord(number, exc)
                continue
            key = key.strip() if isinstance(key, str) else ""
            yield BatchRecord(number, default_type, data, key or content_key(default_type, data))
        return
    for number, line in enumerate(text.splitlines(), start=1):
        if number > MAX_RECORDS:
            raise BatchFileError(f"more than {MAX_RECORDS} records")
        if not line.strip():
            continue
        try:
            if json_depth_exceeds(line):
                raise _RecordError("json_too_deep", f"nests deeper than {MAX_JSON_DEPTH} "
                                   "levels", limit=MAX_JSON_DEPTH)
            try:
                item = json.loads(line)
            except ValueError:
                raise _RecordError("json_invalid", "is not valid JSON") from None
            if not isinstance(item, dict):
                raise _RecordError("type", "must be a JSON object", expected="object")
            type_code = item.get("type") or default_type
            data = item.get("data")
            if not isinstance(type_code, str) or not isinstance(data, dict):
                raise _RecordError("invalid", 'needs a "type" string and a "data" object')
            key = item.get("idempotency_key")
            if key is not None and not isinstance(key, str):
                raise _RecordError("invalid", '"idempotency_key" must be a string')
        except _RecordError as exc:
            yield UnreadableRecord(number, exc)
            continue
        yield BatchRecord(number, type_code, data, key or content_key(type_code, data))


def run_batch(records: Iterator[BatchRecord | UnreadableRecord],
              issue: Callable[[BatchRecord], Any], out_dir: Path, *,
              progress: Callable[[int, BatchOutcome], None] | None = None,
              language: str = DEFAULT_LANGUAGE) -> BatchOutcome:
    """Issue every record; whatever goes wrong with one (its data, the HSM, a defect of
    ours) is reported with its line, and the next one is issued all the same."""
    from certseal.home import write_public

    outcome = BatchOutcome()
    for done, record in enumerate(records, start=1):
        if isinstance(record, UnreadableRecord):
            outcome.failed.append(_failure(record.line, record.error, language))
        else:
            try:
                issued = issue(record)
                pdf = write_public(out_dir / f"{issued.licence_id}.pdf", issued.pdf)
            except Exception as exc:
                if getattr(exc, "code", None) is None and not getattr(exc, "problems", ()):
                    log.error("batch line %d failed: %s", record.line, type(exc).__name__)
                outcome.failed.append(_failure(record.line, exc, language))
            else:
                entry = {"line": record.line, "licence_id": issued.licence_id,
                         "pdf": str(pdf)}
                (outcome.replayed if issued.replayed else outcome.issued).append(entry)
        if progress is not None:
            progress(done, outcome)
    return outcome
