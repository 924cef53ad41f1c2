"""A counter's verifier over the shared trust domain with the network replaced by the
domain's own services called in process (its OCSP responder, its departments' signed
status lists), so a test can put exactly one forged or stale answer in their place and
assert exactly which checks fail.

Import as `import checks_kit` (tests/verify is on sys.path for its test modules)."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from ca.trustlist import SignedTrustList, TrustList, read_trust_list, sign_trust_list
from certs.qr import decode_qr_payload, encode_qr_payload, kid_of_certificate
from certseal import status as domain_status
from certseal.verifying import load_trust_list, trust_source
from seal.registry import get_seal
from verify.context import StaticSealDirectory, VerificationContext
from verify.inputs import verify_bytes
from verify.limits import DEFAULT_LIMITS
from verify.pdf_qr import qr_texts_of_first_page
from verify.report import VerificationReport
from verify.revocation import OcspStatusSource
from verify.status_lists import StatusListSource


def failed_codes(report: VerificationReport) -> set[str]:
    return {c.code for c in report.checks if c.outcome.value == "failed"}


def undecided_codes(report: VerificationReport) -> set[str]:
    return {c.code for c in report.checks if c.outcome.value == "indeterminate"}


def judged(report: VerificationReport) -> tuple[str, set[str], set[str]]:
    """(verdict, failed checks, undecided checks): what each test pins exactly."""
    return report.verdict.value, failed_codes(report), undecided_codes(report)


def qr_text_of(pdf: bytes) -> str:
    (text,) = qr_texts_of_first_page(pdf, DEFAULT_LIMITS)
    return text


class Unreachable(Exception):
    """What a transport raises for a service that does not answer."""


async def _unreachable(*_args) -> bytes:
    raise Unreachable


def ocsp_asking(transport, *, crl: Callable[[], bytes] | None = None,
                cache_dir=None) -> OcspStatusSource:
    """An OCSP source asking ``transport``, whose CRL fallback asks ``crl`` (default:
    unreachable) and never the network: another test may be serving the shared domain
    at the address its certificates name."""

    async def crl_transport(_url: str, _timeout: float) -> bytes:
        if crl is None:
            raise Unreachable
        return crl()

    return OcspStatusSource(transport=transport, crl_transport=crl_transport,
                            cache_dir=cache_dir)


def stranger_key_and_certificate(name: str = "伪造应答者", *, ocsp_signing: bool = False,
                                 issuer: tuple[ec.EllipticCurvePrivateKey,
                                               x509.Certificate] | None = None
                                 ) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    """A software key and a certificate for it: self-signed, or issued by ``issuer``."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    signer_key, issuer_name = (key, subject) if issuer is None else (issuer[0],
                                                                     issuer[1].subject)
    now = dt.datetime.now(dt.UTC)
    builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer_name)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - dt.timedelta(days=1))
               .not_valid_after(now + dt.timedelta(days=30)))
    if ocsp_signing:
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.OCSP_SIGNING]), critical=False)
    return key, builder.sign(signer_key, hashes.SHA256())


