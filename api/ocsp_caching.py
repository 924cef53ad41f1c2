"""HTTP caching of OCSP answers over GET (RFC 5019 section 6.2): the headers derived from
the answer itself, so a cache or CDN in front serves it exactly as long as it is fresh.

- ETag: the SHA-256 of the DER answer (a strong validator; If-None-Match -> 304);
- Last-Modified: its producedAt;
- Expires: its nextUpdate;
- Cache-Control: public, no-transform, must-revalidate, max-age = seconds until
  nextUpdate, at most MAX_AGE (a revocation reaches caches within that bound).
An answer that is not "successful" (malformed request, unauthorised) is not cached.

Both the OCSP fast path (api/ocsp_fast.py) and the route use ``get_headers``."""

from __future__ import annotations

import datetime as dt
import hashlib
import threading
from email.utils import format_datetime

from asn1crypto import ocsp
from cachetools import LRUCache

MAX_AGE = 300  # seconds
_NOT_CACHED = (("cache-control", "no-store"),)


class _Facts:
    __slots__ = ("etag", "expires", "last_modified", "next_update")

    def __init__(self, answer: bytes) -> None:
        self.etag = '"' + hashlib.sha256(answer).hexdigest() + '"'
        self.last_modified = self.expires = None
        self.next_update: dt.datetime | None = None
        try:
            response = ocsp.OCSPResponse.load(answer)
            if response["response_status"].native != "successful":
                return
            data = response.basic_ocsp_response["tbs_response_data"]
            produced = data["produced_at"].native
            updates = [r["next_update"].native for r in data["responses"]]
        except Exception:  # not an answer we can read: not cached
            return
        self.last_modified = format_datetime(produced.astimezone(dt.UTC), usegmt=True)
        if updates and all(u is not None for u in updates):
            self.next_update = min(updates)
            self.expires = format_datetime(self.next_update.astimezone(dt.UTC), usegmt=True)


_facts: LRUCache[bytes, _Facts] = LRUCache(maxsize=4096)  # answers are cached upstream too
_lock = threading.Lock()


def _facts_of(answer: bytes) -> _Facts:
    with _lock:
        facts = _facts.get(answer)
    if facts is None:
        facts = _Facts(answer)
        with _lock:
            _facts[answer] = facts
    return facts


def get_headers(answer: bytes, now: dt.datetime | None = None) -> tuple[tuple[str, str], ...]:
    """The caching headers of ``answer`` served over GET at ``now``."""
    facts = _facts_of(answer)
    if facts.last_modified is None:
        return _NOT_CACHED
    headers = [("etag", facts.etag), ("last-modified", facts.last_modified)]
    if facts.next_update is None:  # no nextUpdate: newer information may come any time
        return (*headers, ("cache-control", "no-cache"))
    now = now or dt.datetime.now(dt.UTC)
    max_age = max(0, min(MAX_AGE, int((facts.next_update - now).total_seconds())))
    return (*headers, ("expires", facts.expires),
            ("cache-control", f"public, no-transform, must-revalidate, max-age={max_age}"))


def not_modified(headers: tuple[tuple[str, str], ...], if_none_match: str | None) -> bool:
    """True when the client's If-None-Match names this answer's ETag (answer 304)."""
    if not if_none_match:
        return False
    etag = next((v for k, v in headers if k == "etag"), None)
    if etag is None:
        return False
    offered = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
    return etag in offered or "*" in offered
