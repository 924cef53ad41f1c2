import pytest
from certs_testkit import ISSUED_AT, der_signer, make_claims
from cryptography.hazmat.primitives.asymmetric import ec

from certs.catalogue import load_catalogue
from certs.licence_id import LicenceId
from certs.qr import encode_qr_payload
from certs.render import render_licence_pdf
from certs.samples import (
    SAMPLE_ISSUER_NAME,
    SAMPLE_ISSUER_USCC,
    sample_licence_data,
    sample_type_codes,
)
from certs.validation import validate_licence_data


@pytest.fixture(scope="session")
def signing_key():
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture(scope="session")
def rendered(signing_key, tmp_path_factory):
    """code -> (pdf path, data, qr text, licence id) for every shipped type, rendered once."""
    catalogue = load_catalogue()
    out = tmp_path_factory.mktemp("render")
    result = {}
    for serial, code in enumerate(sample_type_codes(), start=1):
        licence_type = catalogue.get(code)
        data = validate_licence_data(licence_type, sample_licence_data(code))
        licence_id = LicenceId(code, SAMPLE_ISSUER_USCC, serial, 1)
        qr_text = encode_qr_payload(make_claims(code, data, licence_id), der_signer(signing_key))
        pdf = render_licence_pdf(licence_type, licence_id, data, SAMPLE_ISSUER_NAME,
                                 ISSUED_AT, qr_text)
        path = out / f"{code}.pdf"
        path.write_bytes(pdf)
        result[code] = (path, data, qr_text, licence_id)
    return result
