"""A pyHanko `Signer` over any `cryptography` private key object (software or HSM-backed).

Why not pyHanko's own signers:
- `SimpleSigner` (0.38) takes an asn1crypto `PrivateKeyInfo` and reloads it with
  `load_der_private_key` for every signature, so it needs the private key bytes; an HSM key
  has none.
- `PKCS11Signer(use_raw_mechanism=True)` over `Token.session()` would have to hold the
  process-wide PKCS#11 lock for the whole signing run, because it looks up objects on the
  session and then calls C_Sign from an executor thread. Holding it that long serialises
  every other HSM user (the TSA, OCSP, other seals) behind 30 ms of asn1crypto encoding, and
  its executor thread would be signing on a session our thread has locked. `HsmEcPrivateKey`
  instead hashes in Python and takes the lock only around the one raw CKM_ECDSA C_Sign.

So: `SealSigner` hands pyHanko the to-be-signed bytes and calls `key.sign(...)`, which is
whatever the key object does (OpenSSL for a software key, PKCS#11 for `hsm.keys` keys).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

from asn1crypto import algos, cms, tsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from pyhanko.sign.attributes import SigningCertificateV2Provider
from pyhanko.sign.general import as_signing_certificate_v2, optimal_pss_params
from pyhanko.sign.signers.pdf_cms import Signer
from pyhanko_certvalidator.registry import SimpleCertificateStore
from pyhanko_certvalidator.util import process_pss_params

from seal.sealing_errors import SealMaterialInvalid

SigningKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey

# ECDSA hashes matched to the curve's strength (as ca.profiles.signature_hash does).
_EC_DIGESTS = {"secp256r1": "sha256", "secp384r1": "sha384", "secp521r1": "sha512"}
_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "sha256": hashes.SHA256, "sha384": hashes.SHA384, "sha512": hashes.SHA512,
}


def to_asn1(certificate: x509.Certificate) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(certificate.public_bytes(serialization.Encoding.DER))


@lru_cache(maxsize=64)
def _asn1_parts(
    certificate_der: bytes, chain_ders: tuple[bytes, ...]
) -> tuple[asn1_x509.Certificate, SimpleCertificateStore]:
    """The signer's certificate and chain as asn1crypto objects, parsed (and their names
    hashed into the store) once per distinct certificate set rather than per signature.
    Keyed by the DER itself: a rotated key or renewed certificate is another key. pyHanko
    only reads these while signing, so signatures in several threads may share them; they
    are parsed in full here because asn1crypto's lazy parsing is not thread-safe."""
    certificate = asn1_x509.Certificate.load(certificate_der)
    chain = [asn1_x509.Certificate.load(d) for d in chain_ders]
    for parsed in (certificate, *chain):
        _ = parsed.native
    return certificate, SimpleCertificateStore.from_certs(chain)


@lru_cache(maxsize=64)
def _signing_certificate_v2_der(certificate_der: bytes) -> bytes:
    return as_signing_certificate_v2(asn1_x509.Certificate.load(certificate_der)).dump()


class _EncodedSigningCertificateV2(SigningCertificateV2Provider):
    """pyHanko's signing-certificate-v2 value, encoded once per certificate: built from
    Python values, asn1crypto re-encodes it at every level of every dump of the signed
    attributes (about 2 ms a signature). Loaded from the same DER, the bytes are equal."""

    async def build_attr_value(self, dry_run: bool = False) -> tsp.SigningCertificateV2:
        return tsp.SigningCertificateV2.load(
            _signing_certificate_v2_der(self.signing_cert.dump()))


def signature_mechanism_for(
    key: SigningKey, certificate: x509.Certificate, *, prefer_pss: bool = False
) -> algos.SignedDigestAlgorithm:
    """ecdsa-with-SHA256/384/512 by curve; sha256WithRSAEncryption, or RSASSA-PSS
    (SHA-256, MGF1-SHA-256, maximal salt, as pyHanko chooses) when `prefer_pss`."""
    if isinstance(key, ec.EllipticCurvePrivateKey):
        digest = _EC_DIGESTS.get(key.curve.name)
        if digest is None:
            raise SealMaterialInvalid(f"key: EC curve {key.curve.name} is not supported")
        return algos.SignedDigestAlgorithm({"algorithm": f"{digest}_ecdsa"})
    if isinstance(key, rsa.RSAPrivateKey):
        if key.key_size < 2048:
            raise SealMaterialInvalid(f"key: RSA key of {key.key_size} bits is too small")
        if prefer_pss:
            return algos.SignedDigestAlgorithm({
                "algorithm": "rsassa_pss",
                "parameters": optimal_pss_params(to_asn1(certificate), "sha256"),
            })
        return algos.SignedDigestAlgorithm({"algorithm": "sha256_rsa"})
    raise SealMaterialInvalid(f"key: must be an EC or RSA private key, not {type(key).__name__}")


