"""Build a verifier's context from what a counter has: a home (its published trust list,
list signer and seal certificates) and/or trust-list files given on the command line.

A ``--trust-list`` is a region's published directory (trust-list.jws, trust-list-signer.pem,
optionally seals/*.pem), or a ``.jws`` (or ETSI TS 119 612 ``.xml``) file whose pinned signer
sits beside it as ``trust-list-signer.pem`` (or ``<name>-signer.pem``). Caches (OCSP
answers, status lists) live in ``<home>/verify-cache`` when a home is given, so an offline
run can use what an online run fetched.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from stat import S_ISDIR

import httpx
from cryptography import x509

from ca.trustlist import SignedTrustList, TrustListError
from ca.tsl_xml import read_signed_trust_list
from verify.certificates import CertificateFacts
from verify.context import StaticSealDirectory, VerificationContext
from verify.errors import VerifierNotConfigured
from verify.limits import DEFAULT_LIMITS, Limits
from verify.revocation import OcspStatusSource
from verify.status_lists import StatusListSource

log = logging.getLogger("certseal.verifying")
SIGNER_FILE = "trust-list-signer.pem"
LIST_FILE = "trust-list.jws"
MAX_SEALS = 10_000


@dataclass(frozen=True)
class TrustSource:
    jws: Path
    signer: Path
    seals_dir: Path | None


def trust_source(path: Path) -> TrustSource:
    path = Path(path)
    if path.is_dir():
        return TrustSource(path / LIST_FILE, path / SIGNER_FILE, path / "seals")
    for signer in (path.with_name(f"{path.stem}-signer.pem"), path.with_name(SIGNER_FILE)):
        if signer.is_file():
            return TrustSource(path, signer, path.parent / "seals")
    raise VerifierNotConfigured(
        f"{path}: no pinned list signer beside it ({path.stem}-signer.pem or {SIGNER_FILE})")


def load_trust_list(source: TrustSource) -> SignedTrustList:
    try:
        signer = x509.load_pem_x509_certificate(source.signer.read_bytes())
        return read_signed_trust_list(source.jws.read_bytes(), signer)
    except OSError as exc:
        raise VerifierNotConfigured(f"cannot read trust list {source.jws}: {exc.strerror}"
                                    ) from exc
    except ValueError as exc:  # a PEM that is not a certificate
        raise VerifierNotConfigured(f"{source.signer}: not a PEM certificate") from exc
    except TrustListError as exc:
        raise VerifierNotConfigured(f"trust list {source.jws} refused: {exc}") from exc


def seal_certificates(dirs: Iterable[Path | None]) -> list[x509.Certificate]:
    found = []
    for directory in dirs:
        if directory is None or not directory.is_dir():
            continue
        for pem in sorted(directory.glob("*.pem"))[:MAX_SEALS]:
            try:
                found.append(x509.load_pem_x509_certificate(pem.read_bytes()))
            except (OSError, ValueError):
                log.warning("not a certificate, ignored: %s", pem)
    return found


def files_version(paths: Iterable[Path | None]) -> tuple:
    """What identifies the current content of these files and directories (each file's
    inode, size and modification time; a directory's files, one level down for region
    folders): a change to any of them makes a different value. Costs a stat a file."""
    seen: list[tuple] = []
    for path in paths:
        if path is None:
            continue
        try:
            stat = os.stat(path)
        except OSError:
            seen.append((str(path), None))
            continue
        seen.append((str(path), stat.st_ino, stat.st_size, stat.st_mtime_ns))
        if S_ISDIR(stat.st_mode):
            seen.extend(_directory_version(Path(path), depth=1))
    return tuple(seen)


def _directory_version(directory: Path, depth: int) -> list[tuple]:
    found = []
    try:
        entries = sorted(os.scandir(directory), key=lambda e: e.name)
    except OSError:
        return found
    for entry in entries[:MAX_SEALS]:
        try:
            stat = entry.stat()
        except OSError:
            continue
        found.append((entry.path, stat.st_ino, stat.st_size, stat.st_mtime_ns))
        if depth > 0 and entry.is_dir():
            found.extend(_directory_version(Path(entry.path), depth - 1))
    return found


@dataclass(frozen=True)
class SyncItem:
    """One thing a counter's sync fetched (``as_of``: when its issuer signed it) or could
    not (``error``)."""

    kind: str  # "trust_list" | "status_index" | "status_list" | "seal_status"
    name: str
    as_of: dt.datetime | None
    error: str | None = None
    status: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def to_json(self, now: dt.datetime) -> dict:
        data = {"kind": self.kind, "name": self.name, "ok": self.ok,
                "as_of": self.as_of.isoformat() if self.as_of else None,
                "age_seconds": (round((now - self.as_of).total_seconds())
                                if self.as_of else None)}
        if self.status is not None:
            data["status"] = self.status
        if self.error is not None:
            data["error"] = self.error
        return data


class Verifier:
    """One counter's verification set-up: trust lists, caches and sources, reusable across
    verifications (the caches are what make repeated and offline checks cheap).

    Long-lived (the API keeps one per domain), so it follows its files: the trust lists
    are read again when a list file changes (an import, a withdrawal published in the
    home), and a context is reused only while neither the lists nor the seal
    certificates it was built from changed."""

    def __init__(self, trust_sources: Sequence[TrustSource], cache_dir: Path | None = None,
                 extra_seal_dirs: Sequence[Path] = (),
                 accepted: Sequence[SignedTrustList] = (),
                 home: Path | None = None, limits: Limits = DEFAULT_LIMITS) -> None:
        if not trust_sources and not accepted and home is None:
            raise VerifierNotConfigured(
                "no trust list: give --home or --trust-list (a published directory, or a "
                "trust-list.jws with its trust-list-signer.pem beside it)")
        # ``accepted``: lists already verified against their pins (a home's own and
        # imported lists, certseal.trust.accepted_trust_lists_in). With ``home`` they are
        # re-read from it whenever its list files change.
        self._trust_sources = tuple(trust_sources)
        self._home = Path(home) if home is not None else None
        self._trust_version = self._trust_files_version()
        self.trust_lists = tuple(accepted) + tuple(load_trust_list(s) for s in trust_sources)
        if self._home is not None and not accepted:
            self.trust_lists = self._home_lists() + self.trust_lists
        if not self.trust_lists:
            raise VerifierNotConfigured(
                "no trust list: give --home or --trust-list (a published directory, or a "
                "trust-list.jws with its trust-list-signer.pem beside it)")
        self.cache_dir = cache_dir
        self.limits = limits
        self.ocsp = OcspStatusSource(
            timeout=DEFAULT_LIMITS.ocsp_timeout_seconds,
            cache_dir=cache_dir / "ocsp" if cache_dir else None)
        self.status_lists = StatusListSource(
            issuing_cas=self._issuing_cas, base_url_of=self._base_url_of,
            cache_dir=cache_dir / "status" if cache_dir else None,
            timeout=DEFAULT_LIMITS.status_timeout_seconds)
        self._seal_dirs = [s.seals_dir for s in trust_sources] + list(extra_seal_dirs)
        self._contexts: dict[bool, tuple[tuple, VerificationContext]] = {}
        self._issuing_cas_held: tuple[tuple, tuple[x509.Certificate, ...]] | None = None

    def _trust_files_version(self) -> tuple:
        from certseal.trust import TRUST_LISTS_DIR

        paths: list[Path | None] = [p for s in self._trust_sources for p in (s.jws, s.signer)]
        if self._home is not None:
            published = self._home / "published"
            paths += [published / LIST_FILE, published / SIGNER_FILE,
                      self._home / TRUST_LISTS_DIR]
        return files_version(paths)

    def _home_lists(self) -> tuple[SignedTrustList, ...]:
        from certseal.trust import accepted_trust_lists_in

        held = accepted_trust_lists_in(self._home)  # type: ignore[arg-type]
        for warning in held.warnings:
            log.warning("%s", warning)
        return held.lists

    def _follow_trust_lists(self) -> None:
        """Read the lists again when one of their files changed since they were read."""
        version = self._trust_files_version()
        if version == self._trust_version:
            return
        lists = tuple(load_trust_list(s) for s in self._trust_sources)
        if self._home is not None:
            lists = self._home_lists() + lists
        if not lists:
            raise VerifierNotConfigured("no trust list is usable any more")
        self.trust_lists, self._trust_version = lists, version

    def _issuing_cas(self) -> tuple[x509.Certificate, ...]:
        """The same tuple while the trust lists are the same (the status-list source keys
        its verified lists by it, and checks identity before building a set of it)."""
        held = self._issuing_cas_held
        if held is None or held[0] is not self.trust_lists:
            cas = tuple(s.certificate for t in self.trust_lists
                        for s in t.trust_list.services_of("issuing-ca"))
            held = self._issuing_cas_held = (self.trust_lists, cas)
        return held[1]

    def _base_url_of(self, uscc: str) -> str | None:
        """The region whose list should know this department: USCC characters 3-8 are its
        administrative division code; with one list, that list."""
        lists = [t.trust_list for t in self.trust_lists if t.trust_list.base_url]
        for tl in lists:
            if uscc[2:4] == tl.region_code[:2]:
                return tl.base_url
        return lists[0].base_url if len(lists) == 1 else None

    async def sync(self, timeout: float = 5.0) -> list[str]:
        """Fetch every department's status list named by each trust list's region index
        (``{base_url}/pki/status``) into the cache; the departments synced."""
        return [item.name for item in await self.sync_items(timeout)
                if item.kind == "status_list" and item.ok]

    async def sync_items(self, timeout: float = 5.0) -> list[SyncItem]:
        """``sync`` item by item: each department's status list, then each seal
        certificate's current status (OCSP, else the CRL), as fetched or why not. One item
        that fails does not stop the others."""
        items: list[SyncItem] = []
        for signed in self.trust_lists:
            base = signed.trust_list.base_url
            if not base:
                continue
            index_url = f"{base.rstrip('/')}/pki/status"
            try:
                async with httpx.AsyncClient(timeout=timeout) as client:
                    response = await client.get(index_url)
                    response.raise_for_status()
                    refs = response.json().get("status_lists", [])
            except (httpx.HTTPError, ValueError, AttributeError) as exc:
                log.info("status list index of %s unreachable: %s", base,
                            type(exc).__name__)
                items.append(SyncItem("status_index", signed.trust_list.region_code, None,
                                      f"{index_url} unreachable ({type(exc).__name__})"))
                continue
            for ref in refs[:MAX_SEALS]:
                department = ref.get("department_id") if isinstance(ref, dict) else None
                if not isinstance(department, str):
                    continue
                status_list = await self.status_lists.sync(department)
                items.append(SyncItem(
                    "status_list", department,
                    status_list.issued_at if status_list is not None else None,
                    None if status_list is not None else
                    self.status_lists.last_errors.get(department, "not fetched")))
        items.extend(await self._sync_seal_statuses())
        return items

    async def _sync_seal_statuses(self) -> list[SyncItem]:
        """Cache a current status answer (OCSP, else the CRL) for every seal certificate
        the synced lists name, so an offline counter can judge 'revoked now' too."""
        now = dt.datetime.now(dt.UTC)
        issuers = self._issuing_cas()
        items: list[SyncItem] = []
        seen: set[bytes] = set()
        for seal in self.status_lists.seal_certificates()[:MAX_SEALS]:
            facts = CertificateFacts(seal)
            if facts.sha256 in seen:
                continue
            seen.add(facts.sha256)
            name = f"{facts.signer.uscc or '?'} seal {seal.serial_number:x}"
            issuer = next((ca for ca in issuers if ca.subject == seal.issuer), None)
            if issuer is None:
                items.append(SyncItem("seal_status", name, None,
                                      "its issuing CA is in no accepted trust list"))
                continue
            try:
                fact = await self.ocsp.status_now(facts, CertificateFacts(issuer),
                                                  offline=False, now=now)
            except Exception as exc:  # a counter syncs what it can; offline says the rest
                log.info("status of seal %s not synced: %s", seal.serial_number,
                            type(exc).__name__)
                fact, error = None, f"no status answer ({type(exc).__name__})"
            else:
                error = "no OCSP answer and no CRL" if fact is None else None
            items.append(SyncItem("seal_status", name,
                                  fact.this_update if fact is not None else None, error,
                                  fact.status if fact is not None else None))
        return items

    def context(self, *, offline: bool = False) -> VerificationContext:
        self._follow_trust_lists()
        status_dir = self.status_lists.cache_dir
        # The seal directory comes from the seal folders and the synced lists' signers:
        # a new context (and an empty memo) whenever any of them, or the lists, changed.
        version = (id(self.trust_lists), self._trust_version,
                   files_version([*self._seal_dirs, status_dir]),
                   self.status_lists.live_signers())
        held = self._contexts.get(offline)
        if held is not None and held[0] == version and held[1].trust_lists is self.trust_lists:
            return held[1]
        seals = seal_certificates(self._seal_dirs) + self.status_lists.seal_certificates()
        context = VerificationContext(
            trust_lists=self.trust_lists, seal_directory=StaticSealDirectory(seals),
            certificate_status=self.ocsp, licence_status=self.status_lists, offline=offline,
            limits=self.limits)
        self._contexts[offline] = (version, context)
        return context


def verifier_for(home: Path | None, trust_lists: Sequence[Path] = (),
                 limits: Limits = DEFAULT_LIMITS) -> Verifier:
    """The set-up ``certseal verify`` uses: the home's accepted lists (its own published
    list and the newest imported list of each region, ``certseal trust-list import``) plus
    each ``--trust-list``."""
    sources = [trust_source(p) for p in trust_lists]
    cache_dir = None
    seal_dirs: list[Path] = []
    if home is not None:
        seal_dirs.append(Path(home) / "published" / "seals")
        cache_dir = Path(home) / "verify-cache"
    return Verifier(sources, cache_dir=cache_dir, extra_seal_dirs=seal_dirs,
                    home=Path(home) if home is not None else None, limits=limits)
