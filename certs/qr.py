"""The compact signed QR payload a counter verifies offline (EU DCC recipe, ICAO VDS ideas).

    text = "CSL1:" + base45(zlib(COSE_Sign1(ES256, protected {1: -7, 4: kid}, CBOR claims)))

Base45 keeps the text inside QR alphanumeric mode. The claims map uses small integer
keys to stay short:

    1 licence id   2 type code   3 holder name   4 masked holder identifier
    5 valid from (YYYY-MM-DD)   6 valid until (YYYY-MM-DD, absent when open-ended)
    7 issuer name   8 issuer USCC   9 issued at (epoch seconds, UTC)
    10 SHA-256 of the canonical licence data   11 verification URL (optional)
    12 index in the issuer's signed status list (optional; certs/status_list.py)

The signer never sees a key here: ``sign`` receives the COSE Sig_structure and returns a
DER ECDSA signature (what an HSM-backed key yields); COSE wants raw r||s, converted here.
"""

from __future__ import annotations

import datetime as dt
import io
import zlib
from bisect import bisect_left
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import base45
import cbor2
import qrcode
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)
from PIL import Image
from qrcode import util as qr_util

from certs.base45_decode import b45decode
from certs.errors import QrPayloadError

PREFIX = "CSL1:"
MAX_TEXT_CHARS = 1200  # a version-40 QR holds 4296 alphanumerics; ours are ~400
MAX_INFLATED_BYTES = 2048
COSE_ALG_ES256 = -7
COSE_SIGN1_TAG = 18
_HDR_ALG, _HDR_KID = 1, 4
_SIG_BYTES = 32  # P-256 coordinate size
# The order of P-256's base point: (r, s) and (r, n - s) both verify, so only the low half
# of s is accepted (and made), and a licence has exactly one valid QR text.
_P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
_HALF_ORDER = _P256_ORDER // 2


@dataclass(frozen=True)
class QrClaims:
    kid: bytes  # first 8 bytes of SHA-256 of the signer certificate DER
    licence_id: str
    type_code: str
    holder_name: str
    holder_id_masked: str
    valid_from: dt.date
    valid_until: dt.date | None
    issuer_name: str
    issuer_uscc: str
    issued_at: dt.datetime
    data_digest: bytes
    verify_url: str | None = None
    status_index: int | None = None


@dataclass(frozen=True)
class DecodedQrPayload:
    claims: QrClaims
    kid: bytes
    signed_bytes: bytes  # the COSE Sig_structure the signature covers
    signature: bytes  # raw r||s

    def __iter__(self) -> Iterator[Any]:
        return iter((self.claims, self.kid, self.signed_bytes, self.signature))


def kid_of_certificate(certificate_der: bytes) -> bytes:
    import hashlib

    return hashlib.sha256(certificate_der).digest()[:8]


def encode_qr_payload(claims: QrClaims, sign: Callable[[bytes], bytes]) -> str:
    protected = cbor2.dumps({_HDR_ALG: COSE_ALG_ES256, _HDR_KID: claims.kid})
    payload = cbor2.dumps(_claims_map(claims))
    der = sign(_sig_structure(protected, payload))
    r, s = decode_dss_signature(der)
    if s > _HALF_ORDER:
        s = _P256_ORDER - s
    signature = r.to_bytes(_SIG_BYTES, "big") + s.to_bytes(_SIG_BYTES, "big")
    cose = cbor2.dumps(cbor2.CBORTag(COSE_SIGN1_TAG, [protected, {}, payload, signature]))
    return PREFIX + base45.b45encode(zlib.compress(cose, 9)).decode("ascii")


