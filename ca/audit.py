"""The audit log: an append-only, hash-chained record of who did what, when, from where.

Each entry's hash is SHA-256 over a canonical encoding of all its fields and the hash of
the entry before it, so an edited, removed, inserted or reordered entry breaks the chain.
A forger who also recomputes the hashes after an edit is caught by the checkpoints: the
head hash time-stamped by our RFC 3161 TSA, whose key lives in the HSM.

Appends happen in the caller's transaction (``append_entry`` flushes, never commits): an
action and its entry are committed together or not at all. Every append first writes the
single chain-head row, which takes the database's write lock on that row (PostgreSQL:
a row lock; SQLite: the database write lock, taken before the head is read, since the
Python driver runs a transaction's reads before its first write outside it). So two
transactions can never extend the same entry.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import re
import secrets
import socket
from collections.abc import Callable, Iterator, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from asn1crypto import cms, tsp
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from sqlalchemy import insert, select, update
from sqlmodel import Session

from ca.audit_models import AuditChainHead, AuditCheckpoint, AuditEntry
from ca.errors import CaError

GENESIS_HASH = "0" * 64
HEAD_ID = 1
MAX_DETAILS_BYTES = 4096
MAX_TEXT = 160
# Stable action codes: scripts and auditors filter on them; add, never rename.
ACTIONS = frozenset({
    "domain.created", "key.generated", "department.created",
    "department.suspended", "department.reinstated",
    "seal.created", "seal.revoked", "seal.suspended", "seal.reinstated",
    "licence.issued", "licence.revoked", "licence.suspended", "licence.reinstated",
    "licence.downloaded",
    "trust_list.published", "trust_list.imported", "trust_list.withdrawn",
    "trust_list.refreshed", "api_key.created", "api_key.revoked",
    "audit.checkpointed",
    "list_of_lists.published", "list_of_lists.region_named", "list_of_lists.region_withdrawn",
})
_ENTRY_DOMAIN = b"certseal-audit-entry-v1\x00"
# Keys whose values are secrets: recorded as redacted, whoever passes them by mistake.
_SECRET_KEY_PARTS = {"pin", "password", "passphrase", "secret", "apikey", "privatekey"}
_SECRET_KEYS = {"api_key", "token", "bearer", "private_key", "authorization"}
# An 18-character resident identity number (GB 11643) anywhere in a text.
_RESIDENT_ID = re.compile(r"(?<![0-9A-Za-z])(\d{6})((?:18|19|20)\d{2}(?:0[1-9]|1[0-2])"
                          r"(?:0[1-9]|[12]\d|3[01])\d{3})([\dXx])(?![0-9A-Za-z])")
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


class AuditError(CaError):
    """The audit log cannot do what was asked (e.g. the TSA refused a checkpoint)."""

    code = "audit_error"


# -- who and from where -------------------------------------------------------------------
@dataclass(frozen=True)
class AuditOrigin:
    actor: str
    source: str


_origin: ContextVar[AuditOrigin | None] = ContextVar("certseal_audit_origin", default=None)


def local_source() -> str:
    return f"local@{socket.gethostname()}"


def current_origin() -> AuditOrigin:
    """The origin set by the edge (CLI, HTTP middleware) for this context, else this host."""
    return _origin.get() or AuditOrigin(actor="system", source=local_source())


@contextlib.contextmanager
def acting_as(actor: str | None = None, source: str | None = None) -> Iterator[AuditOrigin]:
    """Entries appended inside name this actor/source unless the call names its own.
    A ContextVar, so it follows a request into worker threads that copy the context."""
    outer = current_origin()
    origin = AuditOrigin(actor=actor or outer.actor, source=source or outer.source)
    token = _origin.set(origin)
    try:
        yield origin
    finally:
        _origin.reset(token)


# -- what is written ------------------------------------------------------------------------
def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False)


def _resident_id_checks(match: re.Match[str]) -> bool:
    digits = match.group(1) + match.group(2)
    total = sum(int(d) * w for d, w in zip(digits, _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11] == match.group(3).upper()


def mask_resident_ids(text: str) -> str:
    """Hide the middle of any valid resident identity number in ``text`` (keeps 6 + 4,
    as certs.identifiers.mask_identifier does), so a full one never reaches the log."""
    def mask(match: re.Match[str]) -> str:
        if not _resident_id_checks(match):
            return match.group(0)
        whole = match.group(0)
        return whole[:6] + "*" * 8 + whole[14:]

    return _RESIDENT_ID.sub(mask, text)


def _is_secret_key(key: str) -> bool:
    lowered = key.lower()
    parts = set(re.split(r"[_\-\s.]+", lowered)) | {lowered.replace("_", "").replace("-", "")}
    return lowered in _SECRET_KEYS or bool(parts & _SECRET_KEY_PARTS)


def scrub(value: Any, key: str | None = None) -> Any:
    """Details as recorded: secret-named keys redacted, resident identity numbers masked."""
    if key is not None and _is_secret_key(key):
        return "[redacted]"
    if isinstance(value, dict):
        return {str(k): scrub(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [scrub(v) for v in value]
    if isinstance(value, str):
        return mask_resident_ids(value)
    if value is None or isinstance(value, bool | int | float):
        return value
    raise TypeError(f"details: {type(value).__name__} is not a JSON value")


def _text(name: str, value: str | None, *, required: bool) -> str | None:
    if value is None:
        if required:
            raise ValueError(f"{name}: required")
        return None
    if not isinstance(value, str):
        raise TypeError(f"{name}: must be text")
    value = value.strip()
    if not value and required:
        raise ValueError(f"{name}: must not be blank")
    return value[:MAX_TEXT] or None


def entry_hash(*, sequence: int, at: dt.datetime, actor: str, action: str,
               subject: str | None, source: str | None, details: str, prev_hash: str) -> str:
    """SHA-256 (hex) over the canonical JSON of every field and the previous hash."""
    payload = canonical_json({
        "sequence": sequence, "at": _at_text(at), "actor": actor, "action": action,
        "subject": subject, "source": source, "details": details, "prev_hash": prev_hash,
    })
    return hashlib.sha256(_ENTRY_DOMAIN + payload.encode("utf-8")).hexdigest()


def _at_text(at: dt.datetime) -> str:
    if at.tzinfo is None:
        raise ValueError("at: naive datetime")
    return at.astimezone(dt.UTC).isoformat(timespec="microseconds")


def hash_of(entry: AuditEntry, *, sequence: int | None = None) -> str:
    """The hash ``entry`` should carry (at ``sequence`` if given: where it was written)."""
    return entry_hash(sequence=entry.sequence if sequence is None else sequence, at=entry.at,
                      actor=entry.actor, action=entry.action, subject=entry.subject,
                      source=entry.source, details=entry.details, prev_hash=entry.prev_hash)


# -- appending ----------------------------------------------------------------------------
_HEAD = AuditChainHead.__table__  # type: ignore[attr-defined]


def _lock_head(session: Session) -> tuple[int, str]:
    """Lock the chain head (a write to it, before reading it) and return (sequence, hash)
    of the newest entry; (0, genesis) for an empty log."""
    moved = session.execute(update(_HEAD).where(_HEAD.c.id == HEAD_ID)
                            .values(sequence=_HEAD.c.sequence))
    if moved.rowcount == 0:
        # The first entry ever (init): creating the row is the lock. Two first appends at
        # once end in one IntegrityError, never in two chains.
        session.execute(insert(_HEAD).values(id=HEAD_ID, sequence=0, entry_hash=GENESIS_HASH))
    row = session.execute(select(_HEAD.c.sequence, _HEAD.c.entry_hash)
                          .where(_HEAD.c.id == HEAD_ID).with_for_update()).one()
    return row.sequence, row.entry_hash


def append_entry(session: Session, action: str, *, subject: str | None = None,
                 details: dict[str, Any] | None = None, actor: str | None = None,
                 source: str | None = None, now: dt.datetime | None = None) -> AuditEntry:
    """Add an entry to the chain in the caller's transaction (flushed, not committed)."""
    if action not in ACTIONS:
        raise ValueError(f"action: {action!r} is not a known audit action code")
    origin = current_origin()
    actor = _text("actor", actor or origin.actor, required=True)
    source = _text("source", source or origin.source, required=False)
    subject = _text("subject", subject, required=False)
    subject = mask_resident_ids(subject) if subject else None
    if details is not None and not isinstance(details, dict):
        raise TypeError("details: must be a JSON object (dict)")
    details_text = canonical_json(scrub(details or {}))
    if len(details_text.encode("utf-8")) > MAX_DETAILS_BYTES:
        raise ValueError(f"details: at most {MAX_DETAILS_BYTES} bytes of JSON")
    if now is not None and now.tzinfo is None:
        raise ValueError("now: naive datetime")

    head_sequence, prev_hash = _lock_head(session)
    # Read the clock under the lock, so that times never go back along the chain.
    at = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    sequence = head_sequence + 1
    entry = AuditEntry(sequence=sequence, at=at, actor=actor, action=action, subject=subject,
                       source=source, details=details_text, prev_hash=prev_hash, entry_hash="")
    entry.entry_hash = hash_of(entry)
    session.add(entry)
    session.execute(update(_HEAD).where(_HEAD.c.id == HEAD_ID)
                    .values(sequence=sequence, entry_hash=entry.entry_hash))
    session.flush()
    return entry


