"""Licence status from the issuing department's signed status list (certs.status_list).

Online: fetched from ``{trust list base URL}/pki/status/{issuer USCC}`` (reused while its
``ttl`` lasts) and written to the cache directory; offline: the last list synced there. A
list counts only when it verifies against an issuing CA of the accepted trust lists and its
signer (the x5c leaf, the department's seal certificate) belongs to the licence's issuer.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

import httpx
from cryptography import x509

from certs.errors import CertsError
from certs.status_list import INVALID, SUSPENDED, VALID, StatusList, read_status_list
from verify.cache import Cache
from verify.certificates import CertificateFacts
from verify.status import LicenceRef, LicenceStatusFact

log = logging.getLogger("verify.status_lists")
_NAMES = {VALID: "valid", INVALID: "invalid", SUSPENDED: "suspended"}
_USCC = re.compile(r"^[0-9A-Z]{18}$")
MAX_STATUS_LIST_BYTES = 8 * 1024 * 1024

Fetch = Callable[[str, float], Awaitable[str]]


async def http_get_status_list(url: str, timeout: float) -> str:
    async with httpx.AsyncClient(timeout=timeout, follow_redirects=False) as client:
        response = await client.get(url)
        response.raise_for_status()
        if len(response.content) > MAX_STATUS_LIST_BYTES:
            raise ValueError("status list too large")
        return response.text


def _reason(exc: BaseException) -> str:
    if isinstance(exc, httpx.HTTPStatusError):
        return f"HTTP {exc.response.status_code}"
    return type(exc).__name__


def _covers(status_list: StatusList, ref: LicenceRef) -> bool:
    """Whether the list speaks of this licence: signed after it was issued (padding
    entries of an older list read as 0, which must not pass for "valid")."""
    if ref.issued_at is not None and status_list.issued_at < ref.issued_at.replace(
            microsecond=0):
        return False
    try:
        status_list.status_at(ref.status_index)  # type: ignore[arg-type]
    except (IndexError, ValueError):
        return False
    return True


class StatusListSource:
    def __init__(self, *, issuing_cas: Callable[[], Sequence[x509.Certificate]],
                 base_url_of: Callable[[str], str | None], cache_dir: Path | None = None,
                 fetch: Fetch = http_get_status_list, timeout: float = 3.0,
                 clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC)) -> None:
        self._issuing_cas = issuing_cas
        self._base_url_of = base_url_of
        self._cache_dir = cache_dir
        self.cache_dir = cache_dir
        self._fetch = fetch
        self._timeout = timeout
        self._clock = clock
        self._live = Cache()  # uscc -> (list fetched, when)
        self._synced_lists = Cache()  # path -> _SyncedList
        # Why the last fetch of a department's list gave nothing (a counter's sync says it).
        self.last_errors: dict[str, str] = {}

    async def status_of(self, ref: LicenceRef, *, offline: bool) -> LicenceStatusFact | None:
        if ref.status_index is None or not _USCC.match(ref.issuer_uscc):
            return None
        if not offline:
            # Online means confirmed live: the department's current list, every time (a
            # held copy could miss a revocation made since; it serves when unreachable).
            fetched = await self._fetched(ref.issuer_uscc, self._clock(), force=True)
            if fetched is not None:
                return self._fact(fetched[0], ref, live=True, source=fetched[1])
        synced = self._synced(ref.issuer_uscc)
        if synced is None:
            return None
        # What a verified list says of a licence is a fact of the two, cached with the list
        # (a new one is read whenever its file changes).
        return synced.facts.cached((ref.status_index, ref.issued_at), lambda: self._fact(
            synced.status_list, ref, live=False, source="synced status list"))

    def _fact(self, status_list: StatusList, ref: LicenceRef, *, live: bool,
              source: str) -> LicenceStatusFact | None:
        if not _covers(status_list, ref):
            return None  # the list predates the licence: sync a newer one
        try:
            code = status_list.status_at(ref.status_index)  # type: ignore[arg-type]
        except (IndexError, ValueError):
            return None  # the list predates the licence: sync a newer one
        return LicenceStatusFact(status=_NAMES.get(code, f"unknown({code})"),
                                 as_of=status_list.issued_at, live=live, source=source)

    async def sync(self, uscc: str) -> StatusList | None:
        """Fetch ``uscc``'s current list into the cache (a counter's periodic sync): the
        list, or None (``last_errors[uscc]`` says why)."""
        fetched = await self._fetched(uscc, self._clock(), force=True)
        return fetched[0] if fetched is not None else None

    async def _fetched(self, uscc: str, now: dt.datetime, *, force: bool = False
                       ) -> tuple[StatusList, str] | None:
        held = self._live.get(uscc)
        if (not force and held is not None and now < held[1] + held[0].ttl
                and now < held[0].expires_at):
            return held[0], "status list fetched at " + held[1].isoformat()
        base = self._base_url_of(uscc)
        if not base:
            self.last_errors[uscc] = "no accepted trust list names this department's region"
            return None
        url = f"{base.rstrip('/')}/pki/status/{uscc}"
        try:
            text = await self._fetch(url, self._timeout)
        except Exception as exc:  # unreachable: fall back to the synced list
            log.info("status list %s unreachable: %s", url, type(exc).__name__)
            self.last_errors[uscc] = f"{url} unreachable ({_reason(exc)})"
            return None
        status_list = self._read(text, uscc)
        if status_list is None:
            self.last_errors[uscc] = f"{url} served a list that does not verify"
            return None
        self.last_errors.pop(uscc, None)
        self._live.put(uscc, (status_list, now))
        if self._cache_dir is not None:
            try:
                self._cache_dir.mkdir(parents=True, exist_ok=True)
                path = f"{self._cache_dir}/{uscc}.jwt"
                Path(path).write_text(text.strip(), encoding="ascii")
                # Read again on the next look even if the rewrite kept size and mtime.
                self._synced_lists.pop(path)
            except OSError as exc:
                log.info("status list not cached: %s", exc)
        return status_list, url

    def _synced(self, uscc: str) -> _SyncedList | None:
        if self._cache_dir is None:
            return None
        return self._synced_file(f"{self._cache_dir}/{uscc}.jwt", uscc)

    def _synced_file(self, path: str, uscc: str) -> _SyncedList | None:
        """A synced list, verified once per version of its file (a counter checks many
        QR codes against the same lists: re-verifying the JWT each time dominated)."""
        try:
            stat = os.stat(path)
        except OSError:
            return None
        if stat.st_size > MAX_STATUS_LIST_BYTES:
            return None
        # The file's version and the issuing CAs it was checked against (trust lists move;
        # the same tuple comes back while they do not, which compares at once).
        version = (stat.st_mtime_ns, stat.st_size)
        cas = tuple(self._issuing_cas())
        held = self._synced_lists.get(path)
        if (held is not None and held.version == version and held.issuing_cas == cas
                and self._clock() < held.status_list.expires_at):
            return held
        with open(path, encoding="ascii", errors="replace") as file:
            status_list = self._read(file.read(), uscc)
        if status_list is None:
            self._synced_lists.pop(path)
            return None
        held = _SyncedList(version, cas, status_list)
        self._synced_lists.put(path, held)
        return held

    def _read(self, text: str, uscc: str) -> StatusList | None:
        try:
            status_list = read_status_list(text, self._issuing_cas(), clock=self._clock)
        except (CertsError, ValueError) as exc:
            log.info("status list of %s refused: %s", uscc, exc)
            return None
        if CertificateFacts(status_list.signer).signer.uscc != uscc:
            log.info("status list for %s is signed by another department", uscc)
            return None
        return status_list

    def live_signers(self) -> tuple[x509.Certificate, ...]:
        """The signers of the lists fetched live in this process (part of the counter's
        directory of QR signers besides the synced files)."""
        return tuple(held[0].signer for held in self._live.values())

    def seal_certificates(self) -> list[x509.Certificate]:
        """The seal certificates of the synced lists (their x5c leaves): the counter's
        directory of QR signers."""
        found = [held[0].signer for held in self._live.values()]
        if self._cache_dir is not None and self._cache_dir.is_dir():
            for path in sorted(self._cache_dir.glob("*.jwt"))[:1000]:
                synced = self._synced_file(str(path), path.stem)
                if synced is not None:
                    found.append(synced.status_list.signer)
        return found


class _SyncedList:
    """A synced list as read from one version of its file, with what it says of licences."""

    def __init__(self, version: tuple[int, int], issuing_cas: tuple,
                 status_list: StatusList) -> None:
        self.version = version
        self.issuing_cas = issuing_cas
        self.status_list = status_list
        self.facts = Cache(1024)  # (status index, issued at) -> LicenceStatusFact | None
