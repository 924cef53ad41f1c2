"""The trust list as ETSI TS 119 612 XML, signed with an enveloped XAdES baseline-B signature:
a second serialisation of ``ca.trustlist.TrustList`` beside the JWS, carrying the same facts.
Also the list of lists (EU LOTL pattern): a signed list of pointers to other lists, each with
its signer certificates.

A pure data module, like ``ca.trustlist``: no HSM, database or network; the signing key is
passed in (an HSM-backed ``cryptography`` key in service).

Mapping of our model onto TS 119 612 (v2.1.1 structure, TSLVersionIdentifier 5):

- one TrustServiceProvider (the region's PKI), one TSPService per service;
- service types: root-ca and issuing-ca -> ``Svctype/CA/PKC`` with an
  additionalServiceInformation of ours (``urn:certseal:tsl:SvcInfoExt:RootCA`` /
  ``...:IssuingCA``) telling them apart; tsa -> ``Svctype/TSA``; ocsp ->
  ``Svctype/Certstatus/OCSP``; status-list (the signer of licence status lists, which ETSI
  has no type for) -> ``urn:certseal:tsl:Svctype:LicenceStatusList``;
- statuses granted / withdrawn -> ``TrustedList/Svcstatus/granted`` / ``.../withdrawn``; the
  last status is ServiceInformation's, the earlier ones ServiceHistoryInstances, newest
  first (clause 5.5.10), identified by X509SKI;
- TSLType ``TSLType/CNlist`` (``CNlistofthelists`` for a list of lists), territory CN, status
  determination ``StatusDetn/CNdetermination``, rules ``schemerules/CN`` (annex D.6, CC = CN);
- the region code, base URL and any extensions of ours travel in a non-critical
  SchemeExtensions element of namespace ``urn:certseal:tsl:1``.

Times: clause 5.1.3 wants whole seconds. Each date-time element carries its instant rounded
down to the second; when the instant has a fraction, a non-critical extension of ours keeps
it exactly, so this form reads back to the very same ``TrustList`` as the JWS. Rounding down
changes no verdict of ours: the times a verifier judges (time-stamp genTime, a QR's issue
time) are whole seconds standing for their whole second (``verify.context.granted_at``).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from lxml import etree

from ca.trustlist import (
    MAX_LIST_BYTES,
    MAX_SERVICES,
    SERVICE_TYPES,
    SignedTrustList,
    StatusChange,
    TrustList,
    TrustListError,
    TrustService,
)

MEDIA_TYPE = "application/vnd.etsi.tsl+xml"
TSL = "http://uri.etsi.org/02231/v2#"
TSLX = "http://uri.etsi.org/02231/v2/additionaltypes#"
DS = "http://www.w3.org/2000/09/xmldsig#"
XADES = "http://uri.etsi.org/01903/v1.3.2#"
CS = "urn:certseal:tsl:1"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
NSMAP = {"tsl": TSL, "tslx": TSLX, "cs": CS}

TSL_TAG = "http://uri.etsi.org/19612/TSLTag"
TSL_VERSION = 5
TERRITORY = "CN"
_TL = "http://uri.etsi.org/TrstSvc/TrustedList"
TSL_TYPE = f"{_TL}/TSLType/{TERRITORY}list"
LOTL_TYPE = f"{_TL}/TSLType/{TERRITORY}listofthelists"
STATUS_DETERMINATION = f"{_TL}/StatusDetn/{TERRITORY}determination"
SCHEME_RULES = f"{_TL}/schemerules/{TERRITORY}"
HISTORICAL_INFORMATION_PERIOD = 65535  # clause 5.3.12: history is never removed

CA_PKC = "http://uri.etsi.org/TrstSvc/Svctype/CA/PKC"
ROOT_CA_INFO = "urn:certseal:tsl:SvcInfoExt:RootCA"
ISSUING_CA_INFO = "urn:certseal:tsl:SvcInfoExt:IssuingCA"
SERVICE_TYPE_URIS = {
    "root-ca": CA_PKC,
    "issuing-ca": CA_PKC,
    "tsa": "http://uri.etsi.org/TrstSvc/Svctype/TSA",
    "ocsp": "http://uri.etsi.org/TrstSvc/Svctype/Certstatus/OCSP",
    "status-list": "urn:certseal:tsl:Svctype:LicenceStatusList",
}
STATUS_URIS = {"granted": f"{_TL}/Svcstatus/granted", "withdrawn": f"{_TL}/Svcstatus/withdrawn"}
_STATUS_OF_URI = {uri: status for status, uri in STATUS_URIS.items()}
_TYPE_OF_URI = {uri: t for t, uri in SERVICE_TYPE_URIS.items() if uri != CA_PKC}
MAX_POINTERS = 1000
_PATH_NS = {"tsl": TSL, "ds": DS, "cs": CS, "tslx": TSLX,
            "xml": "http://www.w3.org/XML/1998/namespace"}

_EXC_C14N = "http://www.w3.org/2001/10/xml-exc-c14n#"
_ENVELOPED = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"
_SIGNED_PROPERTIES = "http://uri.etsi.org/01903#SignedProperties"


# -- the list of lists -------------------------------------------------------------------
@dataclass(frozen=True)
class TslPointer:
    """One list a list of lists names: where it is served, who signs it, whose it is."""

    region_code: str
    region_name: str
    location: str
    signer_certificates: tuple[x509.Certificate, ...]
    mime_type: str = MEDIA_TYPE

    def __post_init__(self) -> None:
        if not (len(self.region_code) == 6 and self.region_code.isdigit()):
            raise ValueError("region code must be 6 digits")
        if not self.signer_certificates:
            raise ValueError("a pointer names at least one signer certificate")
        if not self.location:
            raise ValueError("a pointer needs the list's location")


@dataclass(frozen=True)
class ListOfLists:
    operator_code: str
    operator_name: str
    sequence_number: int
    issued_at: datetime
    next_update: datetime
    pointers: tuple[TslPointer, ...]
    base_url: str | None = None

    def __post_init__(self) -> None:
        if not (len(self.operator_code) == 6 and self.operator_code.isdigit()):
            raise ValueError("operator code must be 6 digits")
        if self.sequence_number < 1:
            raise ValueError("sequence number starts at 1")
        if self.next_update <= self.issued_at:
            raise ValueError("next update must follow the issue time")
        codes = [p.region_code for p in self.pointers]
        if len(set(codes)) != len(codes):
            raise ValueError("a list of lists names each region once")

    def pointer_to(self, region_code: str) -> TslPointer | None:
        return next((p for p in self.pointers if p.region_code == region_code), None)


@dataclass(frozen=True)
class SignedListOfLists:
    list_of_lists: ListOfLists
    signer_certificate: x509.Certificate
    document: str


# -- writing ----------------------------------------------------------------------------
def _sub(parent, tag: str, text: str | None = None, ns: str = TSL, **attrib):
    element = etree.SubElement(parent, f"{{{ns}}}{tag}", **attrib)
    if text is not None:
        element.text = text
    return element


def _names(parent, tag: str, names: Sequence[tuple[str, str]]):
    holder = _sub(parent, tag)
    for lang, text in names:
        _sub(holder, "Name", text, **{XML_LANG: lang})
    return holder


def _uris(parent, tag: str, uris: Sequence[str]):
    holder = _sub(parent, tag)
    for uri in uris:
        _sub(holder, "URI", uri, **{XML_LANG: "en"})
    return holder


def _whole_second(when: datetime) -> str:
    return when.astimezone(UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def _exact(when: datetime) -> str:
    return when.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _extension(parent, critical: bool = False):
    return _sub(parent, "Extension", Critical="true" if critical else "false")


def _address(parent, tag: str, region_name: str, base_url: str | None) -> None:
    address = _sub(parent, tag)
    postal = _sub(_sub(address, "PostalAddresses"), "PostalAddress", **{XML_LANG: "zh"})
    _sub(postal, "StreetAddress", region_name)
    _sub(postal, "Locality", region_name)
    _sub(postal, "CountryName", TERRITORY)
    _uris(address, "ElectronicAddress", [base_url or f"urn:certseal:region:{region_name}"])


def _scheme_information(root, *, tsl_type: str, code: str, name: str, sequence: int,
                        issued_at: datetime, next_update: datetime, base_url: str | None,
                        list_path: str, extensions: dict | None = None):
    info = _sub(root, "SchemeInformation")
    _sub(info, "TSLVersionIdentifier", str(TSL_VERSION))
    _sub(info, "TSLSequenceNumber", str(sequence))
    _sub(info, "TSLType", tsl_type)
    _names(info, "SchemeOperatorName", [("zh", name), ("en", f"{TERRITORY}-{code}")])
    _address(info, "SchemeOperatorAddress", name, base_url)
    kind = "list of lists" if tsl_type == LOTL_TYPE else "trust list"
    _names(info, "SchemeName", [("en", f"{TERRITORY}:{kind} of {TERRITORY}-{code}"),
                                ("zh", f"{TERRITORY}:{name}")])
    location = f"{base_url.rstrip('/')}{list_path}" if base_url else f"urn:certseal:tsl:{code}"
    _uris(info, "SchemeInformationURI", [location])
    _sub(info, "StatusDeterminationApproach", STATUS_DETERMINATION)
    _uris(info, "SchemeTypeCommunityRules", [SCHEME_RULES])
    _sub(info, "SchemeTerritory", TERRITORY)
    notice = _sub(info, "PolicyOrLegalNotice")
    _sub(notice, "TSLLegalNotice", f"The {kind} of the electronic licence trust services of "
                                   f"{TERRITORY}-{code}.", **{XML_LANG: "en"})
    _sub(info, "HistoricalInformationPeriod", str(HISTORICAL_INFORMATION_PERIOD))
    pointers_at = len(info)
    _sub(info, "ListIssueDateTime", _whole_second(issued_at))
    _sub(_sub(info, "NextUpdate"), "dateTime", _whole_second(next_update))
    if base_url:
        holder = _sub(info, "DistributionPoints")
        _sub(holder, "URI", location)
    scheme = _sub(_extension(_sub(info, "SchemeExtensions")), "Scheme", ns=CS,
                  regionCode=code, issuedAt=_exact(issued_at), nextUpdate=_exact(next_update))
    if base_url:
        scheme.set("baseUrl", base_url)
    if extensions:
        _sub(scheme, "Extensions", json.dumps(extensions, ensure_ascii=False, sort_keys=True),
             ns=CS)
    return info, pointers_at


def _certificate_b64(certificate: x509.Certificate) -> str:
    return base64.b64encode(certificate.public_bytes(serialization.Encoding.DER)).decode()


def _ski(certificate: x509.Certificate) -> bytes:
    try:
        return certificate.extensions.get_extension_for_class(
            x509.SubjectKeyIdentifier).value.digest
    except x509.ExtensionNotFound:
        return x509.SubjectKeyIdentifier.from_public_key(certificate.public_key()).digest


def _status_fields(parent, service: TrustService, change: StatusChange, *, current: bool):
    _sub(parent, "ServiceTypeIdentifier", SERVICE_TYPE_URIS[service.service_type])
    _names(parent, "ServiceName", [("en", service.name)])
    digital_id = _sub(_sub(parent, "ServiceDigitalIdentity"), "DigitalId")
    if current:
        _sub(digital_id, "X509Certificate", _certificate_b64(service.certificate))
    else:  # clause 5.6.3: a history instance names the key, not the certificate
        _sub(digital_id, "X509SKI", base64.b64encode(_ski(service.certificate)).decode())
    _sub(parent, "ServiceStatus", STATUS_URIS[change.status])
    _sub(parent, "StatusStartingTime", _whole_second(change.since))
    extensions = _sub(parent, "ServiceInformationExtensions")
    if service.service_type in ("root-ca", "issuing-ca"):
        info = _sub(_extension(extensions), "AdditionalServiceInformation")
        _sub(info, "URI", ROOT_CA_INFO if service.service_type == "root-ca" else ISSUING_CA_INFO,
             **{XML_LANG: "en"})
    if change.since.microsecond:
        _sub(_extension(extensions), "StatusStartingTime", _exact(change.since), ns=CS)
    if not len(extensions):
        parent.remove(extensions)


def trust_list_element(trust_list: TrustList) -> etree._Element:
    """The unsigned TrustServiceStatusList of ``trust_list``."""
    tl = trust_list
    root = etree.Element(f"{{{TSL}}}TrustServiceStatusList", nsmap=NSMAP,
                         TSLTag=TSL_TAG, Id="TrustServiceStatusList")
    _scheme_information(root, tsl_type=TSL_TYPE, code=tl.region_code, name=tl.region_name,
                        sequence=tl.sequence_number, issued_at=tl.issued_at,
                        next_update=tl.next_update, base_url=tl.base_url,
                        list_path="/pki/trust-list.xml", extensions=tl.extensions)
    if not tl.services:
        return root
    provider = _sub(_sub(root, "TrustServiceProviderList"), "TrustServiceProvider")
    information = _sub(provider, "TSPInformation")
    _names(information, "TSPName",
           [("zh", tl.region_name), ("en", f"{TERRITORY}-{tl.region_code}")])
    _address(information, "TSPAddress", tl.region_name, tl.base_url)
    _uris(information, "TSPInformationURI",
          [f"{tl.base_url.rstrip('/')}/pki/trust-list.xml" if tl.base_url
           else f"urn:certseal:tsl:{tl.region_code}"])
    services = _sub(provider, "TSPServices")
    for service in tl.services:
        element = _sub(services, "TSPService")
        _status_fields(_sub(element, "ServiceInformation"), service, service.history[-1],
                       current=True)
        if len(service.history) > 1:
            history = _sub(element, "ServiceHistory")
            for change in reversed(service.history[:-1]):
                _status_fields(_sub(history, "ServiceHistoryInstance"), service, change,
                               current=False)
    return root


def list_of_lists_element(lotl: ListOfLists) -> etree._Element:
    root = etree.Element(f"{{{TSL}}}TrustServiceStatusList", nsmap=NSMAP,
                         TSLTag=TSL_TAG, Id="TrustServiceStatusList")
    info, at = _scheme_information(
        root, tsl_type=LOTL_TYPE, code=lotl.operator_code, name=lotl.operator_name,
        sequence=lotl.sequence_number, issued_at=lotl.issued_at, next_update=lotl.next_update,
        base_url=lotl.base_url, list_path="/pki/list-of-lists.xml")
    if lotl.pointers:
        holder = etree.Element(f"{{{TSL}}}PointersToOtherTSL")
        info.insert(at, holder)
        for pointer in lotl.pointers:
            element = _sub(holder, "OtherTSLPointer")
            identities = _sub(element, "ServiceDigitalIdentities")
            for certificate in pointer.signer_certificates:
                _sub(_sub(_sub(identities, "ServiceDigitalIdentity"), "DigitalId"),
                     "X509Certificate", _certificate_b64(certificate))
            _sub(element, "TSLLocation", pointer.location)
            extra = _sub(element, "AdditionalInformation")
            _sub(_sub(extra, "OtherInformation"), "TSLType", TSL_TYPE)
            _names(_sub(extra, "OtherInformation"), "SchemeOperatorName",
                   [("zh", pointer.region_name), ("en", f"{TERRITORY}-{pointer.region_code}")])
            _uris(_sub(extra, "OtherInformation"), "SchemeTypeCommunityRules", [SCHEME_RULES])
            _sub(_sub(extra, "OtherInformation"), "SchemeTerritory", TERRITORY)
            _sub(_sub(extra, "OtherInformation"), "MimeType", pointer.mime_type, ns=TSLX)
            _sub(_sub(extra, "OtherInformation"), "Region", ns=CS, code=pointer.region_code)
    return root


_SIGNATURE_METHODS = {
    256: "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256",
    384: "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha384",
    521: "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha512",
}
_EC_HASHES = {256: hashes.SHA256, 384: hashes.SHA384, 521: hashes.SHA512}
_RSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
_SHA256 = "http://www.w3.org/2001/04/xmlenc#sha256"


def _c14n(element) -> bytes:
    return etree.tostring(element, method="c14n", exclusive=True, with_comments=False)


def _digest(data: bytes) -> str:
    digest = hashes.Hash(hashes.SHA256())
    digest.update(data)
    return base64.b64encode(digest.finalize()).decode()


def _reference(signed_info, uri: str, digest: str, transforms: Sequence[str], **attrib):
    reference = _sub(signed_info, "Reference", ns=DS, URI=uri, **attrib)
    holder = _sub(reference, "Transforms", ns=DS)
    for algorithm in transforms:
        _sub(holder, "Transform", ns=DS, Algorithm=algorithm)
    _sub(reference, "DigestMethod", ns=DS, Algorithm=_SHA256)
    _sub(reference, "DigestValue", digest, ns=DS)


def _method_of(key) -> str:
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return _SIGNATURE_METHODS[key.curve.key_size]
    if isinstance(key, rsa.RSAPrivateKey):
        return _RSA_SHA256
    raise TypeError("trust lists are signed with an EC or RSA key")


def _signature_value(key, signed_info_c14n: bytes) -> bytes:
    """The XML-DSig signature value made by ``key`` (the HSM's, in service: cryptography's
    sign() interface is all it needs)."""
    from cryptography.hazmat.primitives.asymmetric import padding, utils

    if isinstance(key, ec.EllipticCurvePrivateKey):
        size = key.curve.key_size
        r, s = utils.decode_dss_signature(
            key.sign(signed_info_c14n, ec.ECDSA(_EC_HASHES[size]())))
        width = (size + 7) // 8  # XML-DSig 1.1: r then s, each left-padded to the key size
        return r.to_bytes(width, "big") + s.to_bytes(width, "big")
    return key.sign(signed_info_c14n, padding.PKCS1v15(), hashes.SHA256())


def _sign(root: etree._Element, key, signer_certificate: x509.Certificate,
          signing_time: datetime) -> bytes:
    """Append an enveloped XAdES baseline-B signature (TS 119 612 annex B, EN 319 132-1) and
    return the signed document: the list by URI="" with the enveloped-signature transform
    then exclusive c14n, the SignedProperties (SigningTime, SigningCertificateV2,
    DataObjectFormat) by its Id, every reference naming its transforms; the signer's
    certificate alone in KeyInfo (clause 5.7.1)."""
    data_digest = _digest(_c14n(root))  # before the signature is in it: the enveloped view
    signature = _sub(root, "Signature", ns=DS, Id="tsl-signature")
    signed_info = _sub(signature, "SignedInfo", ns=DS)
    _sub(signed_info, "CanonicalizationMethod", ns=DS, Algorithm=_EXC_C14N)
    _sub(signed_info, "SignatureMethod", ns=DS, Algorithm=_method_of(key))
    value = _sub(signature, "SignatureValue", ns=DS)
    key_info = _sub(signature, "KeyInfo", ns=DS)
    certificate_b64 = _certificate_b64(signer_certificate)
    _sub(_sub(key_info, "X509Data", ns=DS), "X509Certificate", certificate_b64, ns=DS)
    qualifying = _sub(_sub(signature, "Object", ns=DS), "QualifyingProperties", ns=XADES,
                      Target="#tsl-signature")
    properties = _sub(qualifying, "SignedProperties", ns=XADES, Id="tsl-signed-properties")
    signature_properties = _sub(properties, "SignedSignatureProperties", ns=XADES)
    _sub(signature_properties, "SigningTime", _whole_second(signing_time), ns=XADES)
    cert = _sub(_sub(signature_properties, "SigningCertificateV2", ns=XADES), "Cert", ns=XADES)
    cert_digest = _sub(cert, "CertDigest", ns=XADES)
    _sub(cert_digest, "DigestMethod", ns=DS, Algorithm=_SHA256)
    _sub(cert_digest, "DigestValue", _digest(signer_certificate.public_bytes(
        serialization.Encoding.DER)), ns=DS)
    data_format = _sub(_sub(properties, "SignedDataObjectProperties", ns=XADES),
                       "DataObjectFormat", ns=XADES, ObjectReference="#tsl-reference")
    _sub(data_format, "MimeType", "text/xml", ns=XADES)
    _reference(signed_info, "", data_digest, (_ENVELOPED, _EXC_C14N), Id="tsl-reference")
    _reference(signed_info, "#tsl-signed-properties", _digest(_c14n(properties)), (_EXC_C14N,),
               Type=_SIGNED_PROPERTIES)
    value.text = base64.b64encode(_signature_value(key, _c14n(signed_info))).decode()
    return etree.tostring(root.getroottree(), xml_declaration=True, encoding="UTF-8")


def sign_trust_list_xml(trust_list: TrustList, key, signer_certificate: x509.Certificate
                        ) -> bytes:
    """The signed XML of ``trust_list`` (``key``: an HSM-backed key in service)."""
    return _sign(trust_list_element(trust_list), key, signer_certificate, trust_list.issued_at)


def sign_list_of_lists(lotl: ListOfLists, key, signer_certificate: x509.Certificate) -> bytes:
    return _sign(list_of_lists_element(lotl), key, signer_certificate, lotl.issued_at)


# -- reading ----------------------------------------------------------------------------
def is_xml(data: bytes | str) -> bool:
    head = data[:64].lstrip() if isinstance(data, bytes) else data[:64].lstrip().encode()
    return head.startswith((b"<", b"\xef\xbb\xbf<"))


def _parse(data: bytes | str) -> etree._Element:
    if isinstance(data, str):
        data = data.encode("utf-8")
    if len(data) > MAX_LIST_BYTES:
        raise TrustListError("trust list is too large")
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False,
                             remove_comments=False)
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        raise TrustListError(f"not a trust list: XML does not parse ({exc})") from exc
    tree = root.getroottree()
    if tree.docinfo.internalDTD is not None or tree.docinfo.externalDTD is not None:
        raise TrustListError("not a trust list: DTDs are refused")
    if root.tag != f"{{{TSL}}}TrustServiceStatusList":
        raise TrustListError("not a trust list: the root is not tsl:TrustServiceStatusList")
    return root


def _one(parent, path: str):
    found = parent.findall(path, _PATH_NS)
    if len(found) != 1:
        raise TrustListError(f"malformed trust list: {len(found)} {path} in "
                             f"{etree.QName(parent).localname}")
    return found[0]


def _all(parent, path: str) -> list:
    return parent.findall(path, _PATH_NS)


def _text(parent, path: str) -> str:
    return (_one(parent, path).text or "").strip()


def _time(parent, path: str, exact: str | None) -> datetime:
    whole = _parse_time(_text(parent, path))
    if exact is None:
        return whole
    precise = _parse_time(exact)
    if precise.replace(microsecond=0) != whole:
        raise TrustListError(f"malformed trust list: {path} {whole.isoformat()} and its exact "
                             f"time {precise.isoformat()} disagree")
    return precise


def _parse_time(text: str) -> datetime:
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise TrustListError(f"malformed trust list: not a time: {text!r}") from exc
    if when.tzinfo is None:
        raise TrustListError(f"malformed trust list: time without zone: {text!r}")
    return when.astimezone(UTC)


def _certificate(text: str | None) -> x509.Certificate:
    try:
        return x509.load_der_x509_certificate(
            base64.b64decode("".join((text or "").split()), validate=True))
    except ValueError as exc:
        raise TrustListError(f"malformed trust list: unreadable certificate ({exc})") from exc


def _refuse_unknown_critical(parent) -> None:
    """Clause 5.3.17 / annex B: a list with a critical extension we do not know is refused."""
    for extension in _all(parent, "tsl:Extension"):
        if extension.get("Critical") in ("true", "1"):
            raise TrustListError("trust list has a critical extension this reader does not know")


def _scheme(root) -> tuple[etree._Element, etree._Element]:
    info = _one(root, "tsl:SchemeInformation")
    if _text(info, "tsl:TSLVersionIdentifier") not in ("5", "6"):
        raise TrustListError("trust list version is not 5 or 6 (TS 119 612 v2)")
    extensions = _all(info, "tsl:SchemeExtensions")
    for holder in extensions:
        _refuse_unknown_critical(holder)
    scheme = _all(info, "tsl:SchemeExtensions/tsl:Extension/cs:Scheme")
    if len(scheme) != 1:
        raise TrustListError("not a certseal trust list: no scheme extension naming its region")
    return info, scheme[0]


def claimed_signer(data: bytes | str) -> x509.Certificate:
    """The certificate an XML list says it is signed by (not yet verified)."""
    root = _parse(data)
    certificates = _all(root, "ds:Signature/ds:KeyInfo/ds:X509Data/ds:X509Certificate")
    if len(certificates) != 1:
        raise TrustListError("trust list has no single signer certificate in its ds:KeyInfo")
    return _certificate(certificates[0].text)


def claimed_region(data: bytes | str) -> tuple[str, bool]:
    """(region code, is a list of lists) as the list claims, before its signature is checked:
    only to find the pin it must then verify against."""
    root = _parse(data)
    info, scheme = _scheme(root)
    code = scheme.get("regionCode") or ""
    return code, _text(info, "tsl:TSLType") == LOTL_TYPE


def _verified_root(data: bytes | str, pinned_signer: x509.Certificate) -> etree._Element:
    """The list as its signature covers it (signxml's answer, never the parsed input: what
    is read is what was signed, whatever else the bytes hold)."""
    from signxml.exceptions import InvalidInput, InvalidSignature
    from signxml.xades import XAdESSignatureConfiguration, XAdESVerifier

    if isinstance(data, str):
        data = data.encode("utf-8")
    claimed = claimed_signer(data)
    if claimed != pinned_signer:
        from ca.trustlist import fingerprint

        raise TrustListError("trust list is signed by " + fingerprint(claimed)
                             + ", not by the pinned list signer " + fingerprint(pinned_signer))
    methods, digests = _accepted()
    try:
        results = XAdESVerifier().verify(
            data, x509_cert=pinned_signer,
            expect_config=XAdESSignatureConfiguration(
                expect_references=2, signature_methods=methods,
                digest_algorithms=digests))
    except (InvalidSignature, InvalidInput, ValueError) as exc:
        raise TrustListError(f"trust list signature does not verify: {exc}") from exc
    root = results[0].signed_xml
    if root is None or root.tag != f"{{{TSL}}}TrustServiceStatusList":
        raise TrustListError("trust list signature does not cover a TrustServiceStatusList")
    return root


def _accepted():
    from signxml import DigestAlgorithm, SignatureMethod

    return (frozenset({SignatureMethod.ECDSA_SHA256, SignatureMethod.ECDSA_SHA384,
                       SignatureMethod.ECDSA_SHA512, SignatureMethod.RSA_SHA256}),
            frozenset({DigestAlgorithm.SHA256}))


def _service_type(information) -> str:
    uri = _text(information, "tsl:ServiceTypeIdentifier")
    if uri == CA_PKC:
        marks = {(u.text or "").strip() for u in _all(
            information, "tsl:ServiceInformationExtensions/tsl:Extension/"
                         "tsl:AdditionalServiceInformation/tsl:URI")}
        return "root-ca" if ROOT_CA_INFO in marks else "issuing-ca"
    if uri not in _TYPE_OF_URI:
        raise TrustListError(f"trust list names a service type this reader does not know: {uri}")
    return _TYPE_OF_URI[uri]


def _status(information) -> StatusChange:
    for holder in _all(information, "tsl:ServiceInformationExtensions"):
        _refuse_unknown_critical(holder)
    uri = _text(information, "tsl:ServiceStatus")
    if uri not in _STATUS_OF_URI:
        raise TrustListError(f"trust list names a service status this reader does not know: {uri}")
    exact = _all(information, "tsl:ServiceInformationExtensions/tsl:Extension/"
                              "cs:StatusStartingTime")
    return StatusChange(_STATUS_OF_URI[uri], _time(information, "tsl:StatusStartingTime",
                                                   exact[0].text if exact else None))


def _trust_list_of(root) -> TrustList:
    info, scheme = _scheme(root)
    if _text(info, "tsl:TSLType") != TSL_TYPE:
        raise TrustListError("not a region's trust list (TSLType is not " + TSL_TYPE + ")")
    services_xml = _all(root, "tsl:TrustServiceProviderList/tsl:TrustServiceProvider/"
                              "tsl:TSPServices/tsl:TSPService")
    if len(services_xml) > MAX_SERVICES:
        raise TrustListError("trust list services must be a list of bounded size")
    services = []
    for element in services_xml:
        information = _one(element, "tsl:ServiceInformation")
        service_type = _service_type(information)
        if service_type not in SERVICE_TYPES:  # pragma: no cover - the maps hold only these
            raise TrustListError(f"unknown service type {service_type}")
        certificate = _certificate(_text(information,
                                         "tsl:ServiceDigitalIdentity/tsl:DigitalId/"
                                         "tsl:X509Certificate"))
        earlier = []
        for instance in _all(element, "tsl:ServiceHistory/tsl:ServiceHistoryInstance"):
            if _service_type(instance) != service_type:
                raise TrustListError("a service's history names another service type")
            ski = _text(instance, "tsl:ServiceDigitalIdentity/tsl:DigitalId/tsl:X509SKI")
            if base64.b64decode(ski) != _ski(certificate):
                raise TrustListError("a service's history names another key")
            earlier.append(_status(instance))
        name = _text(information, "tsl:ServiceName/tsl:Name[@xml:lang='en']")
        try:
            services.append(TrustService(service_type=service_type, name=name,
                                         certificate=certificate,
                                         history=(*reversed(earlier), _status(information))))
        except ValueError as exc:
            raise TrustListError(f"malformed trust list: {exc}") from exc
    extensions = _all(scheme, "cs:Extensions")
    try:
        return TrustList(
            region_code=scheme.get("regionCode") or "",
            region_name=_text(info, "tsl:SchemeOperatorName/tsl:Name[@xml:lang='zh']"),
            sequence_number=int(_text(info, "tsl:TSLSequenceNumber")),
            issued_at=_time(info, "tsl:ListIssueDateTime", scheme.get("issuedAt")),
            next_update=_time(info, "tsl:NextUpdate/tsl:dateTime", scheme.get("nextUpdate")),
            services=tuple(services), base_url=scheme.get("baseUrl"),
            extensions=json.loads(extensions[0].text) if extensions else {})
    except ValueError as exc:
        raise TrustListError(f"malformed trust list: {exc}") from exc


def read_trust_list_xml(data: bytes | str, pinned_signer: x509.Certificate) -> SignedTrustList:
    """Verify an XML list against the pinned list-signer certificate and read it."""
    root = _verified_root(data, pinned_signer)
    text = data.decode("utf-8") if isinstance(data, bytes) else data
    return SignedTrustList(_trust_list_of(root), pinned_signer, text.strip(), format="xml")


def read_list_of_lists(data: bytes | str, pinned_signer: x509.Certificate) -> SignedListOfLists:
    root = _verified_root(data, pinned_signer)
    info, scheme = _scheme(root)
    if _text(info, "tsl:TSLType") != LOTL_TYPE:
        raise TrustListError("not a list of lists (TSLType is not " + LOTL_TYPE + ")")
    if _all(root, "tsl:TrustServiceProviderList"):
        raise TrustListError("a list of lists lists no services of its own")
    pointers_xml = _all(info, "tsl:PointersToOtherTSL/tsl:OtherTSLPointer")
    if len(pointers_xml) > MAX_POINTERS:
        raise TrustListError("too many pointers in the list of lists")
    pointers = []
    for element in pointers_xml:
        regions = _all(element, "tsl:AdditionalInformation/tsl:OtherInformation/cs:Region")
        if len(regions) != 1:
            raise TrustListError("a pointer of the list of lists names no region")
        mime = _all(element, "tsl:AdditionalInformation/tsl:OtherInformation/tslx:MimeType")
        try:
            pointers.append(TslPointer(
                region_code=regions[0].get("code") or "",
                region_name=_text(element, "tsl:AdditionalInformation/tsl:OtherInformation/"
                                           "tsl:SchemeOperatorName/tsl:Name[@xml:lang='zh']"),
                location=_text(element, "tsl:TSLLocation"),
                signer_certificates=tuple(_certificate(c.text) for c in _all(
                    element, "tsl:ServiceDigitalIdentities/tsl:ServiceDigitalIdentity/"
                             "tsl:DigitalId/tsl:X509Certificate")),
                mime_type=(mime[0].text or "").strip() if mime else MEDIA_TYPE))
        except ValueError as exc:
            raise TrustListError(f"malformed list of lists: {exc}") from exc
    try:
        lotl = ListOfLists(
            operator_code=scheme.get("regionCode") or "",
            operator_name=_text(info, "tsl:SchemeOperatorName/tsl:Name[@xml:lang='zh']"),
            sequence_number=int(_text(info, "tsl:TSLSequenceNumber")),
            issued_at=_time(info, "tsl:ListIssueDateTime", scheme.get("issuedAt")),
            next_update=_time(info, "tsl:NextUpdate/tsl:dateTime", scheme.get("nextUpdate")),
            pointers=tuple(pointers), base_url=scheme.get("baseUrl"))
    except ValueError as exc:
        raise TrustListError(f"malformed list of lists: {exc}") from exc
    text = data.decode("utf-8") if isinstance(data, bytes) else data
    return SignedListOfLists(lotl, pinned_signer, text.strip())


def fingerprint_hex(certificate: x509.Certificate) -> str:
    return certificate.fingerprint(hashes.SHA256()).hex()


def read_signed_trust_list(data: bytes | str, pinned_signer: x509.Certificate
                           ) -> SignedTrustList:
    """A region's signed list in either form (XML when it starts with '<', else a JWS)."""
    from ca.trustlist import read_trust_list

    if is_xml(data):
        return read_trust_list_xml(data, pinned_signer)
    return read_trust_list(data, pinned_signer)
