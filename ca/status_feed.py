"""Keeping an OCSP responder's cache honest across processes.

The CLI changes a status in one process while ``certseal serve`` answers OCSP from a
cache in another. Every certificate status change appends a row to
``ca_certificate_status_event`` (ca/revocation.py), so the newest event id is a status
generation: ``CertificateStatusFeed.sync`` reads it (one primary-key lookup) before an
answer is served, and when it moved drops the cached answers of exactly the serials whose
events are new.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import weakref

from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from ca.models import CertificateStatusEvent
from ca.ocsp import OcspResponder

_NEWEST_EVENT = select(func.max(CertificateStatusEvent.id))
_EVENTS = CertificateStatusEvent.__tablename__


def certificate_status_generation(session: Session) -> int:
    """The newest certificate status event id (0 when none): moves on every change."""
    return session.exec(_NEWEST_EVENT).one() or 0


def _local_sqlite_file(engine: Engine) -> str | None:
    """The database file when ``engine`` is SQLite on a file (not in memory), else None."""
    url = engine.url
    if url.get_backend_name() != "sqlite":
        return None
    database = url.database or ""
    if database in ("", ":memory:") or "mode=memory" in str(url):
        return None
    return database


class CertificateStatusFeed:
    """Follows the certificate status events so that one process's OCSP cache learns of
    changes another process committed.

    The generation is read before every answer, so it must cost microseconds:

    - SQLite on a file: ``SELECT max(id)`` on a connection of our own, kept open, in
      autocommit mode (each statement reads the newest committed state; WAL readers never
      wait for writers). Through the DBAPI directly it costs ~2 us (through a pooled
      SQLAlchemy connection it cost ~30 us, most of an OCSP answer). SQLite serialises
      writers, so ids are committed in order and the newest id alone is a generation.
      Cheap and local: ``is_current`` may run it on the event loop.
    - Any other database (PostgreSQL): a network round trip, so never on the event loop:
      ``is_current`` says False and the caller syncs in a worker thread, through the pool.
      Sequence values are taken before commit, so an event with a lower id may become
      visible after a higher one: the generation is (count, max id), read with the new
      rows in one snapshot (REPEATABLE READ), and when more rows appeared than those above
      the last seen id, every cached answer is dropped (rare, and always safe).
    """

    def __init__(self, engine: Engine, *, ids_in_commit_order: bool | None = None) -> None:
        """``ids_in_commit_order``: None decides by the database (True for SQLite only)."""
        self._engine = engine
        self._seen: tuple[int, int] | None = None  # (count, or 0 on SQLite; newest id)
        self._lock = threading.Lock()
        self._sqlite = engine.url.get_backend_name() == "sqlite"
        self._ids_in_commit_order = (self._sqlite if ids_in_commit_order is None
                                     else ids_in_commit_order)
        self._sqlite_file = _local_sqlite_file(engine) if self._ids_in_commit_order else None
        self._probe: sqlite3.Connection | None = None
        self._probe_pid = 0

    @property
    def cheap(self) -> bool:
        """True when a check costs microseconds and no network (safe on an event loop)."""
        return self._sqlite_file is not None

    def _probe_generation(self) -> tuple[int, int]:
        if self._probe is None or self._probe_pid != os.getpid():
            # Our own connection, not the pool's: it stays open and is never inside a
            # transaction. A short busy timeout: a caller on the event loop must not
            # wait (a busy probe raises; the caller then syncs in a worker thread).
            self._probe = sqlite3.connect(self._sqlite_file, isolation_level=None,
                                          check_same_thread=False, timeout=0.05)
            self._probe_pid = os.getpid()
        rows = self._probe.execute(f"SELECT max(id) FROM {_EVENTS}").fetchall()  # noqa: S608 (constant table name)
        return (0, rows[0][0] or 0)

    def is_current(self) -> bool:
        """True only when nothing changed since the last ``sync`` (a cached answer may be
        served as it is). False: call ``sync`` first (maybe nothing changed). Never waits:
        a sync in progress in another thread also gives False."""
        if not self.cheap or not self._lock.acquire(blocking=False):
            return False
        try:
            return self._seen is not None and self._probe_generation() == self._seen
        except sqlite3.Error:
            return False
        finally:
            self._lock.release()

    def sync(self, responder: OcspResponder) -> int:
        """Drop cached answers whose status changed since the last call; returns how many
        serials were invalidated (-1: the whole cache, on the first call or after an event
        became visible below the newest id already seen)."""
        with self._lock:
            latest = None
            if self.cheap:
                try:
                    latest = self._probe_generation()
                except sqlite3.Error:
                    latest = None  # busy: ask through the pool, which waits
                if latest is not None and latest == self._seen:
                    return 0
            connection = self._engine.connect()
            if not self._sqlite:  # one snapshot for the generation and the new rows
                connection = connection.execution_options(isolation_level="REPEATABLE READ")
            with connection:
                return self._catch_up(responder, connection, latest)

    def _catch_up(self, responder: OcspResponder, connection,
                  latest: tuple[int, int] | None) -> int:
        if latest is None:
            if self._ids_in_commit_order:
                latest = (0, connection.execute(_NEWEST_EVENT).scalar() or 0)
            else:
                count, newest_id = connection.execute(
                    select(func.count(), func.max(CertificateStatusEvent.id))).one()
                latest = (count or 0, newest_id or 0)
        if self._seen is None:
            # Answers cached before we started following cannot be vouched for.
            responder.invalidate_all()
            self._seen = latest
            return -1
        if latest == self._seen:
            return 0
        seen_count, seen_newest = self._seen
        serials = connection.execute(
            select(CertificateStatusEvent.serial)
            .where(CertificateStatusEvent.id > seen_newest)  # type: ignore[operator]
            .where(CertificateStatusEvent.id <= latest[1])).scalars().all()  # type: ignore[operator]
        if not self._ids_in_commit_order and latest[0] - seen_count != len(serials):
            responder.invalidate_all()  # a late commit below the newest id seen
            self._seen = latest
            return -1
        for serial in set(serials):
            responder.invalidate(int(serial, 16))
        self._seen = latest
        return len(set(serials))


_feeds: weakref.WeakKeyDictionary[OcspResponder, CertificateStatusFeed] = (
    weakref.WeakKeyDictionary())
_feeds_lock = threading.Lock()


def status_feed_of(responder: OcspResponder, engine: Engine) -> CertificateStatusFeed:
    """The one feed that keeps ``responder``'s cache in step with ``engine``'s database."""
    with _feeds_lock:
        feed = _feeds.get(responder)
        if feed is None:
            feed = _feeds[responder] = CertificateStatusFeed(engine)
        return feed


def follow_status_changes(responder: OcspResponder, engine: Engine) -> OcspResponder:
    """Bring ``responder``'s cache up to date with the database, then return it.

    Call before every answer (TrustDomain.ocsp_responder() is the natural place: the OCSP
    routes call it per request). Costs one cheap query when nothing changed."""
    feed = status_feed_of(responder, engine)
    if not feed.is_current():
        feed.sync(responder)
    return responder
