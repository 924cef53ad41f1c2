"""What sealing keeps between licences (path validation results, the seal image's
XObject, the signer's parsed certificates) gives the same valid B-LT seal as a cold run,
and never outlives what it was computed from: new OCSP answers, new CRLs, another key or
certificate, another image, another TSA, a signing moment it was not validated for."""

from __future__ import annotations

import asyncio
import io
import subprocess
import uuid
import zlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from asn1crypto import ocsp as asn1_ocsp
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509 import ocsp as x509_ocsp
from PIL import Image
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import async_validate_pdf_signature
from pyhanko.sign.validation.dss import DocumentSecurityStore
from seal_testing import BASE_URL, DEPARTMENT, REGION_NAME, USCC, SealDomain, assert_valid_b_lta

from ca.crl import build_crl
from ca.hierarchy import issue_eseal_certificate
from ca.models import ISSUING
from certseal.db import transaction
from seal.image import render_seal_image, seal_image_xobject
from seal.pades import seal_pdf
from seal.signer import to_asn1
from seal.timestamping import InProcessTimeStamper
from seal.validation_data import PathValidationCache

REASON = "电子证照签发"


def _seal(domain: SealDomain, timestamper: InProcessTimeStamper, cache: PathValidationCache,
          *, material=None, validation=None, **kw) -> bytes:
    return seal_pdf(domain.licence_pdf, material or domain.material(), domain.placement,
                    timestamper=timestamper, validation=validation or domain.validation(),
                    reason=REASON, location=REGION_NAME, path_cache=cache, **kw)


def _offline_verdict(domain: SealDomain, pdf: bytes):
    """pyHanko's verdict from the root and the PDF's own DSS alone, hard-fail."""
    reader = PdfFileReader(io.BytesIO(pdf))
    dss = DocumentSecurityStore.read_dss(reader)
    vc = dss.as_validation_context({
        "trust_roots": [to_asn1(domain.certificates.root)],
        "allow_fetching": False, "revocation_mode": "hard-fail",
    })
    return asyncio.run(async_validate_pdf_signature(
        reader.embedded_signatures[0], signer_validation_context=vc, ts_validation_context=vc))


def _dss_ocsp_and_crls(pdf: bytes) -> tuple[set[bytes], set[bytes]]:
    dss = DocumentSecurityStore.read_dss(PdfFileReader(io.BytesIO(pdf)))
    return ({r.get_object().data for r in dss.ocsps}, {r.get_object().data for r in dss.crls})


def _pdfsig(pdf: bytes, path: Path) -> str:
    path.write_bytes(pdf)
    return subprocess.run(["pdfsig", str(path)], capture_output=True, text=True, timeout=30,
                          check=False).stdout


def test_a_cached_validation_seals_a_valid_b_lt_like_a_cold_one(
        seal_domain: SealDomain, timestamper: InProcessTimeStamper, tmp_path: Path) -> None:
    cache = PathValidationCache()
    validation = seal_domain.validation()
    cold = _seal(seal_domain, timestamper, cache, validation=validation)
    assert (cache.hits, cache.misses, len(cache)) == (0, 1, 1)
    warm = _seal(seal_domain, timestamper, cache, validation=validation)
    assert (cache.hits, cache.misses) == (1, 1)

    for pdf, name in ((cold, "cold"), (warm, "warm")):
        status = _offline_verdict(seal_domain, pdf)
        assert status.bottom_line, status.pretty_print_details()
        assert status.timestamp_validity is not None and status.timestamp_validity.trusted
        out = _pdfsig(pdf, tmp_path / f"{name}.pdf")
        assert "Signature Validation: Signature is Valid." in out, out
        assert "Total document signed" in out, out
    # The warm seal embeds exactly the material it was given.
    assert _dss_ocsp_and_crls(warm) == (set(validation.ocsp_responses), set(validation.crls))
    assert _dss_ocsp_and_crls(warm) == _dss_ocsp_and_crls(cold)