def _same_public_key(key: SigningKey, certificate: x509.Certificate) -> bool:
    spki = (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return key.public_key().public_bytes(*spki) == certificate.public_key().public_bytes(*spki)


class SealSigner(Signer):
    """Signs CMS signed attributes with `key`, certified by `certificate`.

    `chain` (issuing CA, root, ...) goes into the CMS certificate set. Signing is blocking
    (an HSM round trip); run sealing off the event loop (see `seal.pades`).
    """

    def __init__(
        self,
        key: SigningKey,
        certificate: x509.Certificate,
        chain: Sequence[x509.Certificate] = (),
        *,
        prefer_pss: bool = False,
        embed_roots: bool = True,
    ) -> None:
        mechanism = signature_mechanism_for(key, certificate, prefer_pss=prefer_pss)
        if not _same_public_key(key, certificate):
            raise SealMaterialInvalid("key: is not the key certified by the seal certificate")
        der = serialization.Encoding.DER
        signing_cert, registry = _asn1_parts(
            certificate.public_bytes(der), tuple(c.public_bytes(der) for c in chain))
        super().__init__(
            prefer_pss=prefer_pss,
            embed_roots=embed_roots,
            signature_mechanism=mechanism,
            signing_cert=signing_cert,
            cert_registry=registry,
        )
        self._key = key

    def _raw_signature_size(self) -> int:
        if isinstance(self._key, rsa.RSAPrivateKey):
            return (self._key.key_size + 7) // 8
        # DER ECDSA-Sig-Value at its largest: SEQUENCE { INTEGER r, INTEGER s }, each
        # integer one byte longer than the coordinate when its top bit is set.
        coordinate = (self._key.curve.key_size + 7) // 8
        integer = 2 + coordinate + 1
        body = 2 * integer
        return body + (2 if body < 128 else 3)

    # asn1crypto re-encodes a structure built from Python values every time it is dumped,
    # and pyHanko dumps these several times (to sign them, to size and write the CMS).
    # Re-loading the DER once makes every later dump a copy of bytes: same encoding.
    def _signed_attr_providers(self, *args, **kwargs):
        # pyHanko chooses the attributes; only the signing-certificate-v2 value is swapped
        # for the same value encoded once. (Should pyHanko rename this internal hook, the
        # override is merely unused: slower, never different.)
        for provider in super()._signed_attr_providers(*args, **kwargs):
            if type(provider) is SigningCertificateV2Provider:
                yield _EncodedSigningCertificateV2(provider.signing_cert)
            else:
                yield provider

    async def signed_attrs(self, *args, **kwargs) -> cms.CMSAttributes:
        return cms.CMSAttributes.load((await super().signed_attrs(*args, **kwargs)).dump())

    async def unsigned_attrs(self, *args, **kwargs) -> cms.CMSAttributes | None:
        attrs = await super().unsigned_attrs(*args, **kwargs)
        return None if attrs is None else cms.CMSAttributes.load(attrs.dump())

    async def async_sign(self, *args, **kwargs) -> cms.ContentInfo:
        return cms.ContentInfo.load((await super().async_sign(*args, **kwargs)).dump())

    async def async_sign_raw(
        self, data: bytes, digest_algorithm: str, dry_run: bool = False
    ) -> bytes:
        if dry_run:  # size estimation only: never touch the key
            return bytes(self._raw_signature_size())
        return self.sign_raw(data, digest_algorithm)

    def sign_raw(self, data: bytes, digest_algorithm: str) -> bytes:
        """The raw signature (DER ECDSA-Sig-Value or PKCS#1 block) over `data`."""
        mechanism = self.get_signature_mechanism_for_digest(digest_algorithm)
        if mechanism.hash_algo != digest_algorithm:
            # pyHanko picks the document digest from our mechanism; a mismatch would make a
            # CMS whose digestAlgorithm disagrees with its signatureAlgorithm.
            raise SealMaterialInvalid(
                f"digest: {digest_algorithm} does not match the key's {mechanism.hash_algo}"
            )
        hash_cls = _HASHES.get(digest_algorithm)
        if hash_cls is None:
            raise SealMaterialInvalid(f"digest: {digest_algorithm} is not supported")
        if isinstance(self._key, ec.EllipticCurvePrivateKey):
            return self._key.sign(data, ec.ECDSA(hash_cls()))
        if mechanism.signature_algo == "rsassa_pss":
            pss, pss_hash = process_pss_params(mechanism["parameters"])
            return self._key.sign(data, pss, pss_hash)
        return self._key.sign(data, padding.PKCS1v15(), hash_cls())
