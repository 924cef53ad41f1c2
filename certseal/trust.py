"""Trust lists at the edge: this region's own list (publish, export, withdraw a service) and
the lists of other regions a home accepts (import with a pinned signer, refresh, show).

Imported lists live as files, so a counter can verify offline from a copied home:

    HOME/trust-lists/<region code>/signer.pem     the pinned list-signer certificate
    HOME/trust-lists/<region code>/source.json    where refresh fetches it, when it was pinned
    HOME/trust-lists/<region code>/<seq>.jws      every accepted version, exactly as received
                                    or <seq>.xml  (seq zero-padded to 10 digits; .xml: ETSI TS
                                                  119 612, the same list in its other form)

Only the highest sequence number of a region is used: older versions are history, never
trust (a withdrawal in version n must not be undone by version n-1 sitting beside it).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes

from ca import publication, tsl_xml
from ca.audit import append_entry, qualified_actor
from ca.trustlist import (
    MAX_LIST_BYTES,
    SignedTrustList,
    TrustListError,
    fingerprint,
    read_trust_list,
    signer_of,
)
from certseal.home import write_public
from certseal.settings import Settings

if TYPE_CHECKING:
    from certseal.domain import TrustDomain

TRUST_LISTS_DIR = "trust-lists"
SIGNER_FILE = "signer.pem"
SOURCE_FILE = "source.json"
TSL_SIGNING_EKU = x509.ObjectIdentifier("0.4.0.2231.3.0")
DEFAULT_FETCH_TIMEOUT = 10.0
MEDIA_TYPE = "application/vnd.certseal.trust-list+jws"
FORMATS = ("jws", "xml")


class TrustListRefused(TrustListError):
    """A readable list this home will not accept (older, expired, wrong signer, ...)."""

    code = "trust_list_refused"


# -- where things live ------------------------------------------------------------------
def trust_lists_dir(settings: Settings) -> Path:
    return settings.home / TRUST_LISTS_DIR


def own_list_path(settings: Settings) -> Path:
    return settings.published_dir / "trust-list.jws"


def own_list_xml_path(settings: Settings) -> Path:
    return settings.published_dir / "trust-list.xml"


def own_signer_path(settings: Settings) -> Path:
    return settings.published_dir / "trust-list-signer.pem"


def _region_dir(settings: Settings, region_code: str) -> Path:
    if not (len(region_code) == 6 and region_code.isdigit()):
        raise TrustListError("region code must be 6 digits")
    return trust_lists_dir(settings) / region_code


def _version_file(region_dir: Path, sequence_number: int, suffix: str | None = None) -> Path:
    """The file of a version: the one held (either form), or the name a new one takes."""
    if suffix is None:
        xml = region_dir / f"{sequence_number:010d}.xml"
        suffix = ".xml" if xml.is_file() else ".jws"
    return region_dir / f"{sequence_number:010d}{suffix}"


def _held_versions(region_dir: Path) -> list[int]:
    return sorted({int(p.stem) for p in region_dir.iterdir()
                   if p.suffix in (".jws", ".xml") and p.stem.isdigit()}
                  if region_dir.is_dir() else ())


@contextlib.contextmanager
def _region_lock(region_dir: Path) -> Iterator[None]:
    """One importer per region at a time (CLI import and a refresh may race)."""
    region_dir.mkdir(parents=True, exist_ok=True)
    with open(region_dir / ".lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _pinned_signer(region_dir: Path) -> x509.Certificate | None:
    path = region_dir / SIGNER_FILE
    return x509.load_pem_x509_certificate(path.read_bytes()) if path.is_file() else None


def _source(region_dir: Path) -> dict:
    path = region_dir / SOURCE_FILE
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def _as_text(jws: str | bytes) -> str:
    if isinstance(jws, bytes):
        if len(jws) > MAX_LIST_BYTES:
            raise TrustListError("trust list is too large")
        try:
            jws = jws.decode("utf-8" if tsl_xml.is_xml(jws) else "ascii")
        except UnicodeDecodeError as exc:
            raise TrustListError("not a trust list: neither a compact JWS nor UTF-8 XML"
                                 ) from exc
    return jws.strip()


def _signer_claimed(text: str) -> x509.Certificate:
    return tsl_xml.claimed_signer(text) if tsl_xml.is_xml(text) else signer_of(text)


def _claimed_region(jws: str) -> str:
    """The region a list says it is from, read before its signature is checked: only to
    find the pin it must then verify against."""
    if tsl_xml.is_xml(jws):
        return tsl_xml.claimed_region(jws)[0]
    try:
        payload = jwt.api_jws.decode_complete(jws, options={"verify_signature": False})["payload"]
        return str(json.loads(payload)["scheme_operator"]["region_code"])
    except (jwt.exceptions.PyJWTError, ValueError, KeyError, TypeError) as exc:
        raise TrustListError(f"not a trust list: {exc}") from exc


def _check_signer_certificate(certificate: x509.Certificate, now: datetime) -> None:
    try:
        eku = certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        eku = []
    if TSL_SIGNING_EKU not in list(eku):
        raise TrustListRefused("the list's signer certificate is not a trust-list signer "
                               "(no id-tsl-kp-tslSigning extended key usage)")
    if not (certificate.not_valid_before_utc <= now <= certificate.not_valid_after_utc):
        raise TrustListRefused("the list's signer certificate is not valid now "
                               f"(valid {certificate.not_valid_before_utc:%Y-%m-%d} to "
                               f"{certificate.not_valid_after_utc:%Y-%m-%d})")


def unpinned_refusal(what: str, claimed: x509.Certificate) -> TrustListRefused:
    return TrustListRefused(
        f"{what} is signed by {fingerprint(claimed)}, which no pin confirms: pass "
        "--signer-fingerprint with the fingerprint that region's operator gave you "
        "(trust-list export prints it), or --trust-on-first-use")


def normalise_fingerprint(text: str) -> str:
    hexdigits = text.replace(":", "").replace(" ", "").lower()
    if len(hexdigits) != 64 or any(c not in "0123456789abcdef" for c in hexdigits):
        raise ValueError("a SHA-256 fingerprint is 64 hex digits (colons allowed)")
    return hexdigits


# -- this region's own list --------------------------------------------------------------
SERVICE_CHOICES = ("root-ca", "issuing-ca", "tsa", "ocsp")


@dataclass(frozen=True)
class Published:
    sequence_number: int
    issued_at: datetime
    next_update: datetime
    path: Path
    format: str | None = None  # set by export: "jws" | "xml"
    signer_fingerprint: str | None = None  # set by export: SHA-256 of the list signer

    def to_json(self) -> dict:
        data = {"sequence_number": self.sequence_number, "issued_at": self.issued_at.isoformat(),
                "next_update": self.next_update.isoformat(), "trust_list": str(self.path)}
        if self.format is not None:
            data.update(format=self.format, signer_fingerprint=self.signer_fingerprint)
        return data


def _published(domain: TrustDomain, path: Path) -> Published:
    from ca.trust_services import latest_publication

    with domain.session() as session:
        row = latest_publication(session)
    return Published(row.sequence_number, row.issued_at, row.next_update, path)


def publish_own_list(domain: TrustDomain, *, now: datetime | None = None) -> Published:
    """Re-sign the current services as the next sequence (e.g. before next_update)."""
    return _published(domain, domain.publish_trust_list(now=now))


@dataclass(frozen=True)
class Withdrawal:
    service_type: str
    service_name: str
    certificate_sha256: str
    effective_from: datetime
    reason: str
    published: Published

    def to_json(self) -> dict:
        return {"service_type": self.service_type, "service_name": self.service_name,
                "certificate_sha256": self.certificate_sha256,
                "effective_from": self.effective_from.isoformat(), "reason": self.reason,
                **self.published.to_json()}


def withdraw_service(domain: TrustDomain, service_type: str, *, reason: str,
                     at: datetime | None = None, certificate_fingerprint: str | None = None,
                     actor: str = "cli", now: datetime | None = None) -> Withdrawal:
    """Withdraw one of this region's services effective from ``at`` (default now) and
    publish the list that says so, in one transaction. Signatures time-stamped before
    ``at`` stay valid for a verifier that judges by the status at the time-stamp."""
    from ca.trust_services import change_status, find_service

    if service_type not in SERVICE_CHOICES:
        raise ValueError(f"--service must be one of {', '.join(SERVICE_CHOICES)}")
    now = now or datetime.now(UTC)
    at = at or now
    if at.tzinfo is None:
        raise ValueError("--at needs a time zone (e.g. 2025-01-31T12:00:00+08:00)")
    found: dict = {}

    def record(session, when: datetime) -> None:
        service = find_service(session, service_type, certificate_fingerprint)
        change_status(session, service, "withdrawn", since=at, reason=reason, actor=actor,
                      now=when)
        append_entry(session, "trust_list.withdrawn", subject=service.name,
                     actor=qualified_actor(actor, "operator:cli"),
                     details={"service_type": service_type, "reason": reason,
                              "since": at.isoformat()})
        found.update(name=service.name, sha256=service.sha256_fingerprint)

    path = domain.publish_trust_list(now=now, changes=record)
    return Withdrawal(service_type, found["name"], found["sha256"], at, reason.strip(),
                      _published(domain, path))


def export_trust_list(domain: TrustDomain, out: Path, *, format: str = "jws") -> Published:
    """Write the current signed list, as served at /pki/trust-list (jws) or
    /pki/trust-list.xml (xml), to ``out``; say which signer the importer should expect."""
    if format not in FORMATS:
        raise ValueError(f"--format must be one of {', '.join(FORMATS)}")
    with domain.publication_lock():  # an export is a write: what it writes is current
        publish_due_trust_list(domain)
    served = served_trust_list(domain) if format == "jws" else served_trust_list_xml(domain)
    if served is None:
        raise ValueError("this home has published no trust list (run 'certseal init')")
    write_public(out, served)
    signer = x509.load_pem_x509_certificate(own_signer_path(domain.settings).read_bytes())
    published = _published(domain, out)
    return Published(published.sequence_number, published.issued_at, published.next_update,
                     out, format=format, signer_fingerprint=fingerprint(signer))


def served_trust_list(domain: TrustDomain) -> bytes | None:
    """The newest publication (a read: re-signing is ``publish_due_trust_list``'s)."""
    from ca.trust_services import latest_publication

    with domain.session() as session:
        row = latest_publication(session)
    return row.jws.encode() if row is not None else None


def served_trust_list_xml(domain: TrustDomain) -> bytes | None:
    """The same publication as ``served_trust_list``, as ETSI TS 119 612 XML."""
    from ca.trust_services import latest_publication

    with domain.session() as session:
        row = latest_publication(session)
    return row.xml.encode() if row is not None and row.xml is not None else None


def publish_due_trust_list(domain: TrustDomain, *, now: datetime | None = None) -> bool:
    """Re-sign this region's list once half its validity has passed (as CRLs are), or when
    the newest publication predates the XML form; keep the public files in step with the
    record (the caller holds ``publication_lock``). True when a new list was signed."""
    from ca.trust_services import latest_publication

    now = now or datetime.now(UTC)
    with domain.session() as session:
        row = latest_publication(session)
    if row is None:  # `init` publishes the first list; a home without one has none to renew
        return False
    if row.xml is None or publication.due(row.issued_at, row.next_update, now):
        domain.publish_trust_list(now=now)
        return True
    # The files are copies for tools and the verifier; the database is the record.
    for path, data in ((own_list_path(domain.settings), row.jws.encode()),
                       (own_list_xml_path(domain.settings), row.xml.encode())):
        if not path.is_file() or path.read_bytes() != data:
            write_public(path, data)
    return False


# -- import -----------------------------------------------------------------------------
@dataclass(frozen=True)
class ImportResult:
    region_code: str
    region_name: str
    sequence_number: int
    issued_at: datetime
    next_update: datetime
    signer_fingerprint: str  # SHA-256, colon-separated upper-case hex
    newly_pinned: bool  # first import of this region: the operator should confirm the pin
    unchanged: bool  # the very same list was already held
    path: Path
    source_url: str | None
    kind: str = "trust-list"  # or "list-of-lists"
    regions: tuple[str, ...] = ()  # a list of lists: the regions it names

    def to_json(self) -> dict:
        data = {
            "region_code": self.region_code, "region_name": self.region_name,
            "sequence_number": self.sequence_number, "issued_at": self.issued_at.isoformat(),
            "next_update": self.next_update.isoformat(),
            "signer_fingerprint": self.signer_fingerprint, "newly_pinned": self.newly_pinned,
            "unchanged": self.unchanged, "path": str(self.path), "source_url": self.source_url,
            "kind": self.kind,
        }
        if self.kind != "trust-list":
            data["regions"] = list(self.regions)
        return data


def import_trust_list(settings: Settings, jws: str | bytes, *,
                      signer_fingerprint: str | None = None, source_url: str | None = None,
                      now: datetime | None = None,
                      trust_on_first_use: bool = True) -> ImportResult:
    """Accept another region's signed list into this home, or raise with one clear line.
    The list may be a JWS or ETSI TS 119 612 XML (the same list in its other form), or a
    national list of lists (``certseal.list_of_lists``).

    First import of a region pins the certificate the list is signed by (confirmed against
    ``signer_fingerprint`` when given), unless a held list of lists names the region: then
    its signer must be one that list names for it, and the pin is that list's. Later imports
    must be signed by the pinned signer, carry a higher sequence number (the same number only
    as the identical list, in either form: a no-op), and be within their next-update time.
    With ``trust_on_first_use`` False a first import without ``signer_fingerprint`` is
    refused (the CLI's default: an operator pins what the other region's operator said)."""
    now = now or datetime.now(UTC)
    text = _as_text(jws)
    if tsl_xml.is_xml(text) and tsl_xml.claimed_region(text)[1]:
        from certseal.list_of_lists import import_list_of_lists

        return import_list_of_lists(settings, text, signer_fingerprint=signer_fingerprint,
                                    source_url=source_url, now=now,
                                    trust_on_first_use=trust_on_first_use)
    region_code = _claimed_region(text)
    if settings.region_code is not None and region_code == settings.region_code:
        raise TrustListRefused(f"the list is of this home's own region {region_code}; "
                               "a region does not import its own list")
    region_dir = _region_dir(settings, region_code)
    with _region_lock(region_dir):
        pinned = _pinned_signer(region_dir)
        claimed = _signer_claimed(text)
        via = None
        if pinned is None:
            from certseal.list_of_lists import signer_named_for

            via, pinned = signer_named_for(settings, region_code, claimed, now=now)
            recognised_via = _source(region_dir).get("via")
            if via is None and recognised_via:
                # Not a first import: the region came through a list of lists that no longer
                # names it. Pinning it now would undo that withdrawal.
                raise TrustListRefused(
                    f"refused the list of region {region_code}: it was recognised through the "
                    f"list of lists of {recognised_via}, which no longer names it")
        newly_pinned = pinned is None
        if newly_pinned:
            if signer_fingerprint is None and not trust_on_first_use:
                raise unpinned_refusal(f"the list of region {region_code}", claimed)
            if signer_fingerprint is not None and (
                    normalise_fingerprint(signer_fingerprint)
                    != claimed.fingerprint(hashes.SHA256()).hex()):
                raise TrustListRefused(
                    f"the list of region {region_code} is signed by {fingerprint(claimed)}, "
                    f"not by the expected signer {signer_fingerprint}")
            _check_signer_certificate(claimed, now)
            pinned = claimed
        elif signer_fingerprint is not None and (
                normalise_fingerprint(signer_fingerprint)
                != pinned.fingerprint(hashes.SHA256()).hex()):
            raise TrustListRefused(f"region {region_code} is pinned to signer "
                                   f"{fingerprint(pinned)}, not {signer_fingerprint}")
        try:
            signed = tsl_xml.read_signed_trust_list(text, pinned)
        except TrustListError as exc:
            raise TrustListRefused(f"refused the list of region {region_code}: {exc}") from exc
        tl = signed.trust_list
        if tl.region_code != region_code:  # cannot happen: the payload is signed
            raise TrustListRefused("the list's region changed under its signature")
        held = _held_versions(region_dir)
        if held and tl.sequence_number <= held[-1]:
            if tl.sequence_number == held[-1]:
                held_file = _version_file(region_dir, held[-1])
                held_text = held_file.read_text(encoding="utf-8").strip()
                if held_text == text or _same_list(held_text, pinned, tl):
                    return _result(signed, pinned, False, True, held_file,
                                   _source(region_dir).get("url"))
                raise TrustListRefused(
                    f"refused the list of region {region_code}: sequence {tl.sequence_number} "
                    "is already held with different content")
            raise TrustListRefused(
                f"refused the list of region {region_code}: sequence {tl.sequence_number} is "
                f"older than the held sequence {held[-1]}")
        if tl.next_update < now:
            raise TrustListRefused(
                f"refused the list of region {region_code}: it expired at "
                f"{tl.next_update.isoformat()} (past its next update)")
        path_suffix = "/pki/trust-list.xml" if signed.format == "xml" else "/pki/trust-list"
        url = source_url or _source(region_dir).get("url") or (
            f"{tl.base_url.rstrip('/')}{path_suffix}" if tl.base_url else None)
        path = _version_file(region_dir, tl.sequence_number, "." + signed.format)
        # O_EXCL: a version file, once written, is never replaced.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text + "\n")
        if newly_pinned:
            from cryptography.hazmat.primitives.serialization import Encoding

            write_public(region_dir / SIGNER_FILE, pinned.public_bytes(Encoding.PEM))
        source = _source(region_dir)
        source.update({"url": url, "region_name": tl.region_name,
                       "signer_sha256": fingerprint(pinned)})
        if via is not None:
            source["via"] = via
        source.setdefault("pinned_at", now.isoformat())
        write_public(region_dir / SOURCE_FILE,
                     json.dumps(source, ensure_ascii=False, indent=2).encode())
        _audit_import(settings, signed, pinned)
        return _result(signed, pinned, newly_pinned, False, path, url)


def _same_list(held_text: str, pinned: x509.Certificate, trust_list) -> bool:
    """Whether the held version (perhaps the other form) says exactly what ``trust_list``
    says: then the list received is the same publication, not a rival under one number."""
    try:
        return tsl_xml.read_signed_trust_list(held_text, pinned).trust_list == trust_list
    except TrustListError:
        return False


def _audit_import(settings: Settings, signed: SignedTrustList, pinned: x509.Certificate
                  ) -> None:
    """Record the import in the home's audit log (a counter-only home has no database)."""
    if not settings.config_file.is_file():
        return
    from certseal.db import make_engine, transaction

    engine = make_engine(settings.effective_database_url)
    try:
        with transaction(engine) as session:
            append_entry(session, "trust_list.imported",
                         subject=signed.trust_list.region_code,
                         details={"sequence": signed.trust_list.sequence_number,
                                  "signer_sha256": fingerprint(pinned)})
    finally:
        engine.dispose()


def _result(signed: SignedTrustList, pinned: x509.Certificate, newly_pinned: bool,
            unchanged: bool, path: Path, url: str | None) -> ImportResult:
    tl = signed.trust_list
    return ImportResult(region_code=tl.region_code, region_name=tl.region_name,
                        sequence_number=tl.sequence_number, issued_at=tl.issued_at,
                        next_update=tl.next_update, signer_fingerprint=fingerprint(pinned),
                        newly_pinned=newly_pinned, unchanged=unchanged, path=path,
                        source_url=url)


# -- what a verifier trusts ---------------------------------------------------------------
@dataclass(frozen=True)
class AcceptedTrustLists:
    """The lists a home accepts, each verified against its pin on loading: the home's own
    list first, then the newest held list of each imported region."""

    lists: tuple[SignedTrustList, ...]
    warnings: tuple[str, ...] = ()
    own_region: str | None = None

    def __iter__(self):
        return iter(self.lists)

    def __len__(self) -> int:
        return len(self.lists)

    def stale(self, now: datetime) -> tuple[SignedTrustList, ...]:
        return tuple(s for s in self.lists if s.trust_list.next_update < now)

    def region_of_uscc(self, uscc: str) -> SignedTrustList | None:
        """The accepted list of the region a department is registered in: characters 3-8
        of a USCC are its registering authority's division code (GB 32100), which lies
        inside the list's region code (440000 covers 440100, 440300, ...)."""
        division = uscc[2:8]
        best = None
        for signed in self.lists:
            prefix = signed.trust_list.region_code
            while prefix.endswith("00"):
                prefix = prefix[:-2]
            if division.startswith(prefix) and (
                    best is None or len(prefix) > len(best[0])):
                best = (prefix, signed)
        return best[1] if best else None

    def base_url_of(self, uscc: str) -> str | None:
        """Where that department's region serves /pki (status lists, OCSP): the
        ``base_url_of`` a ``verify.status_lists.StatusListSource`` wants."""
        signed = self.region_of_uscc(uscc)
        return signed.trust_list.base_url if signed else None


def _stale_warning(signed: SignedTrustList, now: datetime) -> str:
    tl = signed.trust_list
    return (f"trust list of {tl.region_name} ({tl.region_code}) sequence {tl.sequence_number} "
            f"is past its next update ({tl.next_update.isoformat()}): run "
            "'certseal trust-list refresh' — a withdrawal since then would be missed")


def accepted_trust_lists(settings: Settings, *, now: datetime | None = None
                         ) -> AcceptedTrustLists:
    """Own list (published/trust-list.jws, checked against published/trust-list-signer.pem)
    plus the newest imported list of every region (checked against its pin). Reads files
    only: no HSM, database or network. A held file that no longer verifies is left out with
    a warning rather than failing every verification."""
    return accepted_trust_lists_in(settings.home, own_region=settings.region_code, now=now)


def accepted_trust_lists_in(home: Path, *, own_region: str | None = None,
                            now: datetime | None = None) -> AcceptedTrustLists:
    """``accepted_trust_lists`` for a home directory, without loading its settings (a
    counter's copied home, ``certseal verify --home``)."""
    now = now or datetime.now(UTC)
    home = Path(home)
    lists: list[SignedTrustList] = []
    warnings: list[str] = []
    own = home / "published" / "trust-list.jws"
    signer = home / "published" / "trust-list-signer.pem"
    if own.is_file() and signer.is_file():
        try:
            lists.append(read_trust_list(own.read_bytes(),
                                         x509.load_pem_x509_certificate(signer.read_bytes())))
        except (TrustListError, ValueError) as exc:
            warnings.append(f"own trust list {own} is not usable: {exc}")
    from certseal.list_of_lists import (
        held_lists_of_lists,
        is_list_of_lists_dir,
        pinned_by_list_of_lists,
    )

    lotls, lotl_warnings = held_lists_of_lists(home)
    warnings.extend(lotl_warnings)
    base = home / TRUST_LISTS_DIR
    for region_dir in sorted(p for p in base.iterdir() if p.is_dir()) if base.is_dir() else ():
        if is_list_of_lists_dir(region_dir):
            continue
        held = _held_versions(region_dir)
        pinned = _pinned_signer(region_dir)
        via = _source(region_dir).get("via")
        if not held or (pinned is None and via is None):
            continue
        path = _version_file(region_dir, held[-1])
        try:
            data = path.read_bytes()
            if pinned is None:
                pinned, why = pinned_by_list_of_lists(lotls, via, region_dir.name,
                                                      _signer_claimed(_as_text(data)))
                if pinned is None:
                    warnings.append(f"trust list of region {region_dir.name} is not "
                                    f"recognised any more: {why}")
                    continue
            signed = tsl_xml.read_signed_trust_list(data, pinned)
        except (TrustListError, ValueError) as exc:
            warnings.append(f"held trust list {path} no longer verifies and is ignored: {exc}")
            continue
        if signed.trust_list.region_code != region_dir.name:
            warnings.append(f"held trust list {path} is of region "
                            f"{signed.trust_list.region_code}, not {region_dir.name}; ignored")
            continue
        lists.append(signed)
    warnings.extend(_stale_warning(s, now) for s in lists if s.trust_list.next_update < now)
    warnings.extend(
        f"list of lists of {s.list_of_lists.operator_name} ({code}) sequence "
        f"{s.list_of_lists.sequence_number} is past its next update: run "
        "'certseal trust-list refresh' — a region withdrawn since then would be missed"
        for code, s in lotls.items() if s.list_of_lists.next_update < now)
    return AcceptedTrustLists(tuple(lists), tuple(warnings), own_region)


@dataclass(frozen=True)
class HeldList:
    region_code: str
    region_name: str
    sequence_number: int
    issued_at: datetime
    next_update: datetime
    own: bool
    stale: bool
    versions_held: int
    source_url: str | None
    signer_fingerprint: str

    def to_json(self) -> dict:
        return {k: (v.isoformat() if isinstance(v, datetime) else v)
                for k, v in self.__dict__.items()}


def show_trust_lists(settings: Settings, *, now: datetime | None = None
                     ) -> tuple[tuple[HeldList, ...], tuple[str, ...]]:
    now = now or datetime.now(UTC)
    accepted = accepted_trust_lists(settings, now=now)
    rows = []
    for signed in accepted.lists:
        tl = signed.trust_list
        own = tl.region_code == settings.region_code
        region_dir = trust_lists_dir(settings) / tl.region_code
        rows.append(HeldList(
            region_code=tl.region_code, region_name=tl.region_name,
            sequence_number=tl.sequence_number, issued_at=tl.issued_at,
            next_update=tl.next_update, own=own, stale=tl.next_update < now,
            versions_held=1 if own else len(_held_versions(region_dir)),
            source_url=None if own else _source(region_dir).get("url"),
            signer_fingerprint=fingerprint(signed.signer_certificate)))
    return tuple(rows), accepted.warnings


# -- refresh ----------------------------------------------------------------------------
@dataclass(frozen=True)
class RefreshOutcome:
    region_code: str
    url: str | None
    outcome: str  # "updated" | "unchanged" | "failed"
    sequence_number: int | None
    message: str

    def to_json(self) -> dict:
        return dict(self.__dict__)


@dataclass(frozen=True)
class RefreshReport:
    outcomes: tuple[RefreshOutcome, ...]
    warnings: tuple[str, ...] = field(default=())

    @property
    def failed(self) -> bool:
        return any(o.outcome == "failed" for o in self.outcomes)


def refresh_trust_lists(settings: Settings, *, timeout: float = DEFAULT_FETCH_TIMEOUT,
                        now: datetime | None = None,
                        fetch: Callable[[str, str | None], bytes | None] | None = None
                        ) -> RefreshReport:
    """Fetch each imported list from its recorded URL and import it through the same checks:
    lists of lists first, then every region they name (from the pointer's location, held
    or not yet), then the regions pinned directly. A failure of one does not stop the
    others; a list past its next update that could not be refreshed is warned about."""
    from certseal.list_of_lists import held_lists_of_lists, is_list_of_lists_dir

    now_ = now or datetime.now(UTC)
    fetch = fetch or _http_fetcher(timeout)
    outcomes: list[RefreshOutcome] = []
    base = trust_lists_dir(settings)
    dirs = sorted(p for p in base.iterdir() if p.is_dir()) if base.is_dir() else []
    for directory in (d for d in dirs if is_list_of_lists_dir(d)):
        outcomes.append(_refresh_one(settings, directory.name, _source(directory).get("url"),
                                     fetch, now_))
    named: dict[str, str] = {}
    for signed in held_lists_of_lists(settings.home)[0].values():
        for pointer in signed.list_of_lists.pointers:
            named.setdefault(pointer.region_code, pointer.location)
    held_regions = {d.name for d in dirs if not is_list_of_lists_dir(d) and _held_versions(d)}
    for region in sorted(held_regions | set(named)):
        if settings.region_code is not None and region == settings.region_code:
            continue
        region_dir = base / region
        source = _source(region_dir)
        if source.get("via") and region not in named:
            continue  # withdrawn by its list of lists: nothing to fetch, nothing to trust
        url = named.get(region) if source.get("via") or region not in held_regions else None
        outcomes.append(_refresh_one(settings, region, url or source.get("url"), fetch, now_))
    accepted = accepted_trust_lists(settings, now=now_)
    return RefreshReport(tuple(outcomes), accepted.warnings)


def _refresh_one(settings: Settings, name: str, url: str | None,
                 fetch: Callable[[str, str | None], bytes | None], now: datetime
                 ) -> RefreshOutcome:
    if not url:
        return RefreshOutcome(name, None, "failed", None,
                              f"region {name}: no source URL recorded; import with --url")
    region_dir = trust_lists_dir(settings) / name
    held = _held_versions(region_dir)
    etag = None
    if held:
        held_text = _version_file(region_dir, held[-1]).read_text(encoding="utf-8").strip()
        etag = '"' + hashlib.sha256(held_text.encode()).hexdigest() + '"'
    try:
        data = fetch(url, etag)
        if data is None:  # 304: the held list is still the one served
            return RefreshOutcome(name, url, "unchanged", held[-1] if held else None,
                                  f"region {name}: sequence {held[-1] if held else '?'} "
                                  "(not modified)")
        result = import_trust_list(settings, data, source_url=url, now=now)
    except (TrustListError, httpx.HTTPError, OSError, ValueError) as exc:
        return RefreshOutcome(name, url, "failed", None, f"region {name}: {_one_line(exc)}")
    if result.region_code != name:
        return RefreshOutcome(name, url, "failed", None,
                              f"region {name}: {url} served the list of {result.region_code}")
    return RefreshOutcome(
        name, url, "unchanged" if result.unchanged else "updated", result.sequence_number,
        f"region {name}: sequence {result.sequence_number}"
        + (" (unchanged)" if result.unchanged else " imported"))


def _one_line(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text.splitlines()[0] if text else type(exc).__name__


def _http_fetcher(timeout: float) -> Callable[[str, str | None], bytes | None]:
    def fetch(url: str, etag: str | None) -> bytes | None:
        headers = {"Accept": f"{MEDIA_TYPE}, {tsl_xml.MEDIA_TYPE}"}
        if etag:
            headers["If-None-Match"] = etag
        with httpx.stream("GET", url, timeout=timeout, follow_redirects=False,
                          headers=headers) as response:
            if response.status_code == 304:
                return None
            if response.status_code != 200:
                raise TrustListError(f"GET {url} answered HTTP {response.status_code}")
            body = bytearray()
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) > MAX_LIST_BYTES:
                    raise TrustListError(f"GET {url}: trust list is too large")
            return bytes(body)

    return fetch
