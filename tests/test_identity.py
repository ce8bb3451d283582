"""Resident ID numbers (GB 11643): check digit, validation, generation, masking."""

from __future__ import annotations

import datetime as dt

import pytest

from examserver.identity import (
    id_check_digit,
    is_valid_id_number,
    make_id_number,
    mask_id_number,
    normalize_id_number,
    sex_of_id_number,
)

# The two examples printed in GB 11643-1999 itself.
KNOWN_VALID = ["11010519491231002X", "440524188001010014"]


@pytest.mark.parametrize("number", KNOWN_VALID)
def test_known_numbers_are_valid_and_their_check_digit_is_recomputed(number: str) -> None:
    assert is_valid_id_number(number)
    assert id_check_digit(number[:17]) == number[17]


def test_check_digit_covers_every_remainder() -> None:
    # Each of the 11 remainders maps to a different character: 1 0 X 9 8 7 6 5 4 3 2.
    seen = {id_check_digit(f"3204021990010100{d}") for d in range(10)}
    seen |= {id_check_digit(f"320402199001010{d}0") for d in range(10)}
    assert seen == set("10X98765432")


def test_lower_case_x_is_accepted_and_normalized() -> None:
    assert is_valid_id_number("11010519491231002x")
    assert normalize_id_number(" 11010519491231002x ") == "11010519491231002X"


@pytest.mark.parametrize(
    "number",
    [
        "11010519491231002Y",  # not a check character
        "110105194912310021",  # wrong check digit
        "11010519491231002",  # 17 characters
        "11010519491231002X0",  # 19 characters
        "110105491231002",  # the old 15-digit form
        "",
        "1101051949123100 X",
        "X10105194912310021",
        "１１０１０５１９４９１２３１００２Ｘ",  # full-width digits
    ],
)
def test_malformed_numbers_are_invalid(number: str) -> None:
    assert not is_valid_id_number(number)


@pytest.mark.parametrize("birth", ["19490230", "19491301", "19490001", "19000229", "17991231"])
def test_numbers_with_impossible_birth_dates_are_invalid(birth: str) -> None:
    first17 = "110105" + birth + "002"
    assert not is_valid_id_number(first17 + id_check_digit(first17))


def test_leap_day_is_a_real_birth_date() -> None:
    first17 = "110105" + "20000229" + "002"
    assert is_valid_id_number(first17 + id_check_digit(first17))


@pytest.mark.parametrize("value", [None, 11010519491231002, ["11010519491231002X"]])
def test_non_strings_are_invalid(value: object) -> None:
    assert not is_valid_id_number(value)


@pytest.mark.parametrize(
    "value", ["1101051949123100", "1101051949123100X", "１１０１０５１９４９１２３１００２"]
)
def test_check_digit_needs_seventeen_ascii_digits(value: str) -> None:
    with pytest.raises(ValueError, match="17 digits"):
        id_check_digit(value)


def test_made_numbers_are_valid_and_every_single_digit_error_is_caught() -> None:
    number = make_id_number("320402", dt.date(1986, 3, 12), 31)
    assert number == "320402198603120315"
    assert is_valid_id_number(number)
    for i in range(17):
        for digit in "0123456789":
            if digit == number[i]:
                continue
            altered = number[:i] + digit + number[i + 1 :]
            assert not is_valid_id_number(altered), altered


def test_sex_follows_the_seventeenth_digit() -> None:
    assert sex_of_id_number(make_id_number("320402", dt.date(1990, 1, 1), 31)) == "男"
    assert sex_of_id_number(make_id_number("320402", dt.date(1990, 1, 1), 42)) == "女"
    assert sex_of_id_number("11010519491231002X") == "女"


@pytest.mark.parametrize(
    ("region", "born", "sequence", "problem"),
    [
        ("32040", dt.date(1990, 1, 1), 1, "region"),
        ("032040", dt.date(1990, 1, 1), 1, "region"),
        ("32040a", dt.date(1990, 1, 1), 1, "region"),
        ("320402", dt.date(1990, 1, 1), 1000, "sequence"),
        ("320402", dt.date(1990, 1, 1), -1, "sequence"),
        ("320402", dt.date(1700, 1, 1), 1, "birth year"),
    ],
)
def test_make_refuses_bad_parts(region: str, born: dt.date, sequence: int, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        make_id_number(region, born, sequence)


def test_masking_keeps_region_and_last_four() -> None:
    assert mask_id_number("32040219860312123x") == "320402********123X"
    assert mask_id_number("11010519491231002X") == "110105********002X"
    assert mask_id_number("110105491231002") == "110105*****1002"
    assert mask_id_number("12345678") == "******78"
    assert mask_id_number("") == ""
