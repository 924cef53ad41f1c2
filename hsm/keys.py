"""Private keys that live in the HSM, shaped as `cryptography` private keys.

They subclass cryptography's abstract key classes and forward `.sign()` to PKCS#11, so the
stock CertificateBuilder, CertificateRevocationListBuilder and OCSPResponseBuilder sign
through the token. Hashing happens here, in Python: SoftHSM2 2.6 has no CKM_ECDSA_SHA256,
and hashing locally keeps the time spent under the process-wide PKCS#11 lock short.
"""

from __future__ import annotations

from typing import NoReturn, Protocol

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa, utils
from cryptography.hazmat.primitives.asymmetric import padding as rsa_padding
from pkcs11 import MGF, Mechanism

from hsm.errors import UnsupportedKey


class RawSigner(Protocol):
    """What a key needs from its token: one raw PKCS#11 signature by key label."""

    def sign_raw(
        self, label: str, mechanism: Mechanism, data: bytes,
        mechanism_param: tuple[Mechanism, MGF, int] | None = None,
    ) -> bytes: ...


# DER DigestInfo prefixes (RFC 8017 §9.2 note 1): CKM_RSA_PKCS signs DigestInfo || digest.
_DIGEST_INFO_PREFIX: dict[str, bytes] = {
    "sha224": bytes.fromhex("302d300d06096086480165030402040500041c"),
    "sha256": bytes.fromhex("3031300d060960864801650304020105000420"),
    "sha384": bytes.fromhex("3041300d060960864801650304020205000430"),
    "sha512": bytes.fromhex("3051300d060960864801650304020305000440"),
}
_PSS_HASH: dict[str, tuple[Mechanism, MGF]] = {
    "sha224": (Mechanism.SHA224, MGF.SHA224),
    "sha256": (Mechanism.SHA256, MGF.SHA256),
    "sha384": (Mechanism.SHA384, MGF.SHA384),
    "sha512": (Mechanism.SHA512, MGF.SHA512),
}
_ECDSA_HASHES = frozenset({"sha224", "sha256", "sha384", "sha512"})


def _digest(data: bytes, algorithm: hashes.HashAlgorithm | utils.Prehashed) -> tuple[
    bytes, hashes.HashAlgorithm
]:
    if isinstance(algorithm, utils.Prehashed):
        hash_algorithm = algorithm._algorithm  # the public accessor is typed as private
        if len(data) != hash_algorithm.digest_size:
            raise ValueError(
                f"prehashed data is {len(data)} bytes; {hash_algorithm.name} digests are "
                f"{hash_algorithm.digest_size}"
            )
        return data, hash_algorithm
    digest = hashes.Hash(algorithm)
    digest.update(data)
    return digest.finalize(), algorithm


def _refuse_export(label: str) -> NoReturn:
    raise UnsupportedKey(
        f"private key {label!r} lives in the HSM and is not extractable; "
        "use public_key() for the public half"
    )


class _TokenKey:
    """What both key classes share: a label on the token, its public half, and the
    refusal to leave the HSM. (Listed before the cryptography base class, so these
    methods are the concrete ones its ABC asks for.)"""

    def __init__(self, signer: RawSigner, label: str, public_key) -> None:
        self._signer = signer
        self.label = label
        self._public_key = public_key

    def public_key(self):
        return self._public_key

    def private_numbers(self) -> NoReturn:
        _refuse_export(self.label)

    def private_bytes(
        self,
        encoding: serialization.Encoding,
        format: serialization.PrivateFormat,
        encryption_algorithm: serialization.KeySerializationEncryption,
    ) -> bytes:
        _refuse_export(self.label)

    def __copy__(self):
        return self  # a handle on an HSM object: nothing to copy

    def __deepcopy__(self, memo: dict):
        return self


