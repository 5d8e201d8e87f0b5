"""Join codes (pure): random, typeable, forgiving about case, spaces and dashes when pasted."""

from __future__ import annotations

import re
import secrets

# No 0/O, 1/I/L: a code read aloud or copied from a projector survives.
ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
LENGTH = 12  # 31**12 ≈ 2**59: not guessable, even by a class of scripts
_SEPARATORS = re.compile(r"[\s\-_.]+")


class InvalidCode(ValueError):
    """Not even shaped like a join code; ``reason`` is "empty", "length" or "characters" and
    ``found`` what was wrong (the length, or the characters a code never has)."""

    def __init__(self, reason: str, found: str = "") -> None:
        super().__init__(f"{reason}: {found}" if found else reason)
        self.reason = reason
        self.found = found


def code_new() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))


def code_normalise(text: str) -> str:
    """The stored form of a code someone typed or pasted ("abcd-efgh-jkmn" -> "ABCDEFGHJKMN")."""
    code = _SEPARATORS.sub("", text or "").upper()
    if not code:
        raise InvalidCode("empty")
    if len(code) != LENGTH:
        raise InvalidCode("length", str(len(code)))
    wrong = sorted({c for c in code if c not in ALPHABET})
    if wrong:
        raise InvalidCode("characters", " ".join(wrong))
    return code


def code_display(code: str) -> str:
    """Grouped by four for reading aloud: ABCD-EFGH-JKMN."""
    return "-".join(code[i : i + 4] for i in range(0, len(code), 4))