def qualified_actor(actor: str | None, default: str) -> str:
    """``department:X`` stays; a bare name (the CLI's "cli") becomes ``operator:<name>``."""
    if not actor:
        return default
    return actor if ":" in actor else f"operator:{actor}"


# -- checkpoints ----------------------------------------------------------------------------
def checkpoint_imprint(head_hash: str) -> bytes:
    """What the TSA time-stamps: SHA-256 of the head hash (its 32 raw bytes)."""
    return hashlib.sha256(bytes.fromhex(head_hash)).digest()


def seal_checkpoint(session: Session, timestamp: Callable[[bytes], bytes], *,
                    now: dt.datetime | None = None) -> AuditCheckpoint:
    """Time-stamp the current head hash (``timestamp``: DER TimeStampReq in, DER
    TimeStampResp out, e.g. ``TimeStampAuthority.respond``), store it and record the
    checkpoint itself as an entry (so a deleted checkpoint row is noticed)."""
    sequence, head_hash = _lock_head(session)
    if sequence == 0:
        raise AuditError("the audit log is empty: nothing to checkpoint")
    nonce = secrets.randbits(63)
    request = tsp.TimeStampReq({
        "version": "v1",
        "message_imprint": {"hash_algorithm": {"algorithm": "sha256"},
                            "hashed_message": checkpoint_imprint(head_hash)},
        "nonce": nonce, "cert_req": True,
    })
    response = timestamp(request.dump())
    try:
        token = _token_facts(response)
    except (ValueError, KeyError, TypeError) as exc:
        raise AuditError(f"the time-stamp authority refused the checkpoint: {exc}") from exc
    if token.imprint != checkpoint_imprint(head_hash) or token.nonce != nonce:
        raise AuditError("the time-stamp answers another request (imprint or nonce)")
    row = AuditCheckpoint(sequence=sequence, head_hash=head_hash, token=response,
                          created_at=(now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC))
    session.add(row)
    session.flush()
    append_entry(session, "audit.checkpointed", subject=f"checkpoint:{row.id}",
                 details={"sequence": sequence, "head_hash": head_hash,
                          "token_sha256": hashlib.sha256(response).hexdigest(),
                          "time": token.gen_time.isoformat()})
    return row