def test_a_renewed_ocsp_answer_or_crl_is_validated_and_embedded_afresh(
        seal_domain: SealDomain, timestamper: InProcessTimeStamper) -> None:
    cache = PathValidationCache()
    first = seal_domain.validation()
    _seal(seal_domain, timestamper, cache, validation=first)

    seal_domain.ocsp.invalidate(seal_domain.seal_certificate.serial_number)
    renewed = seal_domain.validation()
    assert renewed.ocsp_responses != first.ocsp_responses  # a fresh signature, new bytes
    pdf = _seal(seal_domain, timestamper, cache, validation=renewed)
    assert (cache.hits, cache.misses) == (0, 2)
    ocsps, _ = _dss_ocsp_and_crls(pdf)
    assert ocsps == set(renewed.ocsp_responses)
    assert not ocsps & set(first.ocsp_responses)

    with transaction(seal_domain.engine) as session:
        new_crl = build_crl(session, ISSUING, seal_domain.keys.issuing.key).public_bytes(
            Encoding.DER)
    with_new_crl = seal_domain.validation(crls=(new_crl, seal_domain.root_crl))
    pdf = _seal(seal_domain, timestamper, cache, validation=with_new_crl)
    assert (cache.hits, cache.misses) == (0, 3)
    _, crls = _dss_ocsp_and_crls(pdf)
    assert crls == {new_crl, seal_domain.root_crl}
    assert _offline_verdict(seal_domain, pdf).bottom_line


def test_a_rotated_seal_key_and_certificate_is_a_miss_and_signs_with_the_new_key(
        seal_domain: SealDomain, timestamper: InProcessTimeStamper) -> None:
    cache = PathValidationCache()
    _seal(seal_domain, timestamper, cache)
    label = f"seal-rotated-{uuid.uuid4().hex[:8]}"
    new_key = seal_domain.token.generate_key(label)
    with transaction(seal_domain.engine) as session:
        new_certificate = issue_eseal_certificate(
            session, public_key=new_key.public_key(), department_name=DEPARTMENT, uscc=USCC,
            region_name=REGION_NAME, key_label=label, base_url=BASE_URL,
            issuing_key=seal_domain.keys.issuing.key)
    pdf = _seal(seal_domain, timestamper, cache,
                material=seal_domain.material(key=new_key, certificate=new_certificate),
                validation=seal_domain.validation(certificate=new_certificate))
    assert (cache.hits, cache.misses) == (0, 2)
    status = _offline_verdict(seal_domain, pdf)
    assert status.bottom_line, status.pretty_print_details()
    assert status.signing_cert.dump() == to_asn1(new_certificate).dump()


def test_another_tsa_is_a_miss(seal_domain: SealDomain,
                               timestamper: InProcessTimeStamper) -> None:
    cache = PathValidationCache()
    validation = seal_domain.validation()
    _seal(seal_domain, timestamper, cache, validation=validation)
    _seal(seal_domain, InProcessTimeStamper(seal_domain.tsa.respond), cache,
          validation=validation)
    assert (cache.hits, cache.misses) == (0, 2)


def test_results_hold_only_from_their_moment_until_the_earliest_expiry(
        seal_domain: SealDomain) -> None:
    validation = seal_domain.validation()
    until = validation.usable_until
    assert until is not None
    answer_expiry = min(
        single.next_update_utc for der in validation.ocsp_responses
        for single in x509_ocsp.load_der_ocsp_response(der).responses)
    assert until <= answer_expiry

    cache = PathValidationCache(ttl=timedelta(minutes=5))
    now = datetime.now(UTC)
    cache.put("k", "result", material=validation, validated_at=now,
              path_not_after=[now + timedelta(days=365)])
    assert cache.get("k", validation, now) == "result"
    assert cache.get("k", validation, now + timedelta(minutes=4)) == "result"
    # Not before it was validated, nor past the ttl.
    assert cache.get("k", validation, now - timedelta(seconds=1)) is None
    assert cache.get("k", validation, now + timedelta(minutes=5, seconds=1)) is None
    assert cache.get("other", validation, now) is None
    # Other material under the same key (a renewed answer) is a miss, and replaces it.
    renewed = seal_domain.validation(crls=(seal_domain.root_crl, seal_domain.issuing_crl))
    assert renewed.fingerprint != validation.fingerprint
    assert cache.get("k", renewed, now) is None
    cache.put("k", "renewed", material=renewed, validated_at=now,
              path_not_after=[now + timedelta(days=365)])
    assert cache.get("k", renewed, now) == "renewed"
    assert cache.get("k", validation, now) is None
    assert len(cache) == 1

    # A certificate on a path expiring sooner bounds it too.
    cache.put("k", "result", material=validation, validated_at=now,
              path_not_after=[now + timedelta(seconds=30)])
    assert cache.get("k", validation, now + timedelta(seconds=29)) == "result"
    assert cache.get("k", validation, now + timedelta(seconds=31)) is None

    # And so does the material's earliest nextUpdate, however long the ttl.
    long = PathValidationCache(ttl=timedelta(days=3650))
    long.put("k", "result", material=validation, validated_at=now, path_not_after=[])
    assert long.get("k", validation, until) == "result"
    assert long.get("k", validation, until + timedelta(seconds=1)) is None


