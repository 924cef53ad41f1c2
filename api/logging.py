"""Structured logs: one JSON object a line.

The access line carries only the method, the route *template* (``/v1/licences/{licence_id}``,
never the concrete path: identifiers there name people and companies), the status, the
duration and the request id. Nothing from headers, query strings or bodies is logged, so
API keys, bearer tokens, PINs and holder identifiers cannot reach the log.
"""

from __future__ import annotations

import json
import logging
import sys
import time
import traceback
from datetime import UTC, datetime
from typing import Any

ACCESS_LOGGER = "certseal.access"
access_log = logging.getLogger(ACCESS_LOGGER)


class JsonFormatter(logging.Formatter):
    """Formats any record as one JSON line; access records are already JSON objects."""

    def format(self, record: logging.LogRecord) -> str:
        fields: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
        }
        structured = getattr(record, "fields", None)
        if isinstance(structured, dict):
            fields.update(structured)
        else:
            fields["message"] = record.getMessage()
        if record.exc_info and record.exc_info[1] is not None:
            fields["error"] = exception_summary(record.exc_info[1])
        return json.dumps(fields, ensure_ascii=False, default=str)


def exception_summary(exc: BaseException) -> dict[str, Any]:
    """The exception's type and where it was raised, without its message (messages of
    unexpected errors may quote data a client sent)."""
    frames = traceback.extract_tb(exc.__traceback__)
    return {"type": type(exc).__name__,
            "frames": [f"{f.filename}:{f.lineno} in {f.name}" for f in frames[-8:]]}


class _JsonText:
    """A record message rendered only if a formatter asks for it (ours reads ``fields``)."""

    __slots__ = ("fields",)

    def __init__(self, fields: dict[str, Any]) -> None:
        self.fields = fields

    def __str__(self) -> str:
        return json.dumps(self.fields)


class JsonLinesHandler(logging.StreamHandler):
    """The handler ``configure_logging`` installs: JSON lines on a stream. Access lines
    reach it directly from ``log_request`` (same text, no LogRecord)."""

    def __init__(self, stream: Any) -> None:
        super().__init__(stream)
        self.setFormatter(JsonFormatter())

    def write_line(self, text: str) -> None:
        """What ``emit`` does once the record is formatted."""
        self.acquire()
        try:
            self.stream.write(text + self.terminator)
            self.flush()
        except Exception:  # as emit: a broken stderr must not fail the request
            self.handleError(logging.makeLogRecord({"name": ACCESS_LOGGER, "msg": text}))
        finally:
            self.release()


def _direct_handler() -> JsonLinesHandler | None:
    """The handler an access line ends at when that is ``configure_logging``'s alone and
    nothing on the way filters or copies it; None otherwise (tests, other set-ups)."""
    parent = access_log.parent
    if (access_log.handlers or access_log.filters or not access_log.propagate
            or parent is None or parent.propagate or parent.filters
            or len(parent.handlers) != 1):
        return None
    handler = parent.handlers[0]
    if (type(handler) is not JsonLinesHandler or handler.filters
            or handler.level > logging.INFO or type(handler.formatter) is not JsonFormatter):
        return None
    return handler


# JsonFormatter's json.dumps arguments, as one encoder (json.dumps builds one a call).
_encode_line = json.JSONEncoder(ensure_ascii=False, default=str).encode
_stamp: list = [-1, ""]  # (millisecond, its ISO text): thousands of lines share one


def _timestamp(now: float) -> str:
    """As ``JsonFormatter`` writes ``record.created``: UTC, milliseconds."""
    millisecond = round(now * 1_000_000) // 1000
    if millisecond != _stamp[0]:
        _stamp[:] = [millisecond, datetime.fromtimestamp(now, UTC).isoformat(
            timespec="milliseconds")]
    return _stamp[1]


def log_request(*, method: str, route: str, status: int, duration_ms: float,
                request_id: str) -> None:
    if not access_log.isEnabledFor(logging.INFO):
        return
    fields = {"event": "request", "method": method, "route": route, "status": status,
              "duration_ms": round(duration_ms, 2), "request_id": request_id}
    direct = _direct_handler()
    if direct is not None:
        # The line JsonFormatter would write, without a LogRecord and the handler chain
        # (~15 us of a ~60 us cached OCSP answer).
        direct.write_line(_encode_line(
            {"ts": _timestamp(time.time()), "level": "info", "logger": ACCESS_LOGGER,
             **fields}))
        return
    # makeRecord + handle is what ``info`` does, minus the caller lookup (a stack walk
    # per request; the access line's origin is always this function).
    access_log.handle(access_log.makeRecord(
        ACCESS_LOGGER, logging.INFO, __file__, 0, _JsonText(fields), (), None,
        func="log_request", extra={"fields": fields}))


def configure_logging(level: int = logging.INFO) -> None:
    """JSON lines on stderr for the service's own loggers (called by ``app_from_env``)."""
    handler = JsonLinesHandler(sys.stderr)
    for name in ("certseal", "uvicorn.error"):
        logger = logging.getLogger(name)
        logger.handlers[:] = [handler]
        logger.setLevel(level)
        logger.propagate = False
    # uvicorn's own access log prints raw paths and query strings: keep it off.
    logging.getLogger("uvicorn.access").disabled = True