class HsmEcPrivateKey(_TokenKey, ec.EllipticCurvePrivateKey):
    """An EC private key on the token: ECDSA by raw CKM_ECDSA over a local hash."""

    def sign(self, data: bytes, signature_algorithm: ec.EllipticCurveSignatureAlgorithm) -> bytes:
        if not isinstance(signature_algorithm, ec.ECDSA):
            raise UnsupportedKey(
                f"key {self.label!r} signs only ECDSA, not {type(signature_algorithm).__name__}"
            )
        if signature_algorithm.deterministic_signing:
            raise UnsupportedKey(
                f"key {self.label!r}: deterministic ECDSA (RFC 6979) is not offered by the HSM"
            )
        digest, hash_algorithm = _digest(data, signature_algorithm.algorithm)
        if hash_algorithm.name not in _ECDSA_HASHES:
            raise UnsupportedKey(f"key {self.label!r}: ECDSA with {hash_algorithm.name}")
        raw = self._signer.sign_raw(self.label, Mechanism.ECDSA, digest)
        half = len(raw) // 2
        return utils.encode_dss_signature(
            int.from_bytes(raw[:half], "big"), int.from_bytes(raw[half:], "big")
        )

    @property
    def curve(self) -> ec.EllipticCurve:
        return self._public_key.curve

    @property
    def key_size(self) -> int:
        return self._public_key.curve.key_size

    def exchange(self, algorithm: ec.ECDH, peer_public_key: ec.EllipticCurvePublicKey) -> bytes:
        raise UnsupportedKey(f"key {self.label!r} is a signing key; ECDH is not allowed")

    def __repr__(self) -> str:
        return f"<HsmEcPrivateKey label={self.label!r} curve={self.curve.name}>"


class HsmRsaPrivateKey(_TokenKey, rsa.RSAPrivateKey):
    """An RSA private key on the token: PKCS#1 v1.5 and PSS over a local hash."""

    def sign(
        self,
        data: bytes,
        padding: rsa_padding.AsymmetricPadding,
        algorithm: hashes.HashAlgorithm | utils.Prehashed,
    ) -> bytes:
        digest, hash_algorithm = _digest(data, algorithm)
        if isinstance(padding, rsa_padding.PKCS1v15):
            prefix = _DIGEST_INFO_PREFIX.get(hash_algorithm.name)
            if prefix is None:
                raise UnsupportedKey(f"key {self.label!r}: PKCS#1 v1.5 with {hash_algorithm.name}")
            return self._signer.sign_raw(self.label, Mechanism.RSA_PKCS, prefix + digest)
        if isinstance(padding, rsa_padding.PSS):
            return self._signer.sign_raw(
                self.label, Mechanism.RSA_PKCS_PSS, digest,
                self._pss_params(padding, hash_algorithm),
            )
        raise UnsupportedKey(f"key {self.label!r}: padding {padding.name}")

    def _pss_params(
        self, pss: rsa_padding.PSS, hash_algorithm: hashes.HashAlgorithm
    ) -> tuple[Mechanism, MGF, int]:
        mgf = pss.mgf
        if not isinstance(mgf, rsa_padding.MGF1) or mgf._algorithm.name != hash_algorithm.name:
            # PKCS#11 allows other MGF hashes, but certificates and CMS never use them.
            raise UnsupportedKey(f"key {self.label!r}: PSS needs MGF1 with the message hash")
        pair = _PSS_HASH.get(hash_algorithm.name)
        if pair is None:
            raise UnsupportedKey(f"key {self.label!r}: PSS with {hash_algorithm.name}")
        salt = pss._salt_length
        if isinstance(salt, int):
            salt_length = salt
        elif salt is rsa_padding.PSS.DIGEST_LENGTH:
            salt_length = hash_algorithm.digest_size
        elif salt is rsa_padding.PSS.MAX_LENGTH:
            em_len = (self.key_size - 1 + 7) // 8
            salt_length = em_len - hash_algorithm.digest_size - 2
        else:
            raise ValueError("PSS salt length AUTO is only for verification")
        return pair[0], pair[1], salt_length

    @property
    def key_size(self) -> int:
        return self._public_key.key_size

    def decrypt(self, ciphertext: bytes, padding: rsa_padding.AsymmetricPadding) -> bytes:
        raise UnsupportedKey(f"key {self.label!r} is a signing key; decryption is not allowed")

    def __repr__(self) -> str:
        return f"<HsmRsaPrivateKey label={self.label!r} bits={self.key_size}>"

HsmPrivateKey = HsmEcPrivateKey | HsmRsaPrivateKey