def test_a_signing_time_before_the_cached_validation_is_validated_afresh(
        seal_domain: SealDomain, timestamper: InProcessTimeStamper) -> None:
    cache = PathValidationCache()
    validation = seal_domain.validation()
    now = datetime.now(UTC)
    _seal(seal_domain, timestamper, cache, validation=validation, signing_time=now)
    _seal(seal_domain, timestamper, cache, validation=validation,
          signing_time=now - timedelta(seconds=1))
    assert (cache.hits, cache.misses) == (0, 2)
    _seal(seal_domain, timestamper, cache, validation=validation,
          signing_time=now + timedelta(seconds=1))
    assert cache.hits == 1


def test_a_failed_validation_is_not_kept(seal_domain: SealDomain,
                                         timestamper: InProcessTimeStamper) -> None:
    from seal.sealing_errors import SealingFailed

    cache = PathValidationCache()
    incomplete = seal_domain.validation(crls=(seal_domain.issuing_crl,))
    for _ in range(2):
        with pytest.raises(SealingFailed):
            _seal(seal_domain, timestamper, cache, validation=incomplete)
    assert (cache.hits, cache.misses, len(cache)) == (0, 2, 0)


def test_b_lta_with_a_cached_validation_still_verifies(
        seal_domain: SealDomain, timestamper: InProcessTimeStamper) -> None:
    cache = PathValidationCache()
    validation = seal_domain.validation()
    _seal(seal_domain, timestamper, cache, validation=validation, archive_timestamp=True,
          ocsp_responder=seal_domain.ocsp.respond)
    sealed = _seal(seal_domain, timestamper, cache, validation=validation,
                   archive_timestamp=True, ocsp_responder=seal_domain.ocsp.respond)
    assert cache.hits == 1
    # The seal's revision no longer ends the file, but what follows is allowed under P=1.
    assert_valid_b_lta(sealed, seal_domain.certificates.root)


def _embedded_seal_pixels(pdf: bytes) -> tuple[tuple[int, int], bytes, bytes]:
    reader = PdfFileReader(io.BytesIO(pdf))
    field = reader.root["/AcroForm"]["/Fields"][0].get_object()
    appearance = field["/AP"]["/N"]
    images = []

    def walk(xobject) -> None:
        for value in xobject.get("/Resources", {}).get("/XObject", {}).values():
            stream = value.get_object()
            if stream["/Subtype"] == "/Image":
                images.append(stream)
            else:
                walk(stream)

    walk(appearance.get_object())
    (image,) = images
    mask = image["/SMask"].get_object()
    return (int(image["/Width"]), int(image["/Height"])), image.data, mask.data