def decode_qr_payload(text: str) -> DecodedQrPayload:
    """Structure only: does not check the signature (see ``verify_qr_signature``)."""
    if not isinstance(text, str):
        raise QrPayloadError("QR payload must be text")
    text = text.strip()
    if len(text) > MAX_TEXT_CHARS:
        raise QrPayloadError(f"QR payload longer than {MAX_TEXT_CHARS} characters")
    if not text.startswith(PREFIX):
        raise QrPayloadError(f"not a certseal licence QR (expected prefix {PREFIX})")
    try:
        compressed = b45decode(text[len(PREFIX):])  # the library's result, at C speed
    except ValueError:
        raise QrPayloadError("QR payload is not valid base45") from None
    inflater = zlib.decompressobj()
    try:
        cose = inflater.decompress(compressed, MAX_INFLATED_BYTES)
    except zlib.error:
        raise QrPayloadError("QR payload is not valid zlib data") from None
    if inflater.unconsumed_tail or not inflater.eof:
        raise QrPayloadError(
            f"QR payload inflates past {MAX_INFLATED_BYTES} bytes or is truncated"
        )
    try:
        message = cbor2.loads(cose)
    except Exception:  # cbor2 raises several unrelated types on garbage
        raise QrPayloadError("QR payload is not valid CBOR") from None
    if not (isinstance(message, cbor2.CBORTag) and message.tag == COSE_SIGN1_TAG
            and isinstance(message.value, list | tuple) and len(message.value) == 4):
        raise QrPayloadError("QR payload is not a COSE_Sign1 message")
    protected, _unprotected, payload, signature = message.value
    if not all(isinstance(v, bytes) for v in (protected, payload, signature)):
        raise QrPayloadError("COSE_Sign1 fields have the wrong types")
    try:
        header = cbor2.loads(protected)
        claims_map = cbor2.loads(payload)
    except Exception:
        raise QrPayloadError("COSE_Sign1 header or payload is not valid CBOR") from None
    if not isinstance(header, dict) or header.get(_HDR_ALG) != COSE_ALG_ES256:
        raise QrPayloadError("unsupported COSE algorithm (only ES256)")
    kid = header.get(_HDR_KID)
    if not isinstance(kid, bytes) or len(kid) != 8:
        raise QrPayloadError("COSE key identifier missing or not 8 bytes")
    if len(signature) != 2 * _SIG_BYTES:
        raise QrPayloadError("signature is not a P-256 r||s pair")
    claims = _claims_from_map(claims_map, kid)
    return DecodedQrPayload(claims, kid, _sig_structure(protected, payload), signature)


