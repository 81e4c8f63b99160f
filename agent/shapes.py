"""Lines that differ only in their digits: when one reading serves them all.

Most lines of a big CI log differ from their neighbours only in numbers (timestamps, counters, sizes,
durations, versions). A regular expression that treats all digits alike (`\\d`, `\\w`, `[0-9]`, never a
particular digit nor a back-reference) matches a line exactly when it matches the line with every ASCII
digit turned into `0`, its *shape*; so the scanner scores each shape once. The few patterns that name a digit
(`exit code 137`, `[1-9]\\d* failures`) are screened by a `DigitGate`: a line its gate lets through is read
with its own digits. Uses the stdlib's regex parser (private API, loaded by name as in `agent.catalog`).
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any

_parser: Any = importlib.import_module("re._parser")
_c: Any = importlib.import_module("re._constants")

# str.translate / bytes.translate tables: every ASCII digit becomes `0`.
DIGITS_TO_ZERO = str.maketrans("123456789", "000000000")
BYTE_DIGITS_TO_ZERO = bytes.maketrans(b"123456789", b"000000000")
_DIGITS = frozenset(range(0x30, 0x3A))
_AT = {
    "AT_BEGINNING": "^",
    "AT_BEGINNING_STRING": r"\A",
    "AT_END": "$",
    "AT_END_STRING": r"\Z",
    "AT_BOUNDARY": r"\b",
    "AT_NON_BOUNDARY": r"\B",
}
_CATEGORY = {
    "CATEGORY_DIGIT": r"\d",
    "CATEGORY_NOT_DIGIT": r"\D",
    "CATEGORY_SPACE": r"\s",
    "CATEGORY_NOT_SPACE": r"\S",
    "CATEGORY_WORD": r"\w",
    "CATEGORY_NOT_WORD": r"\W",
}


class _Unsound(Exception):
    """The pattern has a construct whose relaxed form would not match every line's shape."""


def digit_sensitive(pattern: re.Pattern[str]) -> bool:
    """Whether turning a line's digits into other digits can change whether `pattern` matches it."""
    try:
        return _relax(list(_parser.parse(pattern.pattern, pattern.flags)), check=True) != ""
    except _Unsound:
        return True


def relaxed(pattern: re.Pattern[str]) -> re.Pattern[str] | None:
    """A pattern matching the shape of every line `pattern` matches: each digit it names stands for any
    digit. None when no such pattern can be written this way (a back-reference, a digit in a negative
    look-around)."""
    try:
        source = _relax(list(_parser.parse(pattern.pattern, pattern.flags)), check=False)
    except _Unsound:
        return None
    return re.compile(source, pattern.flags)


def _escape(code: int) -> str:
    return re.escape(chr(code))


def _set_items(items: Sequence[tuple[Any, Any]]) -> tuple[bool, list[tuple[int, int] | str], set[int]]:
    """A parsed character set: whether it is negated, its ranges (a literal is a range of one) and
    categories, and the digits it names."""
    negate = False
    parts: list[tuple[int, int] | str] = []
    digits: set[int] = set()
    for kind, value in items:
        name = str(kind)
        if name == "NEGATE":
            negate = True
        elif name in ("LITERAL", "RANGE"):
            lo, hi = (value, value) if name == "LITERAL" else value
            parts.append((lo, hi))
            digits |= {d for d in _DIGITS if lo <= d <= hi}
        elif name == "CATEGORY":
            parts.append(_CATEGORY[str(value)])
            if str(value) in ("CATEGORY_DIGIT", "CATEGORY_WORD", "CATEGORY_NOT_SPACE"):
                digits |= _DIGITS
        else:
            raise _Unsound(name)
    return negate, parts, digits


def _set_source(negate: bool, parts: Sequence[tuple[int, int] | str], *, relax: bool) -> str:
    """A character set's source. Relaxed, a set naming some digits stands for all of them, and a negated
    one for none of them (the digits are taken out of its ranges)."""
    out: list[str] = []
    for part in parts:
        if isinstance(part, str):
            out.append(part)
            continue
        lo, hi = part
        pieces = [(lo, hi)]
        if relax and negate and lo <= 0x39 and hi >= 0x30:
            pieces = [(a, b) for a, b in ((lo, 0x2F), (0x3A, hi)) if a <= b]
        out += [_escape(a) if a == b else f"{_escape(a)}-{_escape(b)}" for a, b in pieces]
    if relax and not negate:
        out.append("0-9")
    if not out:  # a negated set of digits only, relaxed: any character
        return "(?s:.)"
    return "[" + ("^" if negate else "") + "".join(out) + "]"