@dataclass(frozen=True)
class _TokenFacts:
    imprint: bytes
    nonce: int | None
    gen_time: dt.datetime
    signed_data: cms.SignedData
    tst_info_der: bytes


def _token_facts(response_der: bytes) -> _TokenFacts:
    response = tsp.TimeStampResp.load(response_der)
    status = response["status"]["status"].native
    if status not in ("granted", "granted_with_mods"):
        texts = response["status"]["status_string"].native or []
        raise ValueError(f"status {status}: {'; '.join(texts)}")
    content_info = response["time_stamp_token"]
    if content_info["content_type"].native != "signed_data":
        raise ValueError("token is not CMS SignedData")
    signed_data = content_info["content"]
    encap = signed_data["encap_content_info"]
    if encap["content_type"].native != "tst_info":
        raise ValueError("token does not hold a TSTInfo")
    tst_info_der = encap["content"].contents
    tst_info = tsp.TSTInfo.load(tst_info_der)
    imprint = tst_info["message_imprint"]
    if imprint["hash_algorithm"]["algorithm"].native != "sha256":
        raise ValueError("token's imprint is not SHA-256")
    return _TokenFacts(imprint=imprint["hashed_message"].native,
                       nonce=tst_info["nonce"].native, gen_time=tst_info["gen_time"].native,
                       signed_data=signed_data, tst_info_der=tst_info_der)


