"""Resident ID numbers (GB 11643): check digit, validation, generation and masking.

Plain Python: no Flask, no database.
"""

from __future__ import annotations

import datetime as dt
import re

WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
# ISO 7064 MOD 11-2: the remainder of the weighted sum picks the check character.
CHECK_CHARS = "10X98765432"
ID_NUMBER_RE = re.compile(r"^[0-9]{17}[0-9Xx]$")
REGION_RE = re.compile(r"^[1-9][0-9]{5}$")
EARLIEST_BIRTH_YEAR = 1800
MALE = "男"
FEMALE = "女"


def id_check_digit(first17: str) -> str:
    """Return the check character (0-9 or X) of the first 17 digits of an ID number."""
    if len(first17) != 17 or not first17.isascii() or not first17.isdigit():
        raise ValueError(f"need exactly 17 digits, got {first17!r}")
    total = sum(int(ch) * weight for ch, weight in zip(first17, WEIGHTS, strict=True))
    return CHECK_CHARS[total % 11]


def birth_date_of(id_number: str) -> dt.date | None:
    """Return the birth date in characters 7-14, or None when it is not a real date."""
    digits = id_number[6:14]
    if len(digits) != 8 or not digits.isascii() or not digits.isdigit():
        return None
    try:
        born = dt.date(int(digits[:4]), int(digits[4:6]), int(digits[6:8]))
    except ValueError:
        return None
    return born if born.year >= EARLIEST_BIRTH_YEAR else None


def is_valid_id_number(value: object) -> bool:
    """Return whether ``value`` is an 18-character ID number with a real birth date and check."""
    if not isinstance(value, str) or not ID_NUMBER_RE.match(value):
        return False
    if birth_date_of(value) is None:
        return False
    return id_check_digit(value[:17]) == value[17].upper()


def normalize_id_number(value: str) -> str:
    """Return an ID number as stored: surrounding spaces removed, check character upper-case."""
    return value.strip().upper()


def sex_of_id_number(id_number: str) -> str:
    """Return 男 or 女 from the 17th digit (odd: male), as printed on the ID card."""
    if len(id_number) < 17 or not id_number[16].isdigit():
        raise ValueError(f"not an 18-character ID number: {id_number!r}")
    return MALE if int(id_number[16]) % 2 else FEMALE


def make_id_number(region: str, birth_date: dt.date, sequence: int) -> str:
    """Build a valid ID number from a 6-digit region code, a birth date and a 0-999 sequence."""
    if not REGION_RE.match(region):
        raise ValueError(f"region must be 6 digits not starting with 0, got {region!r}")
    if not EARLIEST_BIRTH_YEAR <= birth_date.year <= 9999:
        raise ValueError(f"birth year out of range: {birth_date.year}")
    if not 0 <= sequence <= 999:
        raise ValueError(f"sequence must be 0-999, got {sequence}")
    first17 = f"{region}{birth_date:%Y%m%d}{sequence:03d}"
    return first17 + id_check_digit(first17)


def mask_id_number(value: str) -> str:
    """Hide the birth date and sequence: ``320402********123X`` (first 6 and last 4 kept)."""
    value = normalize_id_number(value or "")
    if len(value) > 10:
        return value[:6] + "*" * (len(value) - 10) + value[-4:]
    keep = 2 if len(value) > 4 else 0
    return "*" * (len(value) - keep) + value[len(value) - keep :]
