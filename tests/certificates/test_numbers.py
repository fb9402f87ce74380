from __future__ import annotations

import pytest

from miniapp_api.certificates.numbers import CROCKFORD, is_certificate_number, new_certificate_number, packed, unpacked


def test_shape_is_prefix_and_four_groups_of_crockford_base32():
    number = new_certificate_number()
    prefix, *groups = number.split("-")
    assert prefix == "SXBY" and len(number) == 24
    assert [len(g) for g in groups] == [4, 4, 4, 4]
    assert set("".join(groups)) <= set(CROCKFORD)
    assert is_certificate_number(number)


def test_numbers_do_not_repeat_and_use_every_symbol():
    numbers = {new_certificate_number() for _ in range(2000)}
    assert len(numbers) == 2000
    assert set("".join(n[5:] for n in numbers)) == set(CROCKFORD) | {"-"}


def test_recognises_only_the_exact_shape():
    number = new_certificate_number()
    for text in [
        number.lower(),
        number + "\n",
        " " + number,
        number[:-1],
        number.replace("-", ""),
        number[:-1] + "I",
        number[:-1] + "U",
        "SXBZ" + number[4:],
        "",
        None,
        12,
    ]:
        assert not is_certificate_number(text), text


def test_packed_numbers_are_ten_bytes_and_unpack_to_themselves():
    for number in [new_certificate_number() for _ in range(200)] + [
        "SXBY-0000-0000-0000-0000",
        "SXBY-ZZZZ-ZZZZ-ZZZZ-ZZZZ",
    ]:
        raw = packed(number)
        assert len(raw) == 10 and unpacked(raw) == number
    assert packed("SXBY-0000-0000-0000-0001") == bytes(9) + b"\x01"


def test_only_numbers_pack():
    for text in ["", "SXBY-0000", "sxby-0000-0000-0000-0001", "SXBY-0000-0000-0000-000I"]:
        with pytest.raises(ValueError):
            packed(text)