def verify_qr_signature(decoded: DecodedQrPayload, public_key: ec.EllipticCurvePublicKey) -> bool:
    """True when ``public_key`` made the signature and it is canonical (low S); a wrong
    key or bit, or the other S of a genuine signature, is False."""
    r = int.from_bytes(decoded.signature[:_SIG_BYTES], "big")
    s = int.from_bytes(decoded.signature[_SIG_BYTES:], "big")
    if not 0 < s <= _HALF_ORDER:
        return False
    try:
        public_key.verify(encode_dss_signature(r, s), decoded.signed_bytes,
                          ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        return False
    return True


def make_qr_image(text: str, box_size: int = 4, *, mode: str = "1") -> Image.Image:
    """Error correction M, the standard 4-module quiet zone, black on white.

    ``mode`` is the Pillow mode of the result: "1" (bilevel) or "L" (8-bit grey, what the
    licence page embeds). The pixels are those qrcode's own image would have.
    """
    return qr_symbol(text).image(box_size, mode=mode)


def make_qr_png(text: str, box_size: int = 4) -> bytes:
    out = io.BytesIO()
    make_qr_image(text, box_size).save(out, format="PNG")
    return out.getvalue()


# --- The symbol: qrcode encodes, lays out and places the data; the mask search is ours ---
#
# qrcode picks the mask the ISO/IEC 18004 way (lowest penalty of the 8 candidates, the
# first on a tie) but builds and scores each candidate cell by cell in pure Python, about
# three quarters of a QR image's cost. A candidate differs from another only in its data
# cells, so here qrcode places the data once (mask 0), the other seven are XORs of one
# big integer, and the penalty rules are shifts and bit counts on it. The final symbol is
# the chosen candidate plus the format and version cells qrcode lays out for that mask.
# The scores equal qrcode's ``util.lost_point`` and the symbols equal qrcode's own, module
# for module and pixel for pixel (tests/certs/test_qr_image.py).

QR_BORDER = 4  # modules of quiet zone, the standard minimum
_TO_GREY = bytes.maketrans(b"01", b"\xff\x00")
_TO_BINARY_DIGITS = bytes.maketrans(b"\x00\x01", b"01")


@dataclass(frozen=True)
class QrSymbol:
    """A QR symbol without quiet zone: bit ``size - 1 - c`` of ``rows[r]`` is the module at
    row r, column c (1 = dark)."""

    version: int
    mask: int
    rows: tuple[int, ...]

    @property
    def size(self) -> int:
        return len(self.rows)

    def image(self, box_size: int = 4, border: int = QR_BORDER, *,
              mode: str = "1") -> Image.Image:
        """Black modules of ``box_size`` pixels on white, with ``border`` modules of quiet
        zone."""
        if mode not in ("1", "L"):
            raise ValueError(f"QR image mode must be '1' or 'L', not {mode!r}")
        n, side = self.size, self.size + 2 * border
        white_row = b"\xff" * side
        margin = b"\xff" * border
        lines = [white_row] * border
        lines += [margin + format(row, f"0{n}b").encode("ascii").translate(_TO_GREY) + margin
                  for row in self.rows]
        lines += [white_row] * border
        grey = Image.frombytes("L", (side, side), b"".join(lines))
        if box_size != 1:
            grey = grey.resize((side * box_size, side * box_size), Image.Resampling.NEAREST)
        return grey if mode == "L" else grey.convert("1")


def qr_symbol(text: str) -> QrSymbol:
    """The QR symbol (error correction M, smallest version that fits) encoding ``text``."""
    code = _FastMaskQRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=0)
    code.add_data(text)
    code.best_fit()
    mask = code.best_mask_pattern()
    # the chosen test candidate plus the format and version information qrcode writes for
    # that mask: what ``makeImpl(False, mask)`` would place, without placing the data again
    size = code.modules_count
    chosen = code.candidate_by_rows | _dark_function_cells(code.version, mask)
    row_bits = (1 << size) - 1
    rows = tuple((chosen >> ((size - 1 - r) * (size + 1) + 1)) & row_bits for r in range(size))
    return QrSymbol(code.version, mask, rows)


def mask_penalty(rows: Sequence[int], size: int) -> int:
    """The ISO/IEC 18004 penalty score of a candidate symbol (rows as in ``QrSymbol``),
    computed as qrcode's ``util.lost_point`` computes it."""
    lines = [format(row, f"0{size}b") for row in rows]
    by_rows = _packed(lines)
    return _penalty(by_rows, _both(by_rows, _packed(_transposed(lines)), size), size)


# A grid is scored "packed": one integer whose bits, most significant first, are its
# cells line by line (1 dark), each line closed by a 0 bit that is no cell. Shifting right
# by 1 lines a cell up with its left neighbour, by size + 1 with the one above; the closing
# bit is neither dark nor light, so no run, pattern or block spans two lines.
# ``both`` is the grid by rows followed by the grid by columns: rules 1 and 3 count in both
# directions at once.

_FINDER_CELLS = ("10111010000", "00001011101")  # 1:1:3:1:1 with four light on one side


