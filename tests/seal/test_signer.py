"""The signer picks the mechanism from the key, signs through the HSM, and pyHanko agrees."""

from __future__ import annotations

import asyncio
import io
import uuid

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.fields import SigSeedSubFilter
from pyhanko.sign.signers import PdfSignatureMetadata, sign_pdf
from pyhanko.sign.validation import async_validate_pdf_signature
from pyhanko_certvalidator import ValidationContext
from seal_testing import BASE_URL, DEPARTMENT, REGION_NAME, USCC, SealDomain

from ca.profiles import EsealProfile, PkiUrls, issue_certificate
from hsm.token import KeySpec
from seal.pades import seal_pdf
from seal.sealing_errors import SealMaterialInvalid
from seal.signer import SealSigner, to_asn1
from seal.timestamping import InProcessTimeStamper


def _certify(domain: SealDomain, public_key) -> x509.Certificate:
    return issue_certificate(
        EsealProfile(DEPARTMENT, USCC, REGION_NAME, urls=PkiUrls(BASE_URL)),
        subject_public_key=public_key, signing_key=domain.keys.issuing.key,
        issuer_certificate=domain.certificates.issuing)


def _validated(domain: SealDomain, sealed: bytes):
    signature = PdfFileReader(io.BytesIO(sealed)).embedded_signatures[0]
    vc = ValidationContext(trust_roots=[to_asn1(domain.certificates.root)],
                           allow_fetching=False)
    status = asyncio.run(async_validate_pdf_signature(signature, signer_validation_context=vc))
    assert status.bottom_line, status.pretty_print_details()
    return status, signature


@pytest.mark.parametrize(("spec", "mechanism", "digest"), [
    (KeySpec.EC_P256, "sha256_ecdsa", "sha256"),
    (KeySpec.EC_P384, "sha384_ecdsa", "sha384"),
    (KeySpec.RSA_2048, "sha256_rsa", "sha256"),
], ids=["p256", "p384", "rsa-pkcs1"])
def test_the_mechanism_follows_the_hsm_key_and_pyhanko_validates_it(
        seal_domain: SealDomain, timestamper: InProcessTimeStamper,
        spec: KeySpec, mechanism: str, digest: str) -> None:
    key = seal_domain.token.generate_key(f"seal-{spec.value}-{uuid.uuid4().hex[:8]}", spec)
    certificate = _certify(seal_domain, key.public_key())
    signer = SealSigner(key, certificate, seal_domain.chain)
    assert signer.get_signature_mechanism_for_digest(None)["algorithm"].native == mechanism

    # B-T (no validation material): the mechanism is what is checked here.
    sealed = seal_pdf(seal_domain.licence_pdf, seal_domain.material(key, certificate),
                      seal_domain.placement, timestamper=timestamper, validation=None,
                      reason="test", location=REGION_NAME)
    status, signature = _validated(seal_domain, sealed)
    assert status.md_algorithm == digest
    assert signature.signer_info["signature_algorithm"]["algorithm"].native == mechanism


def test_rsa_pss_through_the_hsm(seal_domain: SealDomain,
                                 timestamper: InProcessTimeStamper) -> None:
    key = seal_domain.token.generate_key(f"seal-pss-{uuid.uuid4().hex[:8]}", KeySpec.RSA_2048)
    signer = SealSigner(key, _certify(seal_domain, key.public_key()), seal_domain.chain,
                        prefer_pss=True)
    # seal_pdf makes PKCS#1 v1.5 for RSA; PSS is the signer's option, driven here directly.
    writer = IncrementalPdfFileWriter(io.BytesIO(seal_domain.licence_pdf))
    sealed = sign_pdf(writer, PdfSignatureMetadata(field_name="Seal",
                                                   subfilter=SigSeedSubFilter.PADES),
                      signer=signer, timestamper=timestamper).getvalue()
    _, signature = _validated(seal_domain, sealed)
    assert signature.signer_info["signature_algorithm"]["algorithm"].native == "rsassa_pss"


def test_a_key_that_is_not_the_certified_one_is_refused(seal_domain: SealDomain) -> None:
    other = ec.generate_private_key(ec.SECP256R1())
    with pytest.raises(SealMaterialInvalid, match="key"):
        SealSigner(other, seal_domain.seal_certificate, seal_domain.chain)


class _Untouchable(ec.EllipticCurvePrivateKey):
    """The seal's public key with a private half that must never be used."""

    def __init__(self, public_key: ec.EllipticCurvePublicKey) -> None:
        self._public = public_key

    def sign(self, data, signature_algorithm):
        raise AssertionError("a dry run must not sign")

    def public_key(self):
        return self._public

    @property
    def curve(self):
        return self._public.curve

    @property
    def key_size(self):
        return self._public.curve.key_size

    def exchange(self, algorithm, peer_public_key):
        raise NotImplementedError

    def private_numbers(self):
        raise NotImplementedError

    def private_bytes(self, encoding, format, encryption_algorithm):
        raise NotImplementedError

    def __copy__(self):
        return self

    def __deepcopy__(self, memo):
        return self


def test_a_dry_run_never_touches_the_key_and_reserves_enough(seal_domain: SealDomain) -> None:
    untouchable = _Untouchable(seal_domain.seal_key.public_key())
    signer = SealSigner(untouchable, seal_domain.seal_certificate, seal_domain.chain)
    dummy = asyncio.run(signer.async_sign_raw(b"data", "sha256", dry_run=True))
    assert len(dummy) == 72  # the longest DER ECDSA P-256 signature
    real_signer = SealSigner(seal_domain.seal_key, seal_domain.seal_certificate,
                             seal_domain.chain)
    real = asyncio.run(real_signer.async_sign_raw(b"data", "sha256"))
    assert len(real) <= len(dummy)
    seal_domain.seal_key.public_key().verify(real, b"data", ec.ECDSA(hashes.SHA256()))