def test_the_image_xobject_is_the_seal_image_and_follows_a_new_image(
        seal_domain: SealDomain, timestamper: InProcessTimeStamper) -> None:
    cache = PathValidationCache()
    seal_image_xobject.cache_clear()
    first = _seal(seal_domain, timestamper, cache)
    again = _seal(seal_domain, timestamper, cache)
    assert seal_image_xobject.cache_info().hits >= 1

    expected = Image.open(io.BytesIO(seal_domain.seal_image)).convert("RGBA")
    size, rgb, alpha = _embedded_seal_pixels(again)
    assert size == expected.size
    assert rgb == expected.convert("RGB").tobytes()
    assert alpha == expected.split()[-1].tobytes()
    assert _embedded_seal_pixels(first) == (size, rgb, alpha)

    other_png = render_seal_image("厦门市市场监督管理局")
    material = seal_domain.material()
    other = _seal(seal_domain, timestamper, cache, material=type(material)(
        key=material.key, certificate=material.certificate, chain=material.chain,
        image_png=other_png, seal_name=material.seal_name))
    other_expected = Image.open(io.BytesIO(other_png)).convert("RGBA")
    _, other_rgb, other_alpha = _embedded_seal_pixels(other)
    assert other_rgb == other_expected.convert("RGB").tobytes()
    assert other_alpha == other_expected.split()[-1].tobytes()
    assert other_rgb != rgb or other_alpha != alpha
    # What is cached is the Flate encoding of exactly those pixels.
    assert zlib.decompress(seal_image_xobject(seal_domain.seal_image).image.data) == rgb


def test_an_unreadable_seal_image_is_refused(seal_domain: SealDomain,
                                              timestamper: InProcessTimeStamper) -> None:
    from seal.sealing_errors import SealMaterialInvalid

    material = seal_domain.material()
    broken = type(material)(key=material.key, certificate=material.certificate,
                            chain=material.chain, image_png=b"not a png",
                            seal_name=material.seal_name)
    with pytest.raises(SealMaterialInvalid, match="image_png"):
        _seal(seal_domain, timestamper, PathValidationCache(), material=broken)


def test_ocsp_payload_of_a_cached_seal_is_about_the_seal_certificate(
        seal_domain: SealDomain, timestamper: InProcessTimeStamper) -> None:
    cache = PathValidationCache()
    _seal(seal_domain, timestamper, cache)
    pdf = _seal(seal_domain, timestamper, cache)
    ocsps, _ = _dss_ocsp_and_crls(pdf)
    serials = {asn1_ocsp.OCSPResponse.load(d)["response_bytes"]["response"].parsed
               ["tbs_response_data"]["responses"][0]["cert_id"]["serial_number"].native
               for d in ocsps}
    assert seal_domain.seal_certificate.serial_number in serials


def test_the_signing_certificate_attribute_names_the_seal_certificate(
        seal_domain: SealDomain, timestamper: InProcessTimeStamper) -> None:
    import hashlib

    from pyhanko.sign.general import as_signing_certificate_v2

    pdf = _seal(seal_domain, timestamper, PathValidationCache())
    signer_info = PdfFileReader(io.BytesIO(pdf)).embedded_signatures[0].signer_info
    (attribute,) = [a for a in signer_info["signed_attrs"]
                    if a["type"].native == "signing_certificate_v2"]
    value = attribute["values"][0]
    certificate = to_asn1(seal_domain.seal_certificate)
    assert value.dump() == as_signing_certificate_v2(certificate).dump()
    (cert_id,) = value["certs"]
    assert cert_id["cert_hash"].native == hashlib.sha256(certificate.dump()).digest()
    assert cert_id["issuer_serial"]["serial_number"].native == certificate.serial_number


def test_seal_pdf_refuses_to_run_inside_an_event_loop(
        seal_domain: SealDomain, timestamper: InProcessTimeStamper) -> None:
    async def on_the_loop() -> None:
        with pytest.raises(RuntimeError, match="async_seal_pdf"):
            _seal(seal_domain, timestamper, PathValidationCache())

    asyncio.run(on_the_loop())


def test_threads_sealing_at_once_share_the_caches_and_all_seal_valid(
        seal_domain: SealDomain, timestamper: InProcessTimeStamper) -> None:
    from concurrent.futures import ThreadPoolExecutor

    cache = PathValidationCache()
    validation = seal_domain.validation()
    with ThreadPoolExecutor(max_workers=4) as pool:
        sealed = list(pool.map(
            lambda _: _seal(seal_domain, timestamper, cache, validation=validation), range(8)))
    assert cache.hits + cache.misses == 8 and cache.hits >= 1
    for pdf in sealed:
        status = _offline_verdict(seal_domain, pdf)
        assert status.bottom_line, status.pretty_print_details()