def _penalty(by_rows: int, both: int, size: int) -> int:
    cells = _cell_bits(size)
    dark, light = both & cells, ~both & cells
    # rule 1: a run of L >= 5 of one colour costs L - 2; ``five`` marks each cell that
    # ends five equal cells in a line (L - 4 of them per run), ``starts`` the first of those
    same = (dark & (dark >> 1)) | (light & (light >> 1))  # equal to its left neighbour
    five = same & (same >> 1) & (same >> 2) & (same >> 3)
    score = five.bit_count() + 2 * (five & ~(five >> 1)).bit_count()
    # rule 3: 40 per finder-like pattern, overlapping ones included (as qrcode counts)
    shifted = [(light >> (10 - k), dark >> (10 - k)) for k in range(11)]
    for pattern in _FINDER_CELLS:
        found = -1
        for k, cell in enumerate(pattern):
            found &= shifted[k][cell == "1"]
        score += 40 * found.bit_count()
    # rule 2: 3 per 2x2 block of one colour (by rows only: a block is the same either way)
    row_cells = cells >> (size * (size + 1))
    dark, light = by_rows & row_cells, ~by_rows & row_cells
    line = size + 1
    for one in (dark, light):
        score += 3 * (one & (one >> 1) & (one >> line) & (one >> (line + 1))).bit_count()
    # rule 4: 10 per full 5% away from half dark, in qrcode's arithmetic
    percent = float(dark.bit_count()) / (size**2)
    return score + 10 * int(abs(percent * 100 - 50) / 5)


class _FastMaskQRCode(qrcode.QRCode):
    """qrcode's QRCode with the mask search done on packed grids (see above)."""

    candidate_by_rows: int  # the chosen candidate, packed by rows

    def best_fit(self, start=None):
        """qrcode's ``best_fit``, counting the data's bits rather than writing them one by
        one into a buffer."""
        if start is None:
            start = 1
        qr_util.check_version(start)
        mode_sizes = qr_util.mode_sizes_for_version(start)
        bits = _BitCount()
        for data in self.data_list:
            bits.put(data.mode, 4)
            bits.put(len(data), mode_sizes[data.mode])
            data.write(bits)
        self.version = bisect_left(qr_util.BIT_LIMIT_TABLE[self.error_correction],
                                   bits.length, start)
        if self.version == 41:
            raise qrcode.exceptions.DataOverflowError()
        if mode_sizes is not qr_util.mode_sizes_for_version(self.version):
            self.best_fit(start=self.version)
        return self.version

    def best_mask_pattern(self) -> int:
        self.makeImpl(True, 0)  # the test candidate qrcode scores: format bits all light
        size = self.modules_count
        lines = _lines(self.modules)
        by_rows = _packed(lines)
        both = _both(by_rows, _packed(_transposed(lines)), size)
        best, best_score = 0, -1
        for pattern, (flip_rows, flip_both) in enumerate(_mask_flips(self.version)):
            score = _penalty(by_rows ^ flip_rows, both ^ flip_both, size)
            if best_score < 0 or score < best_score:  # the first of equals, as qrcode
                best, best_score = pattern, score
        self.candidate_by_rows = by_rows ^ _mask_flips(self.version)[best][0]
        return best


class _BitCount:
    """Stands in for qrcode's BitBuffer where only the number of bits matters."""

    def __init__(self) -> None:
        self.length = 0

    def put(self, num: int, length: int) -> None:
        self.length += length


class _LayoutOnly(qrcode.QRCode):
    """Lays out the function patterns and leaves the data cells empty (None)."""

    def map_data(self, data, mask_pattern) -> None:
        pass


def _lines(grid: Sequence[Sequence[Any]]) -> list[str]:
    """Each row of a qrcode module grid as a string of 0 and 1 (1 = dark / true)."""
    return [bytes(map(bool, row)).translate(_TO_BINARY_DIGITS).decode("ascii")
            for row in grid]


def _transposed(lines: list[str]) -> list[str]:
    return ["".join(column) for column in zip(*lines, strict=True)]


def _packed(lines: list[str]) -> int:
    return int("0".join(lines) + "0", 2)


def _both(by_rows: int, by_columns: int, size: int) -> int:
    return (by_rows << (size * (size + 1))) | by_columns


@lru_cache(maxsize=40)
def _cell_bits(size: int) -> int:
    """The cell bits (not the line-closing ones) of a packed grid by rows and columns."""
    return int(("1" * size + "0") * (2 * size), 2)


