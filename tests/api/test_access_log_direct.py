"""The access line written straight to configure_logging's handler (api/logging.py) is the
line the JSON formatter writes for the same request; any other set-up (an extra handler,
a filter, a test's capture) still gets a LogRecord."""

from __future__ import annotations

import io
import json
import logging

import pytest

from api.logging import (
    ACCESS_LOGGER,
    JsonFormatter,
    JsonLinesHandler,
    configure_logging,
    log_request,
)

REQUEST = {"method": "POST", "route": "/pki/ocsp", "status": 200, "duration_ms": 0.04321,
           "request_id": "r-1"}


@pytest.fixture
def configured():
    """configure_logging on a StringIO, the loggers put back afterwards."""
    names = ("certseal", "uvicorn.error", "uvicorn.access")
    saved = {n: (logging.getLogger(n).handlers[:], logging.getLogger(n).level,
                 logging.getLogger(n).propagate, logging.getLogger(n).disabled) for n in names}
    configure_logging()
    handler = logging.getLogger("certseal").handlers[0]
    assert isinstance(handler, JsonLinesHandler)
    stream = handler.stream = io.StringIO()
    try:
        yield stream
    finally:
        for name, (handlers, level, propagate, disabled) in saved.items():
            logger = logging.getLogger(name)
            logger.handlers[:], logger.level = handlers, level
            logger.propagate, logger.disabled = propagate, disabled


def test_the_direct_line_is_the_formatters_line(configured, monkeypatch):
    """As served: configure_logging's handler alone (tests' capture handlers set aside)."""
    kept = []
    monkeypatch.setattr(logging.Logger, "handle", lambda self, record: kept.append(record))
    _alone(monkeypatch)
    log_request(**REQUEST)
    assert not kept  # no LogRecord was made: written directly
    line = configured.getvalue()
    assert line.endswith("\n") and line.count("\n") == 1
    entry = json.loads(line)
    assert list(entry) == ["ts", "level", "logger", "event", "method", "route", "status",
                           "duration_ms", "request_id"]
    assert entry["duration_ms"] == 0.04 and entry["logger"] == ACCESS_LOGGER

    # The formatter's text for a record of the same moment is the same text.
    record = logging.getLogger(ACCESS_LOGGER).makeRecord(
        ACCESS_LOGGER, logging.INFO, __file__, 0, "", (), None,
        extra={"fields": {k: v for k, v in entry.items()
                          if k not in ("ts", "level", "logger")}})
    formatted = json.loads(JsonFormatter().format(record))
    assert {k: v for k, v in formatted.items() if k != "ts"} == {
        k: v for k, v in entry.items() if k != "ts"}
    assert entry["ts"].endswith("+00:00") and len(entry["ts"]) == len(formatted["ts"])


def test_another_handler_or_a_filter_gets_the_record(configured, monkeypatch):
    _alone(monkeypatch)
    records = []

    class Keep(logging.Handler):
        def emit(self, record):
            records.append(record)

    access = logging.getLogger(ACCESS_LOGGER)
    keep = Keep()
    access.addHandler(keep)
    try:
        log_request(**REQUEST)
    finally:
        access.removeHandler(keep)
    assert records and records[0].fields["route"] == "/pki/ocsp"
    assert json.loads(configured.getvalue())["request_id"] == "r-1"  # and the line, once

    dropped = logging.Filter("nothing.matches")
    logging.getLogger("certseal").handlers[0].addFilter(dropped)
    try:
        log_request(**{**REQUEST, "request_id": "r-2"})
    finally:
        logging.getLogger("certseal").handlers[0].removeFilter(dropped)
    assert "r-2" not in configured.getvalue()  # the filter was honoured


def test_below_info_nothing_is_written(configured, monkeypatch):
    _alone(monkeypatch)
    logging.getLogger("certseal").setLevel(logging.WARNING)
    log_request(**REQUEST)
    assert configured.getvalue() == ""


def _alone(monkeypatch) -> None:
    """As served: configure_logging's handler alone on "certseal" (pytest attaches its
    capture handlers to non-propagating loggers for each test phase; with those there,
    log_request rightly makes a record)."""
    certseal = logging.getLogger("certseal")
    monkeypatch.setattr(certseal, "handlers", certseal.handlers[:1])
