import pytest

from certs.errors import InvalidIdentifier
from certs.licence_id import ALPHABET, LicenceId, mod37_36_check_char, parse_licence_id

ID = LicenceId("yyzz", "91350100M000100Y43", 42, 1)


def test_shape_and_round_trip():
    text = str(ID)
    assert text.startswith("YYZZ-91350100M000100Y43-0000000042-01")
    assert len(text) == 38
    assert parse_licence_id(text) == ID
    assert parse_licence_id(text.lower()) == ID


def test_check_char_is_iso7064_mod37_36():
    # a valid string extended by its check char has the hybrid system's residue 1
    body = "YYZZ91350100M000100Y43000000004201"
    check = mod37_36_check_char(body)
    p = 36
    for char in body + check:
        s = (p + ALPHABET.index(char)) % 36 or 36
        p = (2 * s) % 37
    assert s == 1


def test_every_single_character_corruption_is_detected():
    text = str(ID)
    for i, original in enumerate(text):
        for char in ALPHABET + "-":
            if char == original:
                continue
            corrupted = text[:i] + char + text[i + 1:]
            with pytest.raises(InvalidIdentifier):
                parse_licence_id(corrupted)


def test_adjacent_swaps_detected():
    body = str(ID).replace("-", "")
    for i in range(len(body) - 2):
        swapped = body[:i] + body[i + 1] + body[i] + body[i + 2:-1]
        if swapped != body[:-1]:
            assert mod37_36_check_char(swapped) != body[-1] or swapped == body[:-1]


def test_next_version_and_bounds():
    assert str(ID.next_version()).startswith("YYZZ-91350100M000100Y43-0000000042-02")
    with pytest.raises(InvalidIdentifier):
        LicenceId("yyzz", "91350100M000100Y43", 0, 1)
    with pytest.raises(InvalidIdentifier):
        LicenceId("yyzz", "91350100M000100Y44", 1, 1)  # bad issuer check char


@pytest.mark.parametrize("text", ["", "YYZZ", "YYZZ-91350100M000100Y43-42-01A", 42])
def test_garbage_refused(text):
    with pytest.raises(InvalidIdentifier):
        parse_licence_id(text)