def check_time_stamp(response_der: bytes, imprint: bytes, tsa_certificate: x509.Certificate
                     ) -> tuple[dt.datetime | None, str | None]:
    """(genTime, None) when the token is signed by ``tsa_certificate`` over ``imprint``;
    (genTime or None, why not) otherwise. The chain is checked by the caller, once."""
    try:
        token = _token_facts(response_der)
    except (ValueError, KeyError, TypeError) as exc:
        return None, f"time-stamp unreadable: {exc}"
    if token.imprint != imprint:
        return token.gen_time, "time-stamp covers another head hash"
    infos = token.signed_data["signer_infos"]
    if len(infos) != 1:
        return token.gen_time, "time-stamp must have exactly one signer"
    info = infos[0]
    sid = info["sid"]
    if (sid.name != "issuer_and_serial_number"
            or sid.chosen["serial_number"].native != tsa_certificate.serial_number):
        return token.gen_time, "time-stamp not signed by this domain's TSA certificate"
    attrs = {a["type"].native: a["values"][0] for a in info["signed_attrs"]}
    digest_name = info["digest_algorithm"]["algorithm"].native
    if digest_name not in ("sha256", "sha384", "sha512"):
        return token.gen_time, f"time-stamp digest {digest_name} not accepted"
    if attrs.get("content_type") is None or attrs["content_type"].native != "tst_info":
        return token.gen_time, "time-stamp signed attributes lack content type tst_info"
    if (attrs.get("message_digest") is None or attrs["message_digest"].native
            != hashlib.new(digest_name, token.tst_info_der).digest()):
        return token.gen_time, "time-stamp message digest does not match its TSTInfo"
    certificate_der = tsa_certificate.public_bytes(serialization.Encoding.DER)
    signing_certificate = attrs.get("signing_certificate_v2")
    if (signing_certificate is None or signing_certificate["certs"][0]["cert_hash"].native
            != hashlib.sha256(certificate_der).digest()):
        return token.gen_time, "time-stamp names another signing certificate"
    signed = info["signed_attrs"].dump()
    signed = b"\x31" + signed[1:]  # signed as a SET OF, stored as [0] IMPLICIT
    try:
        _verify_signature(tsa_certificate, info["signature"].native, signed,
                          info["signature_algorithm"].hash_algo)
    except InvalidSignature:
        return token.gen_time, "time-stamp signature is not valid"
    if not (tsa_certificate.not_valid_before_utc <= token.gen_time
            <= tsa_certificate.not_valid_after_utc):
        return token.gen_time, "time-stamp made outside the TSA certificate's validity"
    return token.gen_time, None


def _verify_signature(certificate: x509.Certificate, signature: bytes, data: bytes,
                      hash_name: str) -> None:
    algorithm = {"sha256": hashes.SHA256(), "sha384": hashes.SHA384(),
                 "sha512": hashes.SHA512()}.get(hash_name)
    if algorithm is None:
        raise InvalidSignature(hash_name)
    key = certificate.public_key()
    if isinstance(key, ec.EllipticCurvePublicKey):
        key.verify(signature, data, ec.ECDSA(algorithm))
    elif isinstance(key, rsa.RSAPublicKey):
        key.verify(signature, data, padding.PKCS1v15(), algorithm)
    else:
        raise InvalidSignature(type(key).__name__)


def check_tsa_chain(chain: Sequence[x509.Certificate]) -> str | None:
    """None when each certificate was issued by the next and the last is self-signed."""
    try:
        for certificate, issuer in zip(chain, [*chain[1:], chain[-1]], strict=True):
            certificate.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature) as exc:
        return f"TSA certificate chain does not verify to the root: {exc or type(exc).__name__}"
    return None


# -- verification ---------------------------------------------------------------------------
@dataclass(frozen=True)
class AuditProblem:
    sequence: int | None  # the first entry concerned (None: not tied to an entry)
    kind: str  # edited | removed | reordered | inserted | checkpoint | trust
    message: str

    def to_json(self) -> dict:
        return {"sequence": self.sequence, "kind": self.kind, "message": self.message}