@dataclass
class Bench:
    """The shared domain seen from a counter, with every outside answer made on demand."""

    under_test: object  # domain_kit.DomainUnderTest
    trust_list: SignedTrustList
    seal_certificate: x509.Certificate
    issuing_ca: x509.Certificate

    @property
    def domain(self):
        return self.under_test.domain

    # -- real answers of the domain's services ---------------------------------------
    def ocsp_answer(self, request_der: bytes) -> bytes:
        return self.domain.ocsp_responder().respond(request_der)

    def status_list_jwt(self, department_id: str) -> str:
        return domain_status.current_status_list(self.domain, department_id).jwt

    def seal_key(self):
        with self.domain.session() as session:
            label = get_seal(session, self.under_test.seal_id).key_label
        return self.domain.token().private_key(label)

    def sign_qr(self, text: str, **changes) -> str:
        """The QR's claims with ``changes``, signed anew by the department's own seal key
        in the HSM (a QR the department really signed, with these claims)."""
        claims = dataclasses.replace(decode_qr_payload(text).claims, **changes)
        key = self.seal_key()
        return encode_qr_payload(claims, lambda m: key.sign(m, ec.ECDSA(hashes.SHA256())))

    # -- a counter's context -----------------------------------------------------------
    def context(self, *, ocsp: Callable[[bytes], bytes] | None = None,
                crl: Callable[[], bytes] | None = None,
                status_list: Callable[[str], str] | None = None,
                ocsp_source: OcspStatusSource | None = None,
                status_source: StatusListSource | None = None,
                trust_lists: tuple[SignedTrustList, ...] | None = None,
                seals: tuple[x509.Certificate, ...] | None = None,
                clock: Callable[[], dt.datetime] | None = None,
                offline: bool = False) -> VerificationContext:
        """Online by default: OCSP asks ``ocsp`` (default: the domain's responder), the CRL
        fallback ``crl`` (default: unreachable), the status list ``status_list`` (default:
        the department's current signed list). None of them is consulted offline."""
        clock = clock or (lambda: dt.datetime.now(dt.UTC))
        answer = ocsp or self.ocsp_answer
        list_of = status_list or self.status_list_jwt

        async def ocsp_transport(_url: str, request: bytes, _timeout: float) -> bytes:
            return answer(request)

        lists = trust_lists or (self.trust_list,)
        issuing = tuple(s.certificate for t in lists
                        for s in t.trust_list.services_of("issuing-ca"))
        return VerificationContext(
            trust_lists=lists,
            seal_directory=StaticSealDirectory(seals or (self.seal_certificate,)),
            certificate_status=ocsp_source or ocsp_asking(
                ocsp_transport, crl=crl),
            licence_status=status_source or self.status_source(
                clock=clock, status_list=list_of, issuing=issuing),
            offline=offline, clock=clock)

    def status_source(self, *, clock=None, status_list=None, issuing=None, cache_dir=None
                      ) -> StatusListSource:
        """The status-list reader fetching ``status_list(uscc)`` (default: the department's
        current signed list), caching in ``cache_dir`` when given."""
        list_of = status_list or self.status_list_jwt
        cas = issuing or tuple(s.certificate for s in
                               self.trust_list.trust_list.services_of("issuing-ca"))

        async def fetch(url: str, _timeout: float) -> str:
            return list_of(url.rsplit("/", 1)[1])

        return StatusListSource(
            issuing_cas=lambda: cas, base_url_of=lambda _uscc: self.under_test.base_url,
            fetch=fetch, clock=clock or (lambda: dt.datetime.now(dt.UTC)),
            cache_dir=cache_dir)

    def re_signed_list(self, change: Callable[[TrustList], TrustList]) -> SignedTrustList:
        """This region's trust list changed by ``change``, signed by a list signer of the
        test's own and read back through the real reader (a list this counter pins)."""
        key, signer = stranger_key_and_certificate("信任列表签名者")
        jws = sign_trust_list(change(self.trust_list.trust_list), key, signer)
        return read_trust_list(jws, signer)


def make_bench(under_test) -> Bench:
    signed = load_trust_list(trust_source(under_test.published))
    seal = x509.load_pem_x509_certificate(
        under_test.domain.seal_certificate_path(under_test.seal_id).read_bytes())
    return Bench(under_test, signed, seal, under_test.domain.certificates().issuing)


def verify(data: bytes | str, context: VerificationContext) -> VerificationReport:
    if isinstance(data, str):
        data = data.encode()
    return asyncio.run(verify_bytes(data, context))


def kid_of(certificate: x509.Certificate) -> bytes:
    return kid_of_certificate(certificate.public_bytes(serialization.Encoding.DER))


# -- OCSP answers made by the domain's responder code with other keys or facts ----------------
class SaysAll:
    """A responder's view of the CA's records in which every serial has one status."""

    def __init__(self, status: str = "good", revoked_at: dt.datetime | None = None,
                 reason: x509.ReasonFlags | None = x509.ReasonFlags.key_compromise) -> None:
        from ca.ocsp import CertificateStatus, CertificateStatusFacts

        self._facts = CertificateStatusFacts(
            CertificateStatus(status), revoked_at=revoked_at,
            reason=reason if status != "good" else None)

    def status_of(self, serial: int):
        return self._facts


def responder(issuer: x509.Certificate, signer: x509.Certificate, signer_key, *,
              statuses=None, clock: Callable[[], dt.datetime] | None = None,
              validity: dt.timedelta = dt.timedelta(hours=1), by_name: bool = False
              ) -> Callable[[bytes], bytes]:
    """The project's OCSP responder (ca/ocsp.py) with these keys and facts; like a
    forger's tool, it skips the responder's own refusal of a signer the issuer never
    delegated to."""
    from ca.ocsp import OcspResponder

    class ForgersResponder(OcspResponder):
        def _check_signer(self) -> None:
            pass

    kw = {"clock": clock} if clock is not None else {}
    built = ForgersResponder(issuer=issuer, signer=signer, signer_key=signer_key,
                             statuses=statuses or SaysAll(), validity=validity, **kw)
    if by_name:  # RFC 6960 ResponderID byName (what openssl's responder sends)
        from asn1crypto import ocsp as asn1_ocsp
        from asn1crypto import x509 as asn1_x509

        built._responder_id = asn1_ocsp.ResponderId(
            name="by_name", value=asn1_x509.Name.load(signer.subject.public_bytes()))
    return built.respond


