"""``json.dumps(obj, indent=1)`` text, character for character, at a third of its cost.

With an indent, the standard library encodes in pure Python through nested generators (its C
encoder does not indent before Python 3.13): 0.85 ms of the ~20 ms ``ecgr1 measure`` spends
per LUDB record. :func:`dumps_indent1` writes the same text by plain recursion into one list,
with the standard library's own C string escaper and ``float.__repr__`` / ``int.__repr__``, the
same order of type checks and the same texts for NaN, infinities and non-string keys.
Anything else (a type ``json`` cannot encode, a circular structure) is handed to
``json.dumps`` itself, which raises exactly its own error.
"""

from __future__ import annotations

import json
import math
from json.encoder import encode_basestring_ascii

_INF = float("inf")
_NUMBERS = frozenset((int, float))
_STRINGS = frozenset((str,))


class _Unsupported(Exception):
    """A value the plain recursion does not handle: ``json.dumps`` decides."""


def dumps_indent1(obj: object) -> str:
    """Exactly ``json.dumps(obj, indent=1)`` (default ``ensure_ascii``, ``allow_nan``,
    separators ``(",", ": ")``, keys in insertion order)."""
    parts: list[str] = []
    try:
        _encode(obj, parts, "\n", 0)
    except (_Unsupported, RecursionError):
        return json.dumps(obj, indent=1)
    return "".join(parts)


def _float_text(value: float) -> str:
    """``json``'s float text: ``NaN``, ``Infinity``, ``-Infinity`` or ``float.__repr__``."""
    if value != value:
        return "NaN"
    if value == _INF:
        return "Infinity"
    if value == -_INF:
        return "-Infinity"
    return float.__repr__(value)


def _scalar(value: object) -> str | None:
    """The text of a scalar in ``json``'s order of checks; None for a list, tuple or dict."""
    if isinstance(value, str):
        return encode_basestring_ascii(value)
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return int.__repr__(value)
    if isinstance(value, float):
        return _float_text(value)
    if isinstance(value, (list, tuple, dict)):
        return None
    raise _Unsupported


def _key(key: object) -> str:
    """A dict key as ``json`` writes it (strings escaped; floats, booleans, None and ints
    converted to their JSON text first)."""
    if isinstance(key, str):
        pass
    elif isinstance(key, float):
        key = _float_text(key)
    elif key is True:
        key = "true"
    elif key is False:
        key = "false"
    elif key is None:
        key = "null"
    elif isinstance(key, int):
        key = int.__repr__(key)
    else:
        raise _Unsupported
    return encode_basestring_ascii(key)


def _encode(value: object, parts: list[str], newline: str, depth: int) -> None:
    """Append the text of ``value`` at nesting ``depth`` (``newline`` = "\\n" + depth spaces)."""
    kind = type(value)
    if kind is not dict and kind is not list:
        text = _scalar(value)  # json's isinstance chain: str, None, True, False, int, float
        if text is not None:
            parts.append(text)
            return
    if depth > 900:  # json's own recursion guard decides on very deep nesting
        raise _Unsupported
    inner = newline + " "
    separator = "," + inner
    append = parts.append
    if isinstance(value, dict):
        if not value:
            append("{}")
            return
        append("{" + inner)
        first = True
        for key, item in value.items():
            if first:
                first = False
            else:
                append(separator)
            append(encode_basestring_ascii(key) if type(key) is str else _key(key))
            append(": ")
            # Exact built-in scalars inline (almost every value), anything else recursively.
            kind = type(item)
            if kind is float:
                append(_float_text(item))
            elif kind is int:
                append(int.__repr__(item))
            elif kind is str:
                append(encode_basestring_ascii(item))
            elif item is None:
                append("null")
            else:
                _encode(item, parts, inner, depth + 1)
        append(newline + "}")
        return
    if not value:
        append("[]")
        return
    append("[" + inner)
    kinds = set(map(type, value))
    if kinds <= _NUMBERS and (float not in kinds or all(map(math.isfinite, value))):
        # Exact ints and finite floats: their repr is json's text.
        append(separator.join(map(repr, value)))
    elif kinds == _STRINGS:
        append(separator.join(map(encode_basestring_ascii, value)))
    else:
        first = True
        for item in value:
            if first:
                first = False
            else:
                append(separator)
            _encode(item, parts, inner, depth + 1)
    append(newline + "]")