@dataclass(frozen=True)
class AuditVerification:
    entries: int
    head_sequence: int  # what the chain-head row claims
    checkpoints: int
    last_checkpoint: int | None  # the sequence the newest checkpoint covers
    problems: tuple[AuditProblem, ...]

    @property
    def intact(self) -> bool:
        return not self.problems

    @property
    def first_problem(self) -> AuditProblem | None:
        return self.problems[0] if self.problems else None

    def to_json(self) -> dict:
        first = self.first_problem
        return {"intact": self.intact, "entries": self.entries,
                "head_sequence": self.head_sequence, "checkpoints": self.checkpoints,
                "last_checkpoint_sequence": self.last_checkpoint,
                "first_problem": first.to_json() if first else None,
                "problems": [p.to_json() for p in self.problems]}


REORDER_WINDOW = 64  # how far from its place a moved entry is looked for


def _written_at(entry: AuditEntry, last: int) -> int | None:
    """The sequence this entry's stored hash was computed for, if not its own (moved)."""
    low, high = max(1, entry.sequence - REORDER_WINDOW), min(last, entry.sequence + REORDER_WINDOW)
    for candidate in range(low, high + 1):
        if candidate != entry.sequence and hash_of(entry, sequence=candidate) == entry.entry_hash:
            return candidate
    return None


def _broken_link(seq: int) -> AuditProblem:
    if seq == 1:
        return AuditProblem(1, "inserted", "entry 1 does not start the chain")
    return AuditProblem(seq - 1, "edited", f"entry {seq} is not chained to the entry now at "
                        f"{seq - 1}: entry {seq - 1} was rewritten with a recomputed hash, "
                        "or replaced")


def _moved_problems(moved: list[tuple[int, int]], valid_at: set[int]) -> list[AuditProblem]:
    """Name what moved entries tell: a swap, an entry removed or one inserted (the rest
    renumbered)."""
    written = valid_at | {origin for _, origin in moved}
    problems = []
    for seq, origin in moved:
        if origin > seq and seq not in written:
            kind, text = "removed", (f"entry {seq} as written is missing: the entry now at "
                                     f"{seq} was written as {origin} (later entries renumbered)")
        elif origin < seq and origin in valid_at:
            kind, text = "inserted", (f"entry {origin} was inserted: the entry written as "
                                      f"{origin} now sits at {seq} (entries renumbered)")
            seq = origin
        else:
            kind, text = "reordered", f"entry {seq} was written as entry {origin}: reordered"
        problems.append(AuditProblem(seq, kind, text))
    return problems


