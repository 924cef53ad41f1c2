"""Property tests (hypothesis) on every parser of outside input: whatever arrives, each
either reads it or refuses it with its documented typed error — never another exception
— and nothing garbled (a flipped character of a genuine input) is accepted.

CI runs a short version (FUZZ_EXAMPLES examples a property); for a long run:
    HYPOTHESIS_PROFILE=long .venv/bin/pytest tests/security/test_fuzz_parsers.py
(HYPOTHESIS_EXAMPLES=N sets any other number.)
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import unicodedata
import zlib
from typing import ClassVar

import base45
import cbor2
import pytest
import security_kit as kit
from asn1crypto import cms, core, tsp
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509 import ocsp
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from api.errors import negotiate_language
from ca.trustlist import TrustList, TrustListError, read_trust_list, signer_of
from certs.canonical import json_depth_exceeds
from certs.errors import InvalidIdentifier, InvalidLicenceData, QrPayloadError
from certs.identifiers import validate_resident_id, validate_uscc
from certs.licence_id import parse_licence_id
from certs.qr import PREFIX, QrClaims, decode_qr_payload, encode_qr_payload, verify_qr_signature
from certs.rules import LANGUAGES, RULES
from certs.samples import sample_licence_data
from certs.status_list import StatusListInvalid, read_status_list
from certs.text import is_refused, normalise_identifier
from certs.validation import validate_licence_data

PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "ci")
FUZZ_EXAMPLES = int(os.environ.get("HYPOTHESIS_EXAMPLES", 3000 if PROFILE == "long" else 60))
fuzz = settings(max_examples=FUZZ_EXAMPLES, deadline=None, derandomize=PROFILE != "long",
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner,
                                                                 max_size=5),
    max_leaves=20)
cbor_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
    | st.binary(max_size=70),
    lambda inner: st.lists(inner, max_size=5)
    | st.dictionaries(st.integers(-10, 20) | st.text(max_size=4), inner, max_size=6)
    | st.builds(cbor2.CBORTag, st.sampled_from([0, 1, 18, 2, 55799]), inner),
    max_leaves=20)


def flip(text: str, position: int, replacement: str) -> str:
    return text[:position] + replacement + text[position + 1:]


# -- QR payloads --------------------------------------------------------------------------
def qr_text(raw: bytes) -> str:
    return PREFIX + base45.b45encode(zlib.compress(raw)).decode("ascii")


@pytest.fixture(scope="module")
def genuine_qr():
    key = ec.generate_private_key(ec.SECP256R1())
    claims = QrClaims(kid=b"\x01" * 8, licence_id="ZYZGZS-X", type_code="zyzgzs",
                      holder_name="王晓燕", holder_id_masked="3501**********0026",
                      valid_from=dt.date(2024, 5, 1), valid_until=None,
                      issuer_name="福州市人力资源和社会保障局", issuer_uscc=kit.DEPARTMENT_A_USCC,
                      issued_at=dt.datetime(2024, 5, 1, tzinfo=dt.UTC), data_digest=b"\x02" * 32,
                      verify_url="https://example.test/verify", status_index=7)
    return encode_qr_payload(claims, lambda data: key.sign(data, ec.ECDSA(hashes.SHA256()))), key


@fuzz
@given(st.text(max_size=300) | st.binary(max_size=300).map(qr_text)
       | cbor_values.map(lambda v: qr_text(cbor2.dumps(v)))
       | st.builds(lambda p, s: qr_text(cbor2.dumps(cbor2.CBORTag(18, [p, {}, p, s]))),
                   cbor_values.map(cbor2.dumps), st.binary(min_size=64, max_size=64)))
def test_qr_payload_decodes_or_is_refused(text):
    try:
        decode_qr_payload(text)
    except QrPayloadError:
        pass


@fuzz
@given(st.data())
def test_a_garbled_qr_payload_is_never_accepted(genuine_qr, data):
    text, key = genuine_qr
    position = data.draw(st.integers(len(PREFIX), len(text) - 2))
    garbled = flip(text, position, data.draw(st.sampled_from(
        "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:")))
    assume(garbled != text)
    try:
        decoded = decode_qr_payload(garbled)
    except QrPayloadError:
        return
    assert not verify_qr_signature(decoded, key.public_key())


# -- licence data -------------------------------------------------------------------------
@pytest.fixture(scope="module")
def catalogue(trust_domain):
    return trust_domain.domain.catalogue


def _told_in_every_language(exc: InvalidLicenceData) -> None:
    assert exc.problems and isinstance(exc.field, str) and exc.message
    for problem in exc.problems:
        assert problem.rule in RULES, problem
        for language in LANGUAGES:
            message = problem.to_json(language)["message"]
            assert message and not re.search(r"\{[a-z_]+\}", message), (problem, language)
            assert not any(is_refused(c) for c in problem.field + message), problem


@fuzz
@given(st.sampled_from(["yyzz", "spjyxkz", "zyzgzs"]), json_values)
def test_arbitrary_json_is_licence_data_or_refused_naming_a_field(catalogue, code, data):
    try:
        validate_licence_data(catalogue.get(code), data)
    except InvalidLicenceData as exc:
        _told_in_every_language(exc)


# Text as careless and hostile senders type it: control and format characters, odd
# spaces, combining marks, full-width forms, surrogates, private use.
odd_text = st.text(st.characters(codec=None, categories=None), max_size=40) | st.text(
    st.sampled_from("名称 \u3000\u00a0\u200b\u200d\u202e\u2066\ufeff\x00\x1b\n\t"
                    "e\u0301Å\u212b\ufe0f\u3164\ue000\ud800Ｘ０"), max_size=20)


@fuzz
@given(st.sampled_from(["yyzz", "spjyxkz", "zyzgzs"]), st.data())
def test_odd_text_in_a_field_is_normalised_or_refused_by_rule(catalogue, code, data):
    sample = sample_licence_data(code)
    field = data.draw(st.sampled_from(sorted(k for k, v in sample.items()
                                             if isinstance(v, str))))
    text = data.draw(odd_text)
    try:
        normalised = validate_licence_data(catalogue.get(code), sample | {field: text})
    except InvalidLicenceData as exc:
        _told_in_every_language(exc)
        return
    value = normalised[field]
    assert value == unicodedata.normalize("NFC", value) == value.strip()
    assert not any(is_refused(c) for c in value)


def _depth(value) -> int:
    if isinstance(value, list):
        return 1 + max((_depth(v) for v in value), default=0)
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    return 0


nested_json = st.recursive(json_values, lambda inner: st.lists(inner, max_size=3)
                           | st.dictionaries(st.text(max_size=5), inner, max_size=3),
                           max_leaves=60)


@fuzz
@given(nested_json, st.integers(0, 40), st.booleans())
def test_the_depth_bound_agrees_with_the_parser(value, limit, ascii_only):
    text = json.dumps(value, ensure_ascii=ascii_only)
    assert json_depth_exceeds(text, limit) == (_depth(value) > limit)
    assert json_depth_exceeds(text.encode("utf-8", "surrogatepass"), limit) == (
        _depth(value) > limit)


@fuzz
@given(st.text(st.sampled_from('[]{}"\\,:1a '), max_size=200), st.integers(0, 8))
def test_malformed_json_under_the_bound_never_recurses_past_it(text, limit):
    if json_depth_exceeds(text, limit):
        return
    deepest = depth = 0  # how deep a recursive parser could go before failing
    in_string = escaped = False
    for c in text:
        if in_string:
            escaped, in_string = (not escaped and c == "\\"), in_string and (escaped
                                                                           or c != '"')
            continue
        if c == '"':
            in_string = True
        elif c in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif c in "]}":
            depth -= 1
    assert deepest <= limit, (text, limit)


@fuzz
@given(st.text(max_size=80) | st.lists(st.sampled_from(
    ["zh", "zh-CN", "zh-TW", "zh-Hant", "en", "fr", "*", ";q=0.5", ";q=x", ",", " "]),
    max_size=12).map("".join))
def test_any_accept_language_picks_one_of_ours(header):
    assert negotiate_language(header) in LANGUAGES


@fuzz
@given(st.sampled_from(["yyzz", "spjyxkz", "zyzgzs"]), st.data())
def test_sample_data_with_one_field_replaced_is_valid_again_or_refused(catalogue, code, data):
    sample = sample_licence_data(code)
    field = data.draw(st.sampled_from(sorted(sample)))
    changed = sample | {field: data.draw(json_values)}
    try:
        normalised = validate_licence_data(catalogue.get(code), changed)
    except InvalidLicenceData:
        return
    assert validate_licence_data(catalogue.get(code), normalised) == normalised


# -- trust lists --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def genuine_trust_list(trust_domain):
    jws = trust_domain.domain.published_trust_list().decode("ascii").strip()
    return jws, signer_of(jws)


@fuzz
@given(json_values | st.builds(dict, st.just([("format", None)])))
def test_trust_list_json_reads_or_is_refused(document):
    try:
        TrustList.from_json(document)
    except TrustListError:
        pass


@fuzz
@given(st.data())
def test_trust_list_json_with_a_part_replaced_reads_or_is_refused(genuine_trust_list, data):
    document = read_trust_list(genuine_trust_list[0], genuine_trust_list[1]).trust_list.to_json()
    path = data.draw(st.sampled_from(["format", "sequence_number", "issued_at", "next_update",
                                      "scheme_operator", "services", "extensions",
                                      "services.0", "services.0.certificate",
                                      "services.0.status_history",
                                      "services.0.service_type"]))
    target, *rest = path.split(".")
    value = data.draw(json_values | st.floats(allow_nan=True, allow_infinity=True))
    if not rest:
        document[target] = value
    elif rest == ["0"]:
        document[target][0] = value
    else:
        document[target][0][rest[1]] = value
    try:
        TrustList.from_json(document)
    except TrustListError:
        pass


@fuzz
@given(st.text(max_size=200) | st.binary(max_size=200))
def test_a_trust_list_of_anything_is_refused(genuine_trust_list, jws):
    with pytest.raises(TrustListError):
        read_trust_list(jws, genuine_trust_list[1])


@fuzz
@given(st.data())
def test_a_garbled_trust_list_is_never_accepted(genuine_trust_list, data):
    jws, signer = genuine_trust_list
    # Not a segment's last character: its spare low bits may decode to the same bytes.
    ends = {i - 1 for i, c in enumerate(jws) if c == "."} | {len(jws) - 1}
    position = data.draw(st.integers(0, len(jws) - 1).filter(
        lambda i: i not in ends and jws[i] != "."))
    garbled = flip(jws, position, data.draw(st.sampled_from(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")))
    assume(garbled != jws)
    with pytest.raises(TrustListError):
        read_trust_list(garbled, signer)


# -- status lists -------------------------------------------------------------------------
@pytest.fixture(scope="module")
def genuine_status_list(trust_domain):
    from certseal import status as flows

    domain = trust_domain.domain
    signed = flows.current_status_list(domain, trust_domain.department_id)
    issuing = x509.load_der_x509_certificate(domain.published_certificate_der("issuing"))
    return signed.jwt if isinstance(signed.jwt, str) else signed.jwt.decode(), issuing


@fuzz
@given(st.text(max_size=300) | st.builds(
    lambda h, p, s: ".".join((h, p, s)),
    st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", max_size=80),
    st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", max_size=80),
    st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", max_size=80)))
def test_a_status_list_of_anything_is_refused(genuine_status_list, text):
    with pytest.raises(StatusListInvalid):
        read_status_list(text, [genuine_status_list[1]])


@fuzz
@given(st.data())
def test_a_garbled_status_list_is_never_accepted(genuine_status_list, data):
    text, issuing = genuine_status_list
    assert read_status_list(text, [issuing]) is not None
    ends = {i - 1 for i, c in enumerate(text) if c == "."} | {len(text) - 1}
    position = data.draw(st.integers(0, len(text) - 1).filter(
        lambda i: i not in ends and text[i] != "."))
    garbled = flip(text, position, data.draw(st.sampled_from("AQgw-_9z")))
    assume(garbled != text)
    with pytest.raises(StatusListInvalid):
        read_status_list(garbled, [issuing])


# -- OCSP and TSA requests ----------------------------------------------------------------
@pytest.fixture(scope="module")
def protocols(trust_domain):
    domain = trust_domain.domain
    issuing = x509.load_der_x509_certificate(domain.published_certificate_der("issuing"))
    seal = x509.load_pem_x509_certificate(
        domain.seal_certificate_path(trust_domain.seal_id).read_bytes())
    return (domain.ocsp_responder(), domain.time_stamp_authority(),
            kit.ocsp_request_der(seal, issuing), kit.tsa_request_der())


def mutated(genuine: bytes):
    return st.builds(lambda i, b: genuine[:i % len(genuine)] + bytes([b])
                     + genuine[i % len(genuine) + 1:], st.integers(0, 10_000),
                     st.integers(0, 255)) | st.integers(0, len(genuine)).map(
        lambda n: genuine[:n])


@fuzz
@given(st.data())
def test_ocsp_always_answers_a_der_ocsp_response(protocols, data):
    responder, _, request, _ = protocols
    body = data.draw(st.binary(max_size=300) | mutated(request))
    answer = responder.respond(body)
    ocsp.load_der_ocsp_response(answer)  # raises if not a DER OCSPResponse
    get_answer = responder.respond_to_get(data.draw(st.text(max_size=200)))
    ocsp.load_der_ocsp_response(get_answer)


@fuzz
@given(st.data())
def test_tsa_always_answers_a_der_time_stamp_response(protocols, data):
    _, authority, _, request = protocols
    body = data.draw(st.binary(max_size=300) | mutated(request))
    answer = TimeStampResp.load(authority.respond(body), strict=True)
    status = answer["status"]["status"].native
    assert status in ("granted", "granted_with_mods", "rejection")
    if status == "rejection":  # RFC 3161: no token with a rejection
        assert answer["time_stamp_token"].native is None
    else:  # granted: for exactly what was asked (a mutated hash is still a hash)
        info = answer["time_stamp_token"]["content"]["encap_content_info"]["content"].parsed
        asked = tsp.TimeStampReq.load(body)["message_imprint"]
        assert info["message_imprint"].native == asked.native


class TimeStampResp(core.Sequence):
    """RFC 3161's TimeStampResp (asn1crypto's own wrongly makes the token required)."""

    _fields: ClassVar = [("status", tsp.PKIStatusInfo),
                         ("time_stamp_token", cms.ContentInfo, {"optional": True})]


# -- identifiers ----------------------------------------------------------------------------
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
GENUINE_IDS = [kit.DEPARTMENT_A_USCC, kit.CITIZEN_1]


@fuzz
@given(st.text(max_size=60) | st.text("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ-", max_size=50))
def test_licence_id_parses_round_trip_or_is_refused(text):
    try:
        parsed = parse_licence_id(text)
    except InvalidIdentifier:
        return
    assert str(parsed) == normalise_identifier(text)


@fuzz
@given(st.data())
def test_a_licence_id_with_one_character_changed_is_refused(trust_domain, data):
    genuine = trust_domain.licences["yyzz"].licence_id
    position = data.draw(st.integers(0, len(genuine) - 1))
    garbled = flip(genuine, position, data.draw(st.sampled_from(
        "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ-")))
    assume(garbled != genuine)
    with pytest.raises(InvalidIdentifier):
        parse_licence_id(garbled)


@fuzz
@given(st.text(max_size=25) | st.text(USCC_ALPHABET + "x", min_size=18, max_size=18))
def test_holder_identifiers_validate_or_are_refused(text):
    for validate in (validate_uscc, validate_resident_id):
        try:
            assert len(validate(text)) == 18
        except InvalidIdentifier:
            pass


@fuzz
@given(st.sampled_from(GENUINE_IDS), st.data())
def test_a_holder_identifier_with_one_character_changed_is_refused(genuine, data):
    position = data.draw(st.integers(0, 17))
    alphabet = USCC_ALPHABET if genuine == kit.DEPARTMENT_A_USCC else "0123456789X"
    garbled = flip(genuine, position, data.draw(st.sampled_from(alphabet)))
    assume(garbled != genuine)
    validate = validate_uscc if genuine == kit.DEPARTMENT_A_USCC else validate_resident_id
    with pytest.raises(InvalidIdentifier):
        validate(garbled)
