"""Distinguished names and the identifiers they carry.

Pure functions of the inputs: region (GB/T 2260 6-digit code and its name), the unified
social credit code of a department (GB 32100) and the ETSI EN 319 412-1 organizationIdentifier
built from it. Bad input raises TypeError/ValueError at once.
"""

from __future__ import annotations

from cryptography import x509
from cryptography.x509.oid import NameOID

# GB 32100: 31 characters, the digits and the capitals without I, O, S, V, Z.
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = tuple(pow(3, i, 31) for i in range(17))


def _text(value: object, field: str, *, max_length: int = 64) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{field} must be a str, not {type(value).__name__}")
    if not value.strip() or value != value.strip():
        raise ValueError(f"{field} must be non-empty and without surrounding spaces")
    # RFC 5280 upper bounds: ub-common-name and ub-organization-name are 64 characters.
    if len(value) > max_length:
        raise ValueError(f"{field} is longer than {max_length} characters")
    return value


def check_region_code(region_code: object) -> str:
    """A 6-digit administrative division code (e.g. 440000 Guangdong)."""
    if not isinstance(region_code, str):
        raise TypeError(f"region_code must be a str, not {type(region_code).__name__}")
    if len(region_code) != 6 or not region_code.isascii() or not region_code.isdigit():
        raise ValueError(f"region_code must be 6 digits, got {region_code!r}")
    return region_code


def check_region_name(region_name: object) -> str:
    return _text(region_name, "region_name")


def check_department_name(department_name: object) -> str:
    return _text(department_name, "department_name")


def uscc_check_character(first17: str) -> str:
    """The GB 32100 check character for the first 17 characters of a USCC."""
    total = sum(USCC_ALPHABET.index(ch) * w for ch, w in zip(first17, _USCC_WEIGHTS, strict=True))
    return USCC_ALPHABET[(31 - total % 31) % 31]


def check_uscc(uscc: object) -> str:
    """Return the unified social credit code if its shape and check character are right."""
    if not isinstance(uscc, str):
        raise TypeError(f"uscc must be a str, not {type(uscc).__name__}")
    if len(uscc) != 18:
        raise ValueError(f"uscc must be 18 characters, got {len(uscc)}")
    bad = sorted({ch for ch in uscc if ch not in USCC_ALPHABET})
    if bad:
        raise ValueError(f"uscc has characters outside the GB 32100 alphabet: {''.join(bad)}")
    expected = uscc_check_character(uscc[:17])
    if uscc[17] != expected:
        raise ValueError(f"uscc check character is {uscc[17]!r}, expected {expected!r}")
    return uscc


def organization_identifier(uscc: str) -> str:
    """ETSI EN 319 412-1 §5.1.4 semantics: NTR (national trade register) + country + '-' + id."""
    return f"NTRCN-{check_uscc(uscc)}"


def _name(*attributes: tuple[x509.ObjectIdentifier, str]) -> x509.Name:
    return x509.Name([x509.NameAttribute(oid, value) for oid, value in attributes])


def root_ca_name(region_code: str, region_name: str) -> x509.Name:
    return _name(
        (NameOID.COUNTRY_NAME, "CN"),
        (NameOID.ORGANIZATION_NAME, check_region_name(region_name)),
        (NameOID.COMMON_NAME, f"certseal Root CA {check_region_code(region_code)}"),
    )


def region_service_name(region_code: str, region_name: str, service: str) -> x509.Name:
    """Name of a service of the region: 'Issuing CA', 'Time-Stamping Authority', ..."""
    region_name = check_region_name(region_name)
    return _name(
        (NameOID.COUNTRY_NAME, "CN"),
        (NameOID.ORGANIZATION_NAME, region_name),
        (NameOID.COMMON_NAME,
         _text(f"{region_name} {service} {check_region_code(region_code)}", "common name")),
    )


def eseal_subject_name(department_name: str, uscc: str, region_name: str) -> x509.Name:
    """C=CN, ST=region, O=department, organizationIdentifier=NTRCN-<USCC>, CN=department."""
    department_name = check_department_name(department_name)
    return _name(
        (NameOID.COUNTRY_NAME, "CN"),
        (NameOID.STATE_OR_PROVINCE_NAME, check_region_name(region_name)),
        (NameOID.ORGANIZATION_NAME, department_name),
        (NameOID.ORGANIZATION_IDENTIFIER, organization_identifier(uscc)),
        (NameOID.COMMON_NAME, department_name),
    )
