"""REGEX constraints: Rust ``regex`` syntax, Unleash's reference, run by RE2 in linear time.

Unleash evaluates REGEX with Rust's ``regex`` crate, which never backtracks;
Python's ``re`` does, so a pattern such as ``^(a+)+$`` against a crafted
context value could hold a server or an application for seconds. RE2 is the
engine Rust's crate was modelled on: the same linear-time guarantee and
nearly the same syntax. What differs is translated here, and what RE2
cannot take is refused, with the reason, rather than guessed:

- ``\\d``, ``\\w``, ``\\s`` (and ``\\D``, ``\\W``, ``\\S``) are Unicode classes in
  Rust and ASCII in RE2: they become Unicode property classes. ``\\W`` and
  ``\\S`` inside a bracket class have no RE2 spelling and are refused.
- ``(?u)`` is Rust's default and is dropped; ``(?-u)`` and ``(?x)`` are refused.
- Rust's class set operations (``&&``, ``--``, ``~~``) and nested classes
  (``[a[bc]]``), which RE2 would read as literal characters, are refused.
- Look-around and backreferences, which Rust refuses too, RE2 refuses.
- ``\\b`` and ``\\B`` are ASCII word boundaries in RE2 (Unicode in Rust): the
  one known difference left.

:func:`compile_rust_regex` gives a :class:`RustRegex` or a
:class:`RegexRefusal`; it is pure and shared by the server and the SDK.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Final

import re2

# Rust's \w is Alphabetic + Mark + Decimal_Number + Connector_Punctuation (+ Join_Control)
_WORD: Final = r"\p{L}\p{Nl}\p{M}\p{Nd}\p{Pc}\x{200C}\x{200D}"
# Rust's \s is the White_Space property
_SPACE: Final = r"\t\n\x0B\f\r \x{85}\p{Z}"
_DIGIT: Final = r"\p{Nd}"

_OUTSIDE: Final = {
    "d": _DIGIT,
    "D": r"\P{Nd}",
    "w": f"[{_WORD}]",
    "W": f"[^{_WORD}]",
    "s": f"[{_SPACE}]",
    "S": f"[^{_SPACE}]",
}
_INSIDE: Final = {"d": _DIGIT, "D": r"\P{Nd}", "w": _WORD, "s": _SPACE}

# the memory RE2 may use for one pattern (its default): a pattern such as
# (a{1000}){1000} is refused ("pattern too large") instead of costing more
MAX_MEMORY_BYTES: Final = 8 << 20


@dataclass(frozen=True, slots=True)
class RegexRefusal:
    """Why a pattern cannot be a REGEX constraint, in words."""

    reason: str


class RustRegex:
    """A compiled REGEX constraint value: ``matches(text)`` searches it, in linear time."""

    __slots__ = ("_match", "_unanchored", "pattern")

    def __init__(self, pattern: str, compiled: re2._Regexp) -> None:
        self.pattern = pattern
        # the wrapper's search() maps byte offsets back to characters for a
        # match object; a constraint only asks whether there is a match
        self._match = compiled._regexp.Match
        self._unanchored = re2._Anchor.UNANCHORED

    def matches(self, text: str) -> bool:
        """Return whether the pattern matches anywhere in ``text``."""
        encoded = text.encode("utf-8", "surrogatepass")
        start: int = self._match(self._unanchored, encoded, 0, len(encoded))[0][0]
        return start >= 0


class _Unsupported(Exception):
    """Raised inside the translation; becomes a :class:`RegexRefusal`."""


def _skip_escape(pattern: str, i: int) -> int:
    """Return the index after the escape starting at ``pattern[i] == '\\\\'``."""
    if i + 1 >= len(pattern):
        raise _Unsupported("the pattern ends with a lone backslash")
    nxt = pattern[i + 1]
    if nxt in "xpP" and i + 2 < len(pattern) and pattern[i + 2] == "{":
        end = pattern.find("}", i + 2)
        if end < 0:
            raise _Unsupported(f"\\{nxt}{{ is not closed")
        return end + 1
    if nxt == "x":
        return i + 4
    if nxt in "pP":
        return i + 3
    return i + 2


def _translate_class(pattern: str, start: int, out: list[str]) -> int:
    """Translate the bracket class at ``start`` into ``out``; return the index after it."""
    out.append("[")
    i = start + 1
    n = len(pattern)
    if i < n and pattern[i] == "^":
        out.append("^")
        i += 1
    first = True
    while i < n:
        ch = pattern[i]
        if ch == "]" and not first:
            out.append("]")
            return i + 1
        first = False
        if ch == "\\":
            nxt = pattern[i + 1] if i + 1 < n else ""
            if nxt in _INSIDE:
                out.append(_INSIDE[nxt])
                i += 2
                continue
            if nxt in ("W", "S"):
                raise _Unsupported(
                    f"\\{nxt} inside a bracket class has no linear-time spelling; "
                    "write the class out"
                )
            end = _skip_escape(pattern, i)
            out.append(pattern[i:end])
            i = end
            continue
        if ch == "[":
            if pattern.startswith("[:", i):
                end = pattern.find(":]", i + 2)
                if end < 0:
                    raise _Unsupported("a nested class ('[' inside [...]) is not supported")
                out.append(pattern[i : end + 2])
                i = end + 2
                continue
            raise _Unsupported(
                "a nested class ('[' inside [...]) is not supported; escape it as \\["
            )
        if pattern.startswith(("&&", "--", "~~"), i):
            raise _Unsupported(
                f"class set operations ({pattern[i : i + 2]} inside [...]) are not supported"
            )
        out.append(ch)
        i += 1
    raise _Unsupported("a bracket class [ is not closed")


def _translate_flags(pattern: str, i: int, out: list[str]) -> int:
    """Translate the flag group ``(?flags)`` or ``(?flags:`` at ``i``; return the index after."""
    end = i + 2
    while end < len(pattern) and (pattern[end].isalpha() or pattern[end] == "-"):
        end += 1
    if end >= len(pattern) or pattern[end] not in ":)":
        # RE2 gives its own reason (look-around, named groups it knows)
        out.append("(?")
        return i + 2
    on, _, off = pattern[i + 2 : end].partition("-")
    if "x" in on + off:
        raise _Unsupported("the x (verbose) flag is not supported")
    if "u" in off:
        raise _Unsupported("(?-u), ASCII-only classes, is not supported")
    unknown = set(on + off) - set("imsUu")
    if unknown:
        raise _Unsupported(f"unknown flag {''.join(sorted(unknown))!r}")
    # Unicode (u) is the default in Rust and the only mode here
    on = on.replace("u", "")
    spec = on + ("-" + off if off else "")
    if spec:
        out.append(f"(?{spec}{pattern[end]}")
    elif pattern[end] == ":":
        out.append("(?:")
    return end + 1


def translate_rust_regex(pattern: str) -> str:
    """Return the RE2 pattern that matches as Rust's ``regex`` crate would.

    Raises ``ValueError`` with the reason for Rust syntax RE2 has no spelling
    for; syntax errors are left for RE2 to report.
    """
    out: list[str] = []
    i = 0
    n = len(pattern)
    try:
        while i < n:
            ch = pattern[i]
            if ch == "\\":
                nxt = pattern[i + 1] if i + 1 < n else ""
                if nxt in _OUTSIDE:
                    out.append(_OUTSIDE[nxt])
                    i += 2
                    continue
                end = _skip_escape(pattern, i)
                out.append(pattern[i:end])
                i = end
            elif ch == "[":
                i = _translate_class(pattern, i, out)
            elif pattern.startswith("(?", i) and not pattern.startswith(("(?P<", "(?<"), i):
                i = _translate_flags(pattern, i, out)
            else:
                out.append(ch)
                i += 1
    except _Unsupported as exc:
        raise ValueError(str(exc)) from None
    return "".join(out)


@lru_cache(maxsize=4096)
def compile_rust_regex(pattern: str, *, case_insensitive: bool = False) -> RustRegex | RegexRefusal:
    """Return the compiled REGEX constraint value, or why it cannot be one.

    A refusal names Rust syntax RE2 cannot take, or the syntax error RE2 found
    (look-around and backreferences among them, as in Rust). Never raises.
    """
    try:
        translated = translate_rust_regex(pattern)
    except ValueError as exc:
        return RegexRefusal(str(exc))
    options = re2.Options()
    options.log_errors = False
    options.max_mem = MAX_MEMORY_BYTES
    options.case_sensitive = not case_insensitive
    # a constraint asks only whether there is a match, never for groups
    options.never_capture = True
    try:
        compiled = re2.compile(translated, options)
    except re2.error as exc:
        detail = exc.args[0] if exc.args else exc
        if isinstance(detail, bytes):
            detail = detail.decode("utf-8", "replace")
        return RegexRefusal(str(detail))
    except (TypeError, ValueError) as exc:  # a lone surrogate cannot be UTF-8
        return RegexRefusal(str(exc))
    return RustRegex(pattern, compiled)


def regex_refusal(pattern: str) -> str | None:
    """Return why ``pattern`` cannot be a REGEX constraint, or None when it can."""
    compiled = compile_rust_regex(pattern)
    return compiled.reason if isinstance(compiled, RegexRefusal) else None
