"""The national list of lists at the edge.

A national operator's home names regions (``name_region``: a region's exported list,
checked against the signer fingerprint the region gave out of band), withdraws them, and
publishes the signed list of lists (``published/list-of-lists.xml``, served at
``/pki/list-of-lists.xml``).

A counter imports the national list once (``certseal trust-list import``, pinning the
national signer); from then on it recognises every region the newest held list of lists
names, each region's list checked against the signer certificates its pointer carries:

    HOME/trust-lists/<national code>/signer.pem    the pinned national signer
    HOME/trust-lists/<national code>/source.json   {"kind": "list-of-lists", "url": ...}
    HOME/trust-lists/<national code>/<seq>.xml     every list of lists accepted
    HOME/trust-lists/<region>/source.json          {"via": <national code>, ...}: no pin of
                                                   its own; the list of lists is its pin

A region the newest list of lists no longer names is not recognised any more, whatever the
counter still holds of it; a region the counter pinned itself is not affected.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding

from ca import publication
from ca.trustlist import TrustListError, fingerprint
from ca.tsl_xml import SignedListOfLists, claimed_signer, read_list_of_lists
from certseal.home import write_public
from certseal.settings import Settings

if TYPE_CHECKING:
    from certseal.domain import TrustDomain
    from certseal.trust import ImportResult

KIND = "list-of-lists"
PUBLISHED_NAME = "list-of-lists.xml"


# -- a national operator's home ----------------------------------------------------------
@dataclass(frozen=True)
class PublishedListOfLists:
    sequence_number: int
    issued_at: datetime
    next_update: datetime
    regions: tuple[str, ...]
    path: Path
    signer_fingerprint: str

    def to_json(self) -> dict:
        return {"sequence_number": self.sequence_number, "issued_at": self.issued_at.isoformat(),
                "next_update": self.next_update.isoformat(), "regions": list(self.regions),
                "list_of_lists": str(self.path), "signer_fingerprint": self.signer_fingerprint}


def publish_list_of_lists(domain: TrustDomain, *, now: datetime | None = None,
                          changes=None) -> PublishedListOfLists:
    """Sign the next list of lists with this home's trust-list signer (through the HSM);
    ``changes(session, now)`` runs in the same transaction."""
    from ca import list_of_lists
    from ca.audit import append_entry
    from certseal.db import transaction
    from certseal.domain import KEY_LABELS, _certificate_by_role

    now = now or datetime.now(UTC)
    facts = domain.facts
    with transaction(domain.engine) as session:
        if changes is not None:
            changes(session, now)
        signer = _certificate_by_role(session, "trust-list-signer")
        publication = list_of_lists.publish(
            session, operator_code=facts.region_code, operator_name=facts.region_name,
            base_url=facts.base_url, key=domain.token().private_key(KEY_LABELS["trust_list"]),
            signer_certificate=signer, now=now)
        regions = tuple(p.region_code for p in list_of_lists.current_pointers(session))
        append_entry(session, "list_of_lists.published",
                     subject=str(publication.sequence_number), details={"regions": regions})
        row = (publication.sequence_number, publication.issued_at, publication.next_update,
               publication.xml)
    path = write_public(domain.settings.published_dir / PUBLISHED_NAME, row[3].encode())
    return PublishedListOfLists(row[0], row[1], row[2], regions, path, fingerprint(signer))


def name_region(domain: TrustDomain, data: bytes, *, signer_fingerprint: str,
                location: str | None = None, actor: str = "cli",
                now: datetime | None = None) -> PublishedListOfLists:
    """Name a region in the list of lists, from its exported list (JWS or XML) and the
    fingerprint of its signer, confirmed with that region out of band; publish."""
    from ca import list_of_lists
    from ca.audit import append_entry, qualified_actor
    from ca.tsl_xml import read_signed_trust_list
    from certseal.trust import (
        _as_text,
        _check_signer_certificate,
        _signer_claimed,
        normalise_fingerprint,
    )

    now = now or datetime.now(UTC)
    text = _as_text(data)
    claimed = _signer_claimed(text)
    if claimed.fingerprint(hashes.SHA256()).hex() != normalise_fingerprint(signer_fingerprint):
        raise TrustListError(f"the region's list is signed by {fingerprint(claimed)}, not by "
                             f"the expected signer {signer_fingerprint}")
    _check_signer_certificate(claimed, now)
    tl = read_signed_trust_list(text, claimed).trust_list
    if tl.region_code == domain.facts.region_code:
        raise TrustListError("a list of lists names other regions' lists, not its own")
    location = location or (f"{tl.base_url.rstrip('/')}/pki/trust-list.xml"
                            if tl.base_url else None)
    if not location:
        raise ValueError("the region's list names no base URL: give --url")

    def record(session, when: datetime) -> None:
        list_of_lists.name_region(session, region_code=tl.region_code,
                                  region_name=tl.region_name, location=location,
                                  signer=claimed, actor=actor, now=when)
        append_entry(session, "list_of_lists.region_named", subject=tl.region_code,
                     actor=qualified_actor(actor, "operator:cli"),
                     details={"location": location, "signer_sha256": fingerprint(claimed)})

    return publish_list_of_lists(domain, now=now, changes=record)


def withdraw_region(domain: TrustDomain, region_code: str, *, reason: str,
                    actor: str = "cli", now: datetime | None = None) -> PublishedListOfLists:
    from ca import list_of_lists
    from ca.audit import append_entry, qualified_actor

    def record(session, when: datetime) -> None:
        list_of_lists.withdraw_region(session, region_code, reason=reason, now=when)
        append_entry(session, "list_of_lists.region_withdrawn", subject=region_code,
                     actor=qualified_actor(actor, "operator:cli"), details={"reason": reason})

    return publish_list_of_lists(domain, now=now, changes=record)


def served_list_of_lists(domain: TrustDomain) -> bytes | None:
    """The newest list of lists, or None for a home that never published one (a read:
    re-signing is ``publish_due_list_of_lists``'s)."""
    from ca.list_of_lists import latest_publication

    with domain.session() as session:
        row = latest_publication(session)
    return row.xml.encode() if row is not None else None


def publish_due_list_of_lists(domain: TrustDomain, *, now: datetime | None = None) -> bool:
    """Re-sign a published list of lists once half its validity has passed."""
    from ca.list_of_lists import latest_publication

    now = now or datetime.now(UTC)
    with domain.session() as session:
        row = latest_publication(session)
    if row is None or not publication.due(row.issued_at, row.next_update, now):
        return False
    publish_list_of_lists(domain, now=now)
    return True


def export_list_of_lists(domain: TrustDomain, out: Path) -> PublishedListOfLists:
    """Write the current list of lists (as served; a first one is published) to ``out``."""
    from certseal.trust import own_signer_path

    with domain.publication_lock():  # an export is a write: what it writes is current
        publish_due_list_of_lists(domain)
    data = served_list_of_lists(domain)
    if data is None:
        data = publish_list_of_lists(domain).path.read_bytes()
    write_public(out, data)
    signer = x509.load_pem_x509_certificate(own_signer_path(domain.settings).read_bytes())
    lotl = read_list_of_lists(data, signer).list_of_lists
    return PublishedListOfLists(lotl.sequence_number, lotl.issued_at, lotl.next_update,
                                tuple(p.region_code for p in lotl.pointers), out,
                                fingerprint(signer))


# -- a counter's home --------------------------------------------------------------------
def _dirs(home: Path) -> list[Path]:
    from certseal.trust import TRUST_LISTS_DIR

    base = Path(home) / TRUST_LISTS_DIR
    return sorted(p for p in base.iterdir() if p.is_dir()) if base.is_dir() else []


def _source(directory: Path) -> dict:
    path = directory / "source.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def is_list_of_lists_dir(directory: Path) -> bool:
    return _source(directory).get("kind") == KIND


def held_lists_of_lists(home: Path) -> tuple[dict[str, SignedListOfLists], list[str]]:
    """The newest held list of lists of each national operator, verified against its pin."""
    from certseal.trust import SIGNER_FILE, _held_versions, _version_file

    found: dict[str, SignedListOfLists] = {}
    warnings: list[str] = []
    for directory in _dirs(home):
        if not is_list_of_lists_dir(directory):
            continue
        held = _held_versions(directory)
        signer = directory / SIGNER_FILE
        if not held or not signer.is_file():
            continue
        path = _version_file(directory, held[-1])
        try:
            signed = read_list_of_lists(path.read_bytes(),
                                        x509.load_pem_x509_certificate(signer.read_bytes()))
        except (TrustListError, ValueError) as exc:
            warnings.append(f"held list of lists {path} no longer verifies and is ignored: {exc}")
            continue
        found[directory.name] = signed
    return found, warnings


def signer_named_for(settings: Settings, region_code: str, claimed: x509.Certificate, *,
                     now: datetime) -> tuple[str | None, x509.Certificate | None]:
    """(national code, certificate) when a held list of lists names ``region_code`` with the
    signer ``claimed``; (None, None) when no held list of lists names the region at all."""
    from certseal.trust import TrustListRefused

    lotls, _ = held_lists_of_lists(settings.home)
    named = [(code, signed.list_of_lists.pointer_to(region_code))
             for code, signed in sorted(lotls.items())]
    named = [(code, pointer) for code, pointer in named if pointer is not None]
    if not named:
        return None, None
    for code, pointer in named:
        if claimed in pointer.signer_certificates:
            return code, claimed
    raise TrustListRefused(
        f"the list of region {region_code} is signed by {fingerprint(claimed)}, which the "
        f"list of lists of {named[0][0]} does not name as its signer")


def pinned_by_list_of_lists(lotls: dict[str, SignedListOfLists], via: str, region_code: str,
                            claimed: x509.Certificate) -> tuple[x509.Certificate | None, str]:
    """(the pin, or None with the reason) of a region a counter knows through ``via``."""
    signed = lotls.get(via)
    if signed is None:
        return None, f"the list of lists of {via} it was recognised through is not usable"
    lotl = signed.list_of_lists
    pointer = lotl.pointer_to(region_code)
    if pointer is None:
        return None, (f"the list of lists of {lotl.operator_name} ({via}) sequence "
                      f"{lotl.sequence_number} no longer names region {region_code}")
    if claimed not in pointer.signer_certificates:
        return None, (f"its signer {fingerprint(claimed)} is not the one the list of lists of "
                      f"{via} names")
    return claimed, ""


def import_list_of_lists(settings: Settings, text: str, *, signer_fingerprint: str | None,
                         source_url: str | None, now: datetime,
                         trust_on_first_use: bool = True) -> ImportResult:
    """Accept a national list of lists: the same pin, sequence and expiry rules as a
    region's list (``certseal.trust.import_trust_list``)."""
    from ca.tsl_xml import claimed_region
    from certseal.trust import (
        ImportResult,
        TrustListRefused,
        _check_signer_certificate,
        _held_versions,
        _pinned_signer,
        _region_dir,
        _region_lock,
        _version_file,
        normalise_fingerprint,
    )

    code = claimed_region(text)[0]
    directory = _region_dir(settings, code)
    with _region_lock(directory):
        if directory.is_dir() and _held_versions(directory) and not is_list_of_lists_dir(
                directory):
            raise TrustListRefused(f"{code} is held as a region's trust list, not a list of lists")
        pinned = _pinned_signer(directory)
        claimed = claimed_signer(text)
        newly_pinned = pinned is None
        wanted = normalise_fingerprint(signer_fingerprint) if signer_fingerprint else None
        if newly_pinned:
            if wanted is None and not trust_on_first_use:
                from certseal.trust import unpinned_refusal

                raise unpinned_refusal(f"the list of lists of {code}", claimed)
            if wanted is not None and wanted != claimed.fingerprint(hashes.SHA256()).hex():
                raise TrustListRefused(f"the list of lists of {code} is signed by "
                                       f"{fingerprint(claimed)}, not by the expected signer "
                                       f"{signer_fingerprint}")
            _check_signer_certificate(claimed, now)
            pinned = claimed
        elif wanted is not None and wanted != pinned.fingerprint(hashes.SHA256()).hex():
            raise TrustListRefused(f"the list of lists of {code} is pinned to signer "
                                   f"{fingerprint(pinned)}, not {signer_fingerprint}")
        try:
            signed = read_list_of_lists(text, pinned)
        except TrustListError as exc:
            raise TrustListRefused(f"refused the list of lists of {code}: {exc}") from exc
        lotl = signed.list_of_lists
        held = _held_versions(directory)
        url = source_url or _source(directory).get("url") or (
            f"{lotl.base_url.rstrip('/')}/pki/{PUBLISHED_NAME}" if lotl.base_url else None)

        def result(path: Path, unchanged: bool) -> ImportResult:
            return ImportResult(region_code=code, region_name=lotl.operator_name,
                                sequence_number=lotl.sequence_number, issued_at=lotl.issued_at,
                                next_update=lotl.next_update,
                                signer_fingerprint=fingerprint(pinned),
                                newly_pinned=newly_pinned, unchanged=unchanged, path=path,
                                source_url=url, kind=KIND,
                                regions=tuple(p.region_code for p in lotl.pointers))

        if held and lotl.sequence_number <= held[-1]:
            held_file = _version_file(directory, held[-1])
            if lotl.sequence_number == held[-1] and \
                    held_file.read_text(encoding="utf-8").strip() == text:
                return result(held_file, True)
            raise TrustListRefused(
                f"refused the list of lists of {code}: sequence {lotl.sequence_number} is "
                + ("already held with different content" if lotl.sequence_number == held[-1]
                   else f"older than the held sequence {held[-1]}"))
        if lotl.next_update < now:
            raise TrustListRefused(f"refused the list of lists of {code}: it expired at "
                                   f"{lotl.next_update.isoformat()} (past its next update)")
        path = _version_file(directory, lotl.sequence_number, ".xml")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text + "\n")
        if newly_pinned:
            write_public(directory / "signer.pem", pinned.public_bytes(Encoding.PEM))
        source = _source(directory)
        source.update({"kind": KIND, "url": url, "region_name": lotl.operator_name,
                       "signer_sha256": fingerprint(pinned)})
        source.setdefault("pinned_at", now.isoformat())
        write_public(directory / "source.json",
                     json.dumps(source, ensure_ascii=False, indent=2).encode())
        return result(path, False)
