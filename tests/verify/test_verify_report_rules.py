"""The verdict rules of verify/report.py: any failed check makes `invalid`; else any
undecided check, or any required check missing, makes `indeterminate` (a code path that
forgets a check can never give `valid`); `valid` needs every required check present and at
least one of them passed."""

from __future__ import annotations

import dataclasses
import datetime as dt

import checks_kit as kit
import pytest

from verify.report import (
    REQUIRED_CHECKS,
    InputKind,
    VerificationReport,
    failed,
    not_applicable,
    passed,
    undecided,
)

NOW = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)


def report_of(kind: InputKind, *checks) -> VerificationReport:
    return VerificationReport(kind=kind, checks=tuple(checks), verified_at=NOW, offline=True)


def all_passed(kind: InputKind, *, but=()) -> list:
    return [passed(code, "", "") for code in sorted(REQUIRED_CHECKS[kind]) if code not in but]


@pytest.mark.parametrize("kind", list(InputKind))
def test_every_required_check_passed_is_valid(kind):
    report = report_of(kind, *all_passed(kind))
    assert report.verdict == "valid"
    assert report.missing_checks == frozenset()
    assert report.to_json()["missing_checks"] == []


@pytest.mark.parametrize(("kind", "missing"), [
    (kind, code) for kind in InputKind for code in sorted(REQUIRED_CHECKS[kind])])
def test_one_required_check_missing_is_indeterminate(kind, missing):
    report = report_of(kind, *all_passed(kind, but={missing}))
    assert report.verdict == "indeterminate"
    assert report.missing_checks == {missing}
    assert report.to_json()["missing_checks"] == [missing]
    assert report.to_json()["verdict"] == "indeterminate"


def test_the_required_sets_are_what_each_kind_must_show():
    """Pinned: removing a code from a required set lets a path that forgets it be valid."""
    assert REQUIRED_CHECKS[InputKind.PDF] == {
        "signature.layout", "document.parsers_agree", "signature.count",
        "signature.integrity", "signature.coverage", "signature.modifications",
        "chain.trusted", "chain.trust_list",
        "certificate.key_usage", "timestamp.signature", "revocation.at_signing",
        "revocation.now", "licence.data_matches", "qr.signature", "qr.matches_document",
        "licence.validity", "licence.status"}
    assert REQUIRED_CHECKS[InputKind.QR] == {
        "qr.signer_known", "chain.trusted", "chain.trust_list", "qr.signature",
        "qr.issuer_matches", "certificate.validity", "revocation.now", "licence.validity",
        "licence.status"}


@pytest.mark.parametrize("kind", list(InputKind))
def test_a_failed_check_is_invalid_whatever_else(kind):
    checks = all_passed(kind, but={"revocation.now"})
    checks.append(failed("revocation.now", "", ""))
    checks.append(undecided("licence.status", "", ""))
    assert report_of(kind, *checks).verdict == "invalid"
    # also when it is not a required one, and when required checks are missing
    assert report_of(kind, *all_passed(kind), failed("chain.trust_list_current", "", "")
                     ).verdict == "invalid"
    assert report_of(kind, failed("signature.integrity", "", "")).verdict == "invalid"


@pytest.mark.parametrize("kind", list(InputKind))
def test_an_undecided_check_is_indeterminate(kind):
    report = report_of(kind, *all_passed(kind), undecided("chain.trust_list_current", "", ""))
    assert report.verdict == "indeterminate"


@pytest.mark.parametrize("kind", list(InputKind))
def test_not_applicable_counts_as_present(kind):
    checks = all_passed(kind, but={"licence.status"})
    checks.append(not_applicable("licence.status", "", ""))
    assert report_of(kind, *checks).verdict == "valid"


@pytest.mark.parametrize("kind", list(InputKind))
def test_nothing_passed_is_never_valid(kind):
    """Every required check present but none passed (all not applicable): not valid."""
    checks = [not_applicable(code, "", "") for code in sorted(REQUIRED_CHECKS[kind])]
    assert report_of(kind, *checks).verdict == "indeterminate"
    # one passed among them is enough for the rule
    checks[0] = passed(checks[0].code, "", "")
    assert report_of(kind, *checks).verdict == "valid"


def test_a_passed_check_outside_the_required_set_does_not_make_it_valid():
    checks = [not_applicable(code, "", "") for code in sorted(REQUIRED_CHECKS[InputKind.QR])]
    checks.append(passed("chain.trust_list_current", "", ""))
    assert report_of(InputKind.QR, *checks).verdict == "indeterminate"


def test_a_real_report_that_lost_one_check_is_indeterminate(trust_domain):
    """The genuine QR's real report, valid; the same report without any one of its
    required checks is indeterminate."""
    bench = kit.make_bench(trust_domain)
    report = kit.verify(kit.qr_text_of(trust_domain.licences["yyzz"].pdf), bench.context())
    assert report.verdict == "valid"
    for code in sorted(REQUIRED_CHECKS[InputKind.QR]):
        lost = dataclasses.replace(report, checks=tuple(
            c for c in report.checks if c.code != code))
        assert lost.verdict == "indeterminate", code
