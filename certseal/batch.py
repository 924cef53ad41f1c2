"""Batch issuance from a file: JSON Lines ({"type", "data", "idempotency_key"?} per line)
or CSV (one licence type, one column per field; dotted headers such as ``营业期限.起``
nest). Each record is issued on the same code path as `certseal issue`; one bad record
does not stop the others, and a rerun of the same file replays what was issued.

A record without its own idempotency key gets one derived from its content (type and
canonical data), so running the file again returns the licences issued the first time
instead of issuing twice.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from certs.canonical import canonical_json

MAX_RECORDS = 100_000


class BatchFileError(ValueError):
    """The batch file itself cannot be read (not a record's problem)."""

    code = "batch_file_invalid"


@dataclass(frozen=True)
class BatchRecord:
    line: int
    type_code: str
    data: dict[str, Any]
    idempotency_key: str


@dataclass
class BatchOutcome:
    issued: list[dict] = field(default_factory=list)
    replayed: list[dict] = field(default_factory=list)
    failed: list[dict] = field(default_factory=list)

    def to_json(self) -> dict:
        return {"issued": len(self.issued), "replayed": len(self.replayed),
                "failed": len(self.failed), "licences": self.issued + self.replayed,
                "failures": self.failed}


def content_key(type_code: str, data: dict[str, Any]) -> str:
    digest = hashlib.sha256(type_code.encode() + b"\0" + canonical_json(data)).hexdigest()
    return f"batch-{digest[:40]}"


def _nest(flat: dict[str, str]) -> dict[str, Any]:
    nested: dict[str, Any] = {}
    for key, value in flat.items():
        if value is None or value == "":
            continue
        target = nested
        parts = key.split(".")
        for part in parts[:-1]:
            target = target.setdefault(part, {})
            if not isinstance(target, dict):
                raise BatchFileError(f"column {key!r} nests under a plain value")
        target[parts[-1]] = value
    return nested


def read_records(path: Path, default_type: str | None) -> Iterator[BatchRecord | dict]:
    """Records of the file; a line that cannot be read yields a failure dict instead."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise BatchFileError(f"cannot read {path}: {exc}") from exc
    if path.suffix.lower() == ".csv":
        if not default_type:
            raise BatchFileError("a CSV batch needs --type (one licence type per file)")
        reader = csv.DictReader(io.StringIO(text))
        for number, row in enumerate(reader, start=2):
            if number > MAX_RECORDS + 1:
                raise BatchFileError(f"more than {MAX_RECORDS} records")
            key = (row.pop("idempotency_key", None) or "").strip()
            data = _nest(row)
            yield BatchRecord(number, default_type, data, key or content_key(default_type, data))
        return
    for number, line in enumerate(text.splitlines(), start=1):
        if number > MAX_RECORDS:
            raise BatchFileError(f"more than {MAX_RECORDS} records")
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            type_code = item.get("type") or default_type
            data = item["data"]
            if not isinstance(type_code, str) or not isinstance(data, dict):
                raise TypeError("needs a \"type\" string and a \"data\" object")
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            yield {"line": number, "code": "invalid_record", "message": f"{exc}"}
            continue
        key = item.get("idempotency_key") or content_key(type_code, data)
        yield BatchRecord(number, type_code, data, str(key))


def run_batch(records: Iterator[BatchRecord | dict], issue: Callable[[BatchRecord], Any],
              out_dir: Path, *, progress: Callable[[int, BatchOutcome], None] | None = None,
              known_errors: tuple[type[BaseException], ...] = (Exception,)) -> BatchOutcome:
    from certseal.home import write_public

    outcome = BatchOutcome()
    for done, record in enumerate(records, start=1):
        if isinstance(record, dict):
            outcome.failed.append(record)
        else:
            try:
                issued = issue(record)
            except known_errors as exc:
                outcome.failed.append({"line": record.line,
                                       "code": getattr(exc, "code", type(exc).__name__),
                                       "message": str(exc)})
            else:
                pdf = write_public(out_dir / f"{issued.licence_id}.pdf", issued.pdf)
                entry = {"line": record.line, "licence_id": issued.licence_id,
                         "pdf": str(pdf)}
                (outcome.replayed if issued.replayed else outcome.issued).append(entry)
        if progress is not None:
            progress(done, outcome)
    return outcome