@lru_cache(maxsize=64)
def _dark_function_cells(version: int, mask: int) -> int:
    """Packed by rows: the dark cells qrcode lays out around the data for this version and
    mask (finder, timing and alignment patterns, format and version information)."""
    layout = _LayoutOnly(version=version, error_correction=qrcode.constants.ERROR_CORRECT_M)
    layout.data_cache = []
    layout.makeImpl(False, mask)
    return _packed(_lines(layout.modules))


@lru_cache(maxsize=40)
def _mask_flips(version: int) -> tuple[tuple[int, int], ...]:
    """Per mask pattern, packed by rows and by columns: the cells whose colour differs
    from mask 0's, i.e. data cells where qrcode's mask condition differs from mask 0's."""
    layout = _LayoutOnly(version=version, error_correction=qrcode.constants.ERROR_CORRECT_M)
    layout.data_cache = []  # not None: makeImpl then skips encoding any data
    layout.makeImpl(True, 0)
    size = layout.modules_count
    data = _lines([[cell is None for cell in row] for row in layout.modules])
    conditions = [qr_util.mask_func(pattern) for pattern in range(8)]
    flips = []
    for condition in conditions:
        lines = _lines([[d == "1" and condition(r, c) != conditions[0](r, c)
                         for c, d in enumerate(data[r])] for r in range(size)])
        flip_rows = _packed(lines)
        flips.append((flip_rows, _both(flip_rows, _packed(_transposed(lines)), size)))
    return tuple(flips)


def _sig_structure(protected: bytes, payload: bytes) -> bytes:
    return cbor2.dumps(["Signature1", protected, b"", payload])


def _claims_map(c: QrClaims) -> dict[int, Any]:
    result: dict[int, Any] = {
        1: c.licence_id, 2: c.type_code, 3: c.holder_name, 4: c.holder_id_masked,
        5: c.valid_from.isoformat(), 7: c.issuer_name, 8: c.issuer_uscc,
        9: int(c.issued_at.timestamp()), 10: c.data_digest,
    }
    if c.valid_until is not None:
        result[6] = c.valid_until.isoformat()
    if c.verify_url:
        result[11] = c.verify_url
    if c.status_index is not None:
        result[12] = c.status_index
    return result


def _claims_from_map(m: Any, kid: bytes) -> QrClaims:
    if not isinstance(m, dict):
        raise QrPayloadError("QR claims are not a map")

    def text(key: int, name: str, optional: bool = False) -> Any:
        value = m.get(key)
        if value is None and optional:
            return None
        if not isinstance(value, str) or len(value) > 300:
            raise QrPayloadError(f"QR claim {name} missing or not text")
        return value

    def date(key: int, name: str, optional: bool = False) -> dt.date | None:
        value = text(key, name, optional)
        if value is None:
            return None
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            raise QrPayloadError(f"QR claim {name} is not a date") from None

    issued = m.get(9)
    if not isinstance(issued, int) or not 0 <= issued < 2**40:
        raise QrPayloadError("QR claim issued_at missing or not a timestamp")
    status_index = m.get(12)
    if status_index is not None and (not isinstance(status_index, int)
                                     or isinstance(status_index, bool)
                                     or not 0 <= status_index < 2**32):
        raise QrPayloadError("QR claim status_index is not a non-negative integer")
    digest = m.get(10)
    if not isinstance(digest, bytes) or len(digest) != 32:
        raise QrPayloadError("QR claim data_digest missing or not 32 bytes")
    return QrClaims(
        kid=kid,
        licence_id=text(1, "licence_id"),
        type_code=text(2, "type_code"),
        holder_name=text(3, "holder_name"),
        holder_id_masked=text(4, "holder_id_masked"),
        valid_from=date(5, "valid_from"),  # type: ignore[arg-type]
        valid_until=date(6, "valid_until", optional=True),
        issuer_name=text(7, "issuer_name"),
        issuer_uscc=text(8, "issuer_uscc"),
        issued_at=dt.datetime.fromtimestamp(issued, dt.UTC),
        data_digest=digest,
        verify_url=text(11, "verify_url", optional=True),
        status_index=status_index,
    )