def re_signed(answer: bytes, key: ec.EllipticCurvePrivateKey) -> bytes:
    """A genuine OCSP answer whose signature is replaced by one of ``key`` over the same
    response data (so everything it says and names is the genuine responder's)."""
    from asn1crypto import ocsp as asn1_ocsp

    response = asn1_ocsp.OCSPResponse.load(answer)
    basic = response["response_bytes"]["response"].parsed
    tbs = basic["tbs_response_data"].dump()
    basic["signature"] = key.sign(tbs, ec.ECDSA(hashes.SHA256()))
    response["response_bytes"]["response"] = basic
    return response.dump(force=True)


def request_for_serial(issuer: x509.Certificate, serial: int) -> bytes:
    """An OCSP request about ``serial`` of ``issuer`` (one the issuer may never have issued)."""
    import hashlib

    from asn1crypto import keys

    spki = issuer.public_key().public_bytes(serialization.Encoding.DER,
                                            serialization.PublicFormat.SubjectPublicKeyInfo)
    key_bits = keys.PublicKeyInfo.load(spki)["public_key"].contents[1:]
    from cryptography.x509 import ocsp

    return (ocsp.OCSPRequestBuilder().add_certificate_by_hash(
        hashlib.sha1(issuer.subject.public_bytes()).digest(),  # noqa: S324 - an identifier
        hashlib.sha1(key_bits).digest(), serial, hashes.SHA1())  # noqa: S303, S324
        .build().public_bytes(serialization.Encoding.DER))


# -- PDFs sealed by the department's genuine seal, with parts chosen by the test ---------------
def licence_envelope(pdf: bytes) -> dict:
    import io

    from pyhanko.pdf_utils.reader import PdfFileReader

    from certs.document import extract_licence_data

    return extract_licence_data(PdfFileReader(io.BytesIO(pdf), strict=False))


def seal_licence(bench: Bench, *, envelope: dict, qr_text: str,
                 ocsp_responses: tuple[bytes, ...] | None = None,
                 field_name: str | None = None, embed_validation: bool = True,
                 timestamper=None, key=None, certificate: x509.Certificate | None = None,
                 archive_timestamp: bool = False,
                 before_sealing: Callable[[bytes], bytes] | None = None) -> bytes:
    """What issuance does (render, then PAdES B-LT with the seal key in the HSM, a real
    time-stamp and the validation data embedded; B-LTA with ``archive_timestamp``, the
    default level of issuance), with the QR text, licence data and
    embedded OCSP answers the test gives: a document the department really sealed (or,
    with ``key`` and ``certificate``, sealed by another key the region certified).
    ``field_name``: the signature field's name; ``before_sealing``: a change to the rendered
    page before it is sealed (so it is part of what the seal signs); without
    ``embed_validation`` the seal is PAdES B-T (no validation data, and so no check of the
    seal's own status before signing)."""
    import dataclasses as dc

    from certs.render import render_licence_pdf
    from seal.pades import SealMaterial, SealPlacement, seal_pdf
    from seal.validation_data import gather_validation_material

    domain = bench.domain
    services = domain.sealing_services()
    licence_type = domain.catalogue.get(envelope["type_code"])
    with domain.session() as session:
        seal = get_seal(session, bench.under_test.seal_id)
    issued_at = dt.datetime.fromisoformat(envelope["issued_at"])
    unsigned = render_licence_pdf(licence_type, envelope["licence_id"], envelope["data"],
                                  envelope["issuer_name"], issued_at, qr_text)
    if before_sealing is not None:
        unsigned = before_sealing(unsigned)
    certificate = certificate or bench.seal_certificate
    validation = gather_validation_material(
        seal_certificate=certificate, chain=services.chain,
        ocsp_responder=services.ocsp_respond if key is None else good_answers(bench),
        crls=services.current_crls(),
        other_certificates=services.service_certificates)
    if ocsp_responses is not None:
        validation = dc.replace(validation, ocsp_responses=ocsp_responses)
    material = SealMaterial(key=key or domain.token().private_key(seal.key_label),
                            certificate=certificate, chain=services.chain,
                            image_png=seal.image_png, seal_name=seal.name)
    import contextlib
    from unittest import mock

    from seal import pades

    renamed = (mock.patch.object(pades, "SEAL_FIELD_NAME", field_name) if field_name
               else contextlib.nullcontext())
    with renamed:
        return seal_pdf(unsigned, material,
                        SealPlacement(page=0, box=licence_type.layout.seal),
                        timestamper=timestamper or services.timestamper,
                        validation=validation if embed_validation else None,
                        reason=f"{licence_type.name} {envelope['licence_id']}",
                        location=services.region_name, signing_time=issued_at,
                        archive_timestamp=archive_timestamp,
                        ocsp_responder=(services.ocsp_respond if key is None
                                        else good_answers(bench)))


