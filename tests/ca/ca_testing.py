"""Constants and helpers of the CA tests (imported by conftest.py and the tests)."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from sqlalchemy.engine import Engine

from ca.hierarchy import HierarchyKeys, LabelledKey, TrustDomainCertificates

REGION_CODE = "440000"
REGION_NAME = "广东省"
BASE_URL = "https://pki.example.gd.cn"
DEPARTMENT = "广东省市场监督管理局"
USCC = "91350100M000100Y43"  # the worked example of GB 32100


def software_keys() -> HierarchyKeys:
    def key(label: str) -> LabelledKey:
        return LabelledKey(ec.generate_private_key(ec.SECP256R1()), label)

    return HierarchyKeys(root=key("ca-root"), issuing=key("ca-issuing"), tsa=key("tsa"),
                         ocsp=key("ocsp-signer"), trust_list=key("trust-list-signer"))


@dataclass(frozen=True)
class Domain:
    engine: Engine
    keys: HierarchyKeys
    certificates: TrustDomainCertificates
    now: datetime


class FailingKey(ec.EllipticCurvePrivateKey):
    """A key that signs `good_signatures` times, then fails as a broken HSM would."""

    def __init__(self, key: ec.EllipticCurvePrivateKey, good_signatures: int = 0) -> None:
        self._key = key
        self._left = good_signatures

    def sign(self, data, signature_algorithm):
        if self._left <= 0:
            raise OSError("device error (simulated)")
        self._left -= 1
        return self._key.sign(data, signature_algorithm)

    @property
    def curve(self):
        return self._key.curve

    @property
    def key_size(self):
        return self._key.key_size

    def public_key(self):
        return self._key.public_key()

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


def write_pem(path: Path, *items: x509.Certificate | x509.CertificateRevocationList) -> Path:
    path.write_bytes(b"".join(item.public_bytes(Encoding.PEM) for item in items))
    return path


def openssl(*args: str | Path) -> subprocess.CompletedProcess[str]:
    """Run openssl; the caller asserts on return code and output."""
    return subprocess.run(["openssl", *map(str, args)], capture_output=True, text=True,
                          timeout=30, check=False)