def verify_audit_log(session: Session, tsa_chain: Sequence[x509.Certificate]
                     ) -> AuditVerification:
    """Recompute the whole chain and check every checkpoint's time-stamp.

    ``tsa_chain``: the TSA certificate, then its issuing CA, then the root. Problems come
    in chain order; the first names the first entry that is not as it was written."""
    problems: list[AuditProblem] = []
    head = session.execute(select(_HEAD.c.sequence, _HEAD.c.entry_hash)
                           .where(_HEAD.c.id == HEAD_ID)).one_or_none()
    head_sequence, head_hash = (head.sequence, head.entry_hash) if head else (0, GENESIS_HASH)
    last_sequence = max(head_sequence, session.execute(
        select(AuditEntry.sequence).order_by(AuditEntry.sequence.desc()).limit(1)  # type: ignore[attr-defined]
    ).scalar() or 0)

    stored: dict[int, str] = {}  # sequence -> stored entry hash
    valid_at: set[int] = set()  # entries whose hash recomputes at their own place
    moved: list[tuple[int, int]] = []  # (where an entry is, where it was written)
    checkpoint_entries: dict[str, AuditEntry] = {}
    expected, prev_hash, count = 1, GENESIS_HASH, 0
    for entry in session.exec(select(AuditEntry).order_by(AuditEntry.sequence)).scalars():  # type: ignore[attr-defined, call-overload]
        count += 1
        seq = entry.sequence
        if seq > expected:
            gap = f"{expected}" if seq == expected + 1 else f"{expected}..{seq - 1}"
            problems.append(AuditProblem(expected, "removed", f"entries {gap} are missing"))
        if hash_of(entry) != entry.entry_hash:
            moved_from = _written_at(entry, last_sequence)
            if moved_from is not None:
                moved.append((seq, moved_from))
            else:
                problems.append(AuditProblem(seq, "edited", f"entry {seq} ({entry.action}) "
                                             "does not match its hash: its content was edited"))
        else:
            valid_at.add(seq)
            if entry.prev_hash != prev_hash and seq == expected and (seq - 1 in valid_at
                                                                     or seq == 1):
                problems.append(_broken_link(seq))
        stored[seq] = entry.entry_hash
        if entry.action == "audit.checkpointed" and entry.subject:
            checkpoint_entries[entry.subject] = entry
        expected, prev_hash = seq + 1, entry.entry_hash

    problems.extend(_moved_problems(moved, valid_at))
    if head_sequence > expected - 1:
        gap = f"{expected}" if head_sequence == expected else f"{expected}..{head_sequence}"
        problems.append(AuditProblem(expected, "removed", f"the newest entries {gap} are "
                                     f"missing (the chain head names entry {head_sequence})"))
    elif head and (head_sequence < expected - 1 or head_hash != prev_hash):
        problems.append(AuditProblem(
            min(head_sequence + 1, expected - 1), "edited" if head_sequence == expected - 1
            else "inserted", f"the chain head (entry {head_sequence}) does not name the newest "
            f"entry {expected - 1} as written"))

    checkpoints = list(session.exec(select(AuditCheckpoint).order_by(AuditCheckpoint.id)  # type: ignore[arg-type, call-overload]
                                    ).scalars())
    chain_problem = check_tsa_chain(tsa_chain) if checkpoints else None
    if chain_problem:
        problems.append(AuditProblem(None, "trust", chain_problem))
    last_good = 0
    for cp in checkpoints:
        where = f"checkpoint {cp.id} (entry {cp.sequence})"
        gen_time, why = check_time_stamp(cp.token, checkpoint_imprint(cp.head_hash),
                                         tsa_chain[0])
        if why is not None:
            problems.append(AuditProblem(cp.sequence, "checkpoint", f"{where}: {why}"))
            continue
        stamped = f" time-stamped {gen_time.isoformat()}" if gen_time else ""
        if cp.sequence not in stored:
            problems.append(AuditProblem(cp.sequence, "removed", f"{where}{stamped}: entry "
                                         f"{cp.sequence} is missing"))
        elif stored[cp.sequence] != cp.head_hash:
            # Alone, the checkpoint bounds the rewrite to the entries since the last good
            # one; after a problem the chain already names, it is only its consequence.
            explained = any(p.sequence is not None and p.sequence <= cp.sequence
                            for p in problems)
            problems.append(AuditProblem(
                cp.sequence if explained else last_good + 1, "edited",
                f"{where}{stamped}: the chain up to entry "
                f"{cp.sequence} is not the one time-stamped; entries {last_good + 1}.."
                f"{cp.sequence} were rewritten (hashes recomputed) after the checkpoint"))
        else:
            last_good = max(last_good, cp.sequence)
        recorded = checkpoint_entries.pop(f"checkpoint:{cp.id}", None)
        if recorded is None:
            problems.append(AuditProblem(cp.sequence + 1, "removed", f"{where}: the entry "
                                         "that recorded it is missing"))
        if recorded is not None and json.loads(recorded.details).get("token_sha256") != (
                hashlib.sha256(cp.token).hexdigest()):
            problems.append(AuditProblem(recorded.sequence, "checkpoint",
                                         f"{where}: its token is not the one entry "
                                         f"{recorded.sequence} recorded"))
    for subject, recorded in checkpoint_entries.items():
        problems.append(AuditProblem(recorded.sequence, "checkpoint",
                                     f"{subject} recorded at entry {recorded.sequence} is "
                                     "missing: a checkpoint was deleted"))
    problems.sort(key=lambda p: (p.sequence is None, p.sequence or 0))
    return AuditVerification(entries=count, head_sequence=head_sequence,
                             checkpoints=len(checkpoints),
                             last_checkpoint=max((c.sequence for c in checkpoints), default=None),
                             problems=tuple(problems))


def recent_entries(session: Session, limit: int = 20) -> list[AuditEntry]:
    """The newest ``limit`` entries, oldest first."""
    if limit <= 0:
        raise ValueError("limit: must be positive")
    rows = session.exec(select(AuditEntry).order_by(AuditEntry.sequence.desc())  # type: ignore[attr-defined, call-overload]
                        .limit(limit)).scalars()
    return sorted(rows, key=lambda e: e.sequence)


def entry_json(entry: AuditEntry) -> dict:
    return {"sequence": entry.sequence, "at": _at_text(entry.at), "actor": entry.actor,
            "action": entry.action, "subject": entry.subject, "source": entry.source,
            "details": json.loads(entry.details), "prev_hash": entry.prev_hash,
            "entry_hash": entry.entry_hash}
