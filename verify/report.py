"""The one verification report the CLI, the API and the web page show.

Facts per check, each with a stable code and a message in Chinese and English; the verdict
is derived, never stored (pyHanko's ``status.py`` habit), after ETSI EN 319 102-1:

- ``invalid`` when any check failed: tampering, a forged or untrusted signature, revoked;
- ``indeterminate`` when nothing failed but something could not be decided (status
  unreachable offline, a trust list out of date);
- ``valid`` only when every check the input kind requires is present and passed.

A required check that is missing makes the verdict indeterminate: a code path that forgets
a check can never produce ``valid`` (deny by default).
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass, field
from typing import Any

from certs.text import visible


class Outcome(enum.StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    INDETERMINATE = "indeterminate"
    NOT_APPLICABLE = "not_applicable"


class Verdict(enum.StrEnum):
    VALID = "valid"
    INVALID = "invalid"
    INDETERMINATE = "indeterminate"


class InputKind(enum.StrEnum):
    PDF = "pdf"
    QR = "qr"


# What each kind of input must have passed (or found not applicable) to be valid.
REQUIRED_CHECKS: dict[InputKind, frozenset[str]] = {
    InputKind.PDF: frozenset({
        "signature.layout", "document.parsers_agree",
        "signature.count", "signature.integrity", "signature.coverage",
        "signature.modifications", "chain.trusted", "chain.trust_list",
        "certificate.key_usage", "timestamp.signature", "revocation.at_signing",
        "revocation.now", "licence.data_matches", "qr.signature", "qr.matches_document",
        "licence.validity", "licence.status",
    }),
    InputKind.QR: frozenset({
        "qr.signer_known", "chain.trusted", "chain.trust_list", "qr.signature", "qr.issuer_matches",
        "certificate.validity", "revocation.now", "licence.validity", "licence.status",
    }),
}


@dataclass(frozen=True)
class Check:
    code: str
    outcome: Outcome
    message_zh: str
    message_en: str
    details: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"code": self.code, "outcome": self.outcome.value, "message_zh": self.message_zh,
                "message_en": self.message_en, "details": _jsonable(self.details)}


def passed(code: str, zh: str, en: str, **details: Any) -> Check:
    return Check(code, Outcome.PASSED, zh, en, details)


def failed(code: str, zh: str, en: str, **details: Any) -> Check:
    return Check(code, Outcome.FAILED, zh, en, details)


def undecided(code: str, zh: str, en: str, **details: Any) -> Check:
    return Check(code, Outcome.INDETERMINATE, zh, en, details)


def not_applicable(code: str, zh: str, en: str, **details: Any) -> Check:
    return Check(code, Outcome.NOT_APPLICABLE, zh, en, details)


@dataclass(frozen=True)
class SignerFacts:
    department_name: str | None
    uscc: str | None
    certificate_subject: str
    certificate_sha256: str
    certificate_serial: str

    def to_json(self) -> dict[str, Any]:
        return _made_visible(dict(self.__dict__))[0]


@dataclass(frozen=True)
class TrustFacts:
    """The region and trust list a signature chained through."""

    region_code: str
    region_name: str
    trust_list_sequence: int
    trust_list_issued_at: dt.datetime
    trust_list_next_update: dt.datetime
    issuing_ca: str

    def to_json(self) -> dict[str, Any]:
        return _jsonable(dict(self.__dict__))


@dataclass(frozen=True, repr=False)
class VerificationReport:
    kind: InputKind
    checks: tuple[Check, ...]
    verified_at: dt.datetime
    offline: bool
    licence: dict[str, Any] | None = None  # what to show the clerk, as the licence shows it
    signer: SignerFacts | None = None
    trust: TrustFacts | None = None
    signing_time: dt.datetime | None = None  # from the signature time-stamp (PDF)

    def check(self, code: str) -> Check | None:
        return next((c for c in self.checks if c.code == code), None)

    def __repr__(self) -> str:
        # Short on purpose: asyncio.run formats its finished main task (and so this result)
        # twice when it restores the SIGINT handler; the full field dump cost ~0.1 ms a check.
        return (f"<VerificationReport {self.kind.value} {self.verdict.value} "
                f"{len(self.checks)} checks>")

    @property
    def missing_checks(self) -> frozenset[str]:
        return REQUIRED_CHECKS[self.kind] - {c.code for c in self.checks}

    @property
    def verdict(self) -> Verdict:
        outcomes = {c.outcome for c in self.checks}
        if Outcome.FAILED in outcomes:
            return Verdict.INVALID
        if Outcome.INDETERMINATE in outcomes or self.missing_checks:
            return Verdict.INDETERMINATE
        required = REQUIRED_CHECKS[self.kind]
        if not any(c.outcome is Outcome.PASSED for c in self.checks if c.code in required):
            return Verdict.INDETERMINATE
        return Verdict.VALID

    def to_json(self) -> dict[str, Any]:
        verdict = self.verdict
        return {
            "verdict": verdict.value,
            "kind": self.kind.value,
            "verified_at": _jsonable(self.verified_at),
            "offline": self.offline,
            "signing_time": _jsonable(self.signing_time),
            "signer": self.signer.to_json() if self.signer else None,
            "trust": self.trust.to_json() if self.trust else None,
            "licence": _licence_json(self.licence),
            "checks": [c.to_json() for c in self.checks],
            "missing_checks": sorted(self.missing_checks),
        }


def _licence_json(licence: dict[str, Any] | None) -> dict[str, Any] | None:
    """The licence as shown: a licence sealed before text hygiene may hold characters a
    reader cannot see (a right-to-left override reverses a name on the page); they are
    written out as ``\\u202e`` and the fields holding them are listed."""
    if licence is None:
        return None
    shown, hidden = _made_visible(_jsonable(licence))
    if hidden:
        shown["hidden_characters"] = hidden
    return shown


def _made_visible(values: dict[str, Any], prefix: str = ""
                  ) -> tuple[dict[str, Any], list[str]]:
    out, hidden = {}, []
    for key, value in values.items():
        if isinstance(value, str) and (seen := visible(value)) != value:
            out[key] = seen
            hidden.append(prefix + key)
        elif isinstance(value, dict):
            out[key], inner = _made_visible(value, f"{prefix}{key}.")
            hidden += inner
        else:
            out[key] = value
    return out, hidden


def _jsonable(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value