def _relax(items: Sequence[tuple[Any, Any]], *, check: bool) -> str:
    """The relaxed regex source of a parsed sequence. With `check`, return "" when nothing names a digit
    and "!" as soon as something does (the source is then not needed)."""
    out: list[str] = []
    for op, av in items:
        name = str(op)
        if name in ("LITERAL", "NOT_LITERAL"):
            if av in _DIGITS:
                if check:
                    return "!"
                out.append("[0-9]" if name == "LITERAL" else "(?s:.)")
            else:
                out.append(_escape(av) if name == "LITERAL" else f"[^{_escape(av)}]")
        elif name == "ANY":
            out.append(".")
        elif name == "IN":
            negate, parts, digits = _set_items(av)
            relax = bool(digits) and digits != _DIGITS
            if relax and check:
                return "!"
            out.append(_set_source(negate, parts, relax=relax))
        elif name == "AT":
            out.append(_AT[str(av)])
        elif name == "SUBPATTERN":
            _group, add, delete, body = av
            inner = _relax(body, check=check)
            if check:
                if inner:
                    return "!"
                continue
            out.append(f"(?{_flags(add, delete)}:{inner})")
        elif name == "BRANCH":
            branches = [_relax(b, check=check) for b in av[1]]
            if check:
                if any(branches):
                    return "!"
                continue
            out.append("(?:" + "|".join(branches) + ")")
        elif name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
            low, high, body = av
            inner = _relax(body, check=check)
            if check:
                if inner:
                    return "!"
                continue
            bound = f"{{{low},}}" if high == _c.MAXREPEAT else f"{{{low},{high}}}"
            suffix = {"MAX_REPEAT": "", "MIN_REPEAT": "?", "POSSESSIVE_REPEAT": "+"}[name]
            out.append(f"(?:{inner}){bound}{suffix}")
        elif name in ("ASSERT", "ASSERT_NOT"):
            direction, body = av
            inner = _relax(body, check=True)
            if check:
                if inner:
                    return "!"
                continue
            if inner and name == "ASSERT_NOT":
                raise _Unsound("a digit in a negative look-around")
            head = (
                ("(?=" if direction == 1 else "(?<=")
                if name == "ASSERT"
                else ("(?!" if direction == 1 else "(?<!")
            )
            out.append(head + _relax(body, check=False) + ")")
        elif name == "ATOMIC_GROUP":
            inner = _relax(av, check=check)
            if check:
                if inner:
                    return "!"
                continue
            out.append(f"(?>{inner})")
        else:  # GROUPREF, GROUPREF_EXISTS and anything newer: the line must be read as it is
            if check:
                return "!"
            raise _Unsound(name)
    return "" if check else "".join(out)


def _flags(add: int, delete: int) -> str:
    letters = {re.IGNORECASE: "i", re.MULTILINE: "m", re.DOTALL: "s", re.VERBOSE: "x", re.ASCII: "a"}
    on = "".join(v for k, v in letters.items() if add & k)
    off = "".join(v for k, v in letters.items() if delete & k)
    return on + ("-" + off if off else "")


class DigitGate:
    """Tells, from a line's shape, whether some digit-naming pattern might match the line itself."""

    __slots__ = ("_tests",)

    def __init__(self, tests: Sequence[tuple[frozenset[str] | None, re.Pattern[str] | None]]) -> None:
        self._tests = tuple(tests)

    @classmethod
    def of(
        cls,
        patterns: Iterable[re.Pattern[str]],
        screen_of: Callable[[re.Pattern[str]], frozenset[str] | None],
    ) -> DigitGate:
        tests = []
        for pattern in patterns:
            if digit_sensitive(pattern):
                screen = screen_of(pattern)
                shaped = None if screen is None else frozenset(s.translate(DIGITS_TO_ZERO) for s in screen)
                tests.append((shaped, relaxed(pattern)))
        return cls(tests)

    def __or__(self, other: DigitGate) -> DigitGate:
        return DigitGate((*self._tests, *other._tests))

    def opens(self, shape: str) -> bool:
        """Whether a line of this shape (digits turned into `0`) must be read with its own digits."""
        lowered = shape.lower()
        for screen, pattern in self._tests:
            if screen is not None and not any(s in lowered for s in screen):
                continue
            if pattern is None or pattern.search(shape):
                return True
        return False