def seal_ocsp_request(bench: Bench, certificate: x509.Certificate | None = None) -> bytes:
    from cryptography.x509 import ocsp

    return (ocsp.OCSPRequestBuilder()
            .add_certificate(certificate or bench.seal_certificate, bench.issuing_ca,
                             hashes.SHA1())  # noqa: S303
            .build().public_bytes(serialization.Encoding.DER))


def with_validation_data(bench: Bench, pdf: bytes, ocsp_answers: list[bytes]) -> bytes:
    """``pdf`` with a DSS update (allowed after sealing) holding the region's certificates,
    its current CRLs and ``ocsp_answers``: what B-LT would have embedded, chosen by the
    test."""
    import io

    from asn1crypto import crl as asn1_crl
    from asn1crypto import ocsp as asn1_ocsp
    from asn1crypto import x509 as asn1_x509
    from pyhanko.sign.validation.dss import DocumentSecurityStore

    certificates = bench.domain.certificates()
    out = io.BytesIO(pdf)
    DocumentSecurityStore.add_dss(
        out, None,
        certs=[asn1_x509.Certificate.load(c.public_bytes(serialization.Encoding.DER))
               for c in (certificates.issuing, certificates.root, certificates.tsa,
                         certificates.ocsp)],
        ocsps=[asn1_ocsp.OCSPResponse.load(a) for a in ocsp_answers],
        crls=[asn1_crl.CertificateList.load(bench.domain.current_crl_der(name))
              for name in ("issuing", "root")], force_write=True)
    return out.getvalue()


def issue_seal_certificate(bench: Bench, key_usage: x509.KeyUsage, *, without: tuple = ()
                           ) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    """A software key and a seal certificate for the department, issued by the region's
    real issuing CA (its key in the HSM), with ``key_usage`` in place of the profile's."""
    from ca.profiles import EsealProfile, PkiUrls, issue_certificate

    class Profile(EsealProfile):
        def extensions(self):
            return [(key_usage, True) if isinstance(ext, x509.KeyUsage) else (ext, critical)
                    for ext, critical in super().extensions()
                    if not isinstance(ext, without)]

    department = bench.seal_certificate.subject
    name = department.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value
    region = bench.trust_list.trust_list.region_name
    key = ec.generate_private_key(ec.SECP256R1())
    profile = Profile(name, bench.under_test.department_id, region,
                      urls=PkiUrls(bench.under_test.base_url))
    certificate = issue_certificate(
        profile, subject_public_key=key.public_key(),
        signing_key=bench.domain.token().private_key("issuing-ca"),
        issuer_certificate=bench.issuing_ca,
        # Valid from when the department's genuine seal certificate was: the module's
        # licences carry issue times from its start, which a certificate issued minutes
        # later (a loaded machine) would not yet cover.
        now=bench.seal_certificate.not_valid_before_utc)
    return key, certificate


def key_usage(**bits: bool) -> x509.KeyUsage:
    names = ("digital_signature", "content_commitment", "key_encipherment",
             "data_encipherment", "key_agreement", "key_cert_sign", "crl_sign",
             "encipher_only", "decipher_only")
    return x509.KeyUsage(**{name: bits.get(name, False) for name in names})


def good_answers(bench: Bench) -> Callable[[bytes], bytes]:
    """The region's real OCSP signer saying "good" of any serial (the test's certificates
    are not in the CA's records)."""
    from certseal.domain import KEY_LABELS

    certificates = bench.domain.certificates()
    return responder(bench.issuing_ca, certificates.ocsp,
                     bench.domain.token().private_key(KEY_LABELS["ocsp"]))


def issuer_crl(bench: Bench, *, revoked: tuple[tuple[int, x509.ReasonFlags | None], ...] = (),
               issuer_name: x509.Name | None = None, last_update: dt.datetime | None = None,
               next_update: dt.datetime | None = None) -> bytes:
    """A CRL signed by the region's real issuing CA key (in the HSM), listing ``revoked``
    (serial, reason), under ``issuer_name`` (default: the issuing CA's own)."""
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    builder = (x509.CertificateRevocationListBuilder()
               .issuer_name(issuer_name or bench.issuing_ca.subject)
               .last_update(last_update or now - dt.timedelta(minutes=1))
               .next_update(next_update or now + dt.timedelta(days=1))
               .add_extension(x509.CRLNumber(x509.random_serial_number() >> 100), False))
    for serial, reason in revoked:
        entry = (x509.RevokedCertificateBuilder().serial_number(serial)
                 .revocation_date(now - dt.timedelta(hours=1)))
        if reason is not None:
            entry = entry.add_extension(x509.CRLReason(reason), critical=False)
        builder = builder.add_revoked_certificate(entry.build())
    key = bench.domain.token().private_key("issuing-ca")
    return builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)
