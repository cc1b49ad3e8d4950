"""Money and numbers as the run report displays them: integer arithmetic only.

Amounts stay ``int`` minor units in the report's data; these functions only turn them into text.
``divmod`` splits major from minor units, so a balance of ``2**53 - 1`` cents prints exactly, which
a float would not.
"""

from __future__ import annotations

from typing import Final

# ISO 4217 currencies whose minor unit is not 1/100 of the major one; every other code has two.
_ZERO_DECIMAL: Final = frozenset(
    {"BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "UYI", "VND", "VUV", "XAF", "XOF"}
    | {"XPF"}
)
_THREE_DECIMAL: Final = frozenset({"BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"})
_COMPACT_UNITS: Final = (("T", 10**12), ("B", 10**9), ("M", 10**6), ("k", 10**3))
_COMPACT_DECIMALS: Final = 3


def minor_digits(currency: str) -> int:
    """How many decimal digits the minor unit of ``currency`` has (2 unless ISO 4217 says otherwise)."""
    if currency in _ZERO_DECIMAL:
        return 0
    if currency in _THREE_DECIMAL:
        return 3
    return 2


def format_money(amount: int, currency: str) -> str:
    """``1234567, "USD"`` -> ``"12,345.67 USD"``; negative amounts keep their sign."""
    digits = minor_digits(currency)
    major, minor = divmod(abs(amount), 10**digits)
    sign = "-" if amount < 0 else ""
    text = f"{sign}{major:,}"
    if digits:
        text += f".{minor:0{digits}d}"
    return f"{text} {currency}" if currency else text


def _decimals(whole: int, rest: int, unit: int) -> str:
    """``whole`` followed by up to three decimals of ``rest / unit``, truncated, trailing zeros dropped."""
    fraction = rest * 10**_COMPACT_DECIMALS // unit
    tail = f"{fraction:0{_COMPACT_DECIMALS}d}".rstrip("0")
    return f"{whole}.{tail}" if tail else str(whole)


def compact_money(amount: int, currency: str) -> str:
    """A short axis label in major units: ``250000000, "EUR"`` -> ``"2.5M"`` (no currency code)."""
    return compact_number(amount, 10 ** minor_digits(currency))


def compact_number(value: int, scale: int = 1) -> str:
    """``value / scale`` shortened with k/M/B/T, for axis ticks (which are round numbers)."""
    sign = "-" if value < 0 else ""
    magnitude = abs(value)
    for suffix, factor in _COMPACT_UNITS:
        unit = factor * scale
        if magnitude >= unit:
            whole, rest = divmod(magnitude, unit)
            return f"{sign}{_decimals(whole, rest, unit)}{suffix}"
    whole, rest = divmod(magnitude, scale)
    return f"{sign}{_decimals(whole, rest, scale)}"


def format_bps(bps: int) -> str:
    """Basis points as a percentage with two decimals: ``-1234`` -> ``"-12.34 %"``."""
    whole, rest = divmod(abs(bps), 100)
    sign = "-" if bps < 0 else ""
    return f"{sign}{whole}.{rest:02d} %"
