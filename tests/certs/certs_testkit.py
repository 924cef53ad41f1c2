"""Helpers shared by the certs tests (a unique module name: tests/ has no packages)."""

import datetime as dt

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from certs.canonical import data_digest
from certs.catalogue import load_catalogue
from certs.identifiers import mask_identifier
from certs.qr import QrClaims
from certs.samples import SAMPLE_ISSUER_NAME, SAMPLE_ISSUER_USCC
from certs.validation import holder_of, validity_of

ISSUED_AT = dt.datetime(2024, 5, 1, 9, 30, tzinfo=dt.UTC)


def der_signer(key):
    return lambda message: key.sign(message, ec.ECDSA(hashes.SHA256()))


def make_claims(code, data, licence_id):
    licence_type = load_catalogue().get(code)
    identifier, name = holder_of(licence_type, data)
    valid_from, valid_until = validity_of(licence_type, data)
    return QrClaims(
        kid=b"\x01\x02\x03\x04\x05\x06\x07\x08", licence_id=str(licence_id), type_code=code,
        holder_name=name, holder_id_masked=mask_identifier(identifier),
        valid_from=valid_from, valid_until=valid_until, issuer_name=SAMPLE_ISSUER_NAME,
        issuer_uscc=SAMPLE_ISSUER_USCC, issued_at=ISSUED_AT, data_digest=data_digest(data),
    )
