"""A licence sealed before text hygiene existed may carry characters a reader cannot see:
its report (JSON, what the API, the CLI and the counter page show) writes them out and
names the fields, so a right-to-left override cannot reverse a name on the page and two
names that look the same cannot pass for one. The library's report keeps the raw value."""

from __future__ import annotations

import checks_kit as kit

VALID = ("valid", set(), set())


def test_a_name_with_a_right_to_left_override_is_shown_written_out(bench, genuine):
    # What the department's own key signed long ago, before hygiene refused it.
    old = bench.sign_qr(genuine, holder_name="福州\u202e司公限有", issuer_name="福州\u200b局")
    report = kit.verify(old, bench.context())
    assert kit.judged(report) == VALID  # it is what the department sealed
    assert report.licence["holder_name"] == "福州\u202e司公限有"
    shown = report.to_json()["licence"]
    assert shown["holder_name"] == "福州\\u202e司公限有"
    assert shown["issuer_name"] == "福州\\u200b局"
    assert shown["hidden_characters"] == ["holder_name", "issuer_name"]


def test_clean_text_is_shown_as_it_is(bench, genuine):
    report = kit.verify(genuine, bench.context())
    shown = report.to_json()["licence"]
    assert shown["holder_name"] == report.licence["holder_name"]
    assert "hidden_characters" not in shown


def test_a_pdf_report_shows_every_field_as_sealed(trust_domain):
    """Every field of the licence data (法定代表人, 住所, 经营范围, ...) for the clerk to
    compare with the paper, as the signed revision holds it."""
    import asyncio

    from certs.document import extract_licence_data
    from certseal.verifying import Verifier, trust_source
    from verify.inputs import verify_bytes

    pdf = trust_domain.licences["yyzz"].pdf
    counter = Verifier([trust_source(trust_domain.published)])
    report = asyncio.run(verify_bytes(pdf, counter.context(offline=True)))
    data = extract_licence_data(pdf)["data"]
    shown = report.to_json()["licence"]
    assert shown["data"] == data
    assert {"法定代表人", "住所", "经营范围"} <= set(shown["data"])
    assert "hidden_characters" not in shown


def test_hidden_characters_in_nested_data_are_named_by_their_path():
    import datetime as dt

    from verify.report import InputKind, VerificationReport

    report = VerificationReport(kind=InputKind.PDF, checks=(), verified_at=dt.datetime.now(dt.UTC),
                                offline=True, licence={"licence_id": "X", "data": {
                                    "名称": "福州\u202e司公", "营业期限": {"起": "2026\u200b"}}})
    shown = report.to_json()["licence"]
    assert shown["data"] == {"名称": "福州\\u202e司公", "营业期限": {"起": "2026\\u200b"}}
    assert shown["hidden_characters"] == ["data.名称", "data.营业期限.起"]


def test_a_persons_identity_number_is_masked_in_the_fields(trust_domain):
    import asyncio

    from certs.document import extract_licence_data
    from certseal.verifying import Verifier, trust_source
    from verify.inputs import verify_bytes

    pdf = trust_domain.licences["zyzgzs"].pdf
    counter = Verifier([trust_source(trust_domain.published)])
    report = asyncio.run(verify_bytes(pdf, counter.context(offline=True)))
    number = extract_licence_data(pdf)["data"]["公民身份号码"]
    shown = report.to_json()["licence"]["data"]["公民身份号码"]
    assert shown == number[:6] + "*" * 8 + number[-4:]
    assert number not in str(report.to_json())
