"""Kubernetes resource quantities (``500m``, ``128Mi``, ``1e3``, ``2``) as exact numbers, and
byte counts written back the way people read them (pure).

On the standard library alone: the simulated container's model uses it inside the jail, and the
check engine (``labs.kubevalues``) uses the same parser, so a quantity means one thing in both.
"""

from __future__ import annotations

import math
import re
from fractions import Fraction

__all__ = ["SUFFIXES", "QuantityRangeError", "format_bytes", "parse_quantity"]

# ASCII digits only: ``\d`` would take any script's digits, which the API server refuses.
_QUANTITY = re.compile(
    r"^([+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+))(?:([eE][+-]?[0-9]+)|(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE])?)$"
)
SUFFIXES = {
    "n": Fraction(1, 10**9),
    "u": Fraction(1, 10**6),
    "m": Fraction(1, 1000),
    "": Fraction(1),
    "k": Fraction(10**3),
    "M": Fraction(10**6),
    "G": Fraction(10**9),
    "T": Fraction(10**12),
    "P": Fraction(10**15),
    "E": Fraction(10**18),
    "Ki": Fraction(2**10),
    "Mi": Fraction(2**20),
    "Gi": Fraction(2**30),
    "Ti": Fraction(2**40),
    "Pi": Fraction(2**50),
    "Ei": Fraction(2**60),
}


class QuantityRangeError(ValueError):
    """A well-formed quantity whose decimal exponent is beyond the caller's bound."""


def parse_quantity(text: str | int | float, *, max_exponent: int | None = None) -> Fraction:
    """The exact value of a quantity; ValueError for anything the API server would reject.

    ``max_exponent`` bounds ``1e<n>`` forms (QuantityRangeError beyond it): ``1e999999`` is
    well-formed, and a caller reading learner input may not want to build that number."""
    match = _QUANTITY.match(str(text).strip())
    if not match:
        raise ValueError(f"not a quantity: {text!r}")
    number, exponent, suffix = match.groups()
    value = Fraction(number)
    if exponent:
        power = int(exponent[1:])
        if max_exponent is not None and abs(power) > max_exponent:
            raise QuantityRangeError(f"exponent out of range: {text!r}")
        return value * Fraction(10) ** power
    return value * SUFFIXES[suffix or ""]


def format_bytes(count: int | Fraction) -> str:
    """Bytes the way people read them: ``256Mi``, ``1.5Gi``, ``512``."""
    value = Fraction(count)
    for suffix in ("Ei", "Pi", "Ti", "Gi", "Mi", "Ki"):
        unit = SUFFIXES[suffix]
        if value >= unit:
            scaled = value / unit
            if scaled.denominator == 1:
                return f"{scaled.numerator}{suffix}"
            return f"{float(scaled):.1f}{suffix}"
    return str(math.ceil(value))
