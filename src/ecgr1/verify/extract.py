"""Find the checkable claims of an ECG interpretation text (the first half of ``ecgr1 verify``).

:func:`extract_claims` reads any ECG text (ECG-R1 ``<think>/<answer>`` reports, free prose, short
machine statements) and returns :class:`~ecgr1.verify.claims.Claim` objects with character spans
into the original text. All phrase knowledge (concept phrases, units, negation and hedge cues,
lead-group names) is data in ``lexicon.yaml``; this module only applies it.

Design rules, in order of importance:

* precision over recall: a claim that is not in the text can become a false contradiction, so
  anything ambiguous (a value not directly after its quantity's name, a finding named as a
  hypothesis or a criterion) is dropped;
* thresholds and reference ranges are not claims: a value counts only when it directly follows
  its quantity's name (filler words allowed); a range or bound after a reference cue ("normal PR
  of 120 ms to 200 ms") or inside parentheses ("(< 60 bpm)") is a reference;
* overlapping matches keep the longest ("complete right bundle branch block", not also "right
  bundle branch block").

>>> [(c.concept, c.value, c.leads) for c in extract_claims("PR 148 ms, ST elevation 2 mm in V2.")]
[('pr_interval_ms', 148.0, ()), ('st_deviation_mv', 0.2, ('V2',))]
"""

from __future__ import annotations

import bisect
import functools
import itertools
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ecgr1.io.leads import STANDARD_LEADS, canonical_lead_name
from ecgr1.verify.claims import Claim

LEXICON_PATH = Path(__file__).with_name("lexicon.yaml")
_FLAGS = re.IGNORECASE
_NUM = r"[+\-−–]?\s?\d+(?:\.\d+)?"
_CANONICAL_UNIT = {"time": "ms", "rate": "bpm", "angle": "deg", "amplitude": "mV", "ratio": ""}
# Lead tokens: case-insensitive, used only after "in"/"lead(s)" so "I" is not the pronoun.
_LEAD_TOKEN = r"(?:aV[RLF]|V[1-6]|III|II|I)(?![\w'])"
_LEAD_ITEM = rf"(?P<a>{_LEAD_TOKEN})(?:\s*(?:-|–|—|to|through)\s*(?P<b>V?[1-6])(?!\w))?"
_LEAD_SEP = r"\s*(?:,\s*(?:and\s+)?|and\s+|&\s*|/\s*)"
_SENTENCE_END = re.compile(r"(?<!\d)\.(?!\d)|[\n!?]|</?\w+>")


# --------------------------------------------------------------------------- the lexicon


# How far back (characters) a cue before a finding is looked for, and a "which excludes ..."
# list cue: beyond any real clause, and it keeps a sentence of thousands of findings linear.
CUE_REACH = 400
LIST_REACH = 800


@dataclass(frozen=True)
class _Phrase:
    """One compiled concept phrase with what it implies."""

    concept: str | None  # None: a non-claim span (wins overlaps, yields nothing)
    regex: re.Pattern[str]
    qualifier: str | None = None
    negated: bool = False
    hedged: bool = False
    sign: int = 0
    concepts: tuple[str, ...] = ()
    # lower-case words every match contains: a text without one of them is not scanned
    literals: tuple[str, ...] = ()


@dataclass
class _Lexicon:
    """``lexicon.yaml`` compiled once."""

    raw: dict[str, Any]
    numeric: dict[str, dict[str, Any]]
    numeric_phrases: list[_Phrase]
    categorical_phrases: list[_Phrase]
    category_of: dict[str, str]
    cues: dict[str, re.Pattern[str]] = field(default_factory=dict)
    units: list[tuple[re.Pattern[str], str, float]] = field(default_factory=list)
    comparators: list[tuple[re.Pattern[str], str]] = field(default_factory=list)
    # (group word alone, group word with its "chest leads" tail, leads)
    groups: list[tuple[str, re.Pattern[str], tuple[str, ...]]] = field(default_factory=list)
    # concepts a denial or hedge does not reach across a comma list (normal findings)
    list_excluded: frozenset[str] = frozenset()


def _expand(pattern: str, macros: dict[str, str]) -> str:
    """Insert ``{NAME}`` macros (macros may use earlier macros)."""
    for _ in range(3):
        pattern = re.sub(r"\{([A-Z0-9]+)\}", lambda m: macros.get(m.group(1), m.group(0)), pattern)
    return pattern


def _word(pattern: str) -> str:
    # Word edges that also work for cues made of symbols ("~75", "≥ 460", "?"): a word character
    # may not touch the match only where the match itself begins/ends with a word character.
    return rf"(?:(?<!\w)|(?!\w))(?:{pattern})(?!(?<=\w)\w)"


def _alternation(patterns: list[str], macros: dict[str, str]) -> re.Pattern[str]:
    body = "|".join(f"(?:{_expand(p, macros)})" for p in sorted(patterns, key=len, reverse=True))
    return re.compile(_word(f"(?:{body})"), _FLAGS)


def _required_literals(regex: re.Pattern[str]) -> tuple[str, ...]:
    """Runs of at least three literal characters that every match of ``regex`` contains (the
    mandatory skeleton of the pattern, lower-cased). Only an optimisation: scanning a text for
    421 patterns dominates extraction, and most patterns' words are absent from a given text.
    Empty when the pattern cannot be analysed (the phrase is then always scanned)."""
    try:
        from re import _constants as sre_c
        from re import _parser as sre_parse

        tree = sre_parse.parse(regex.pattern, regex.flags)
    except Exception:  # a private module of the standard library: never let it break reading
        return ()
    out: list[str] = []
    run: list[str] = []

    def flush() -> None:
        if len(run) >= 3:
            out.append("".join(run).lower())
        run.clear()

    def walk(seq: Any) -> None:
        for op, av in seq:
            if op is sre_c.LITERAL:
                run.append(chr(av))
            elif op is sre_c.SUBPATTERN:  # a group that occurs exactly once
                walk(av[-1])
            else:  # alternatives, repeats, classes, assertions: nothing is certain
                flush()

    walk(tree)
    flush()
    return tuple(out)


def _phrase(concept: str | None, item: Any, macros: dict[str, str]) -> _Phrase:
    spec = item if isinstance(item, dict) else {"pattern": item}
    regex = re.compile(_word(f"(?:{_expand(spec['pattern'], macros)})"), _FLAGS)
    return _Phrase(
        concept=concept,
        regex=regex,
        literals=_required_literals(regex),
        qualifier=spec.get("qualifier"),
        negated=bool(spec.get("negated", False)),
        hedged=bool(spec.get("hedged", False)),
        sign=int(spec.get("sign", 0)),
        concepts=tuple(spec.get("concepts", ())),
    )


def _territory_leads(spec: dict[str, Any], territories: dict[str, Any]) -> tuple[str, ...]:
    leads = list(spec.get("leads", ()))
    for name in spec.get("territories", ()):
        leads += territories[name]["leads"]
    return tuple(lead for lead in STANDARD_LEADS if lead in leads)


@functools.lru_cache(maxsize=1)
def load_lexicon() -> _Lexicon:
    """Compile ``lexicon.yaml`` (cached); territories come from the protocol's criteria table."""
    from ecgr1.protocol.table import load_table

    raw = yaml.safe_load(LEXICON_PATH.read_text(encoding="utf-8"))
    mac = raw["macros"]
    non_claims = [_phrase(None, p, mac) for p in raw["non_claims"]]
    num_phr = [_phrase(c, p, mac) for c, s in raw["numeric"].items() for p in s["phrases"]]
    cat_phr, category_of = [], {}
    for category, concepts in raw["categorical"].items():
        for concept, phrases in concepts.items():
            category_of[concept] = category
            cat_phr += [_phrase(concept, p, mac) for p in phrases]
    lex = _Lexicon(raw, raw["numeric"], num_phr + non_claims, cat_phr + non_claims, category_of)
    for key in (
        "filler",
        "approximate",
        "negation_pre",
        "negation_post",
        "negation_list",
        "attribution_list",
        "attribution_stops",
        "hedge_pre",
        "hedge_post",
        "hedge_over_negation",
        "hypothetical_pre",
        "hypothetical_post",
        "skip_to_sentence_end",
        "reference_cues",
        "scope_joiners",
        "list_joiners",
    ):
        lex.cues[key] = _alternation(raw[key], mac)
    lex.list_excluded = frozenset(raw["list_scope_excludes"])
    raw["foreign_words"]["_set"] = {str(w).lower() for w in raw["foreign_words"]["words"]}
    lex.cues["breaks"] = re.compile("|".join(raw["clause_breaks"]) + r"|[;:]", _FLAGS)
    lex.cues["formula"] = re.compile(
        r"\(\s*(?:" + "|".join(f"(?P<{k}>{v})" for k, v in raw["formula_qualifiers"].items())
        + r")" + raw["formula_tail"] + r"\s*\)", _FLAGS)  # fmt: skip
    lex.units = [(re.compile(rf"(?:{u['pattern']})(?![A-Za-z])", _FLAGS), u["dim"], u["factor"])
                 for u in raw["units"].values()]  # fmt: skip
    lex.comparators = [(_alternation(p, mac), op) for op, p in raw["comparators"].items()]
    territories = load_table().territories
    tail = _expand(raw["lead_group_tail"], mac)
    lex.groups = [(_word(_expand(g["pattern"], mac)),
                   re.compile(_word(_expand(g["pattern"], mac)) + tail, _FLAGS),
                   _territory_leads(g, territories)) for g in raw["lead_groups"]]  # fmt: skip
    return lex


# --------------------------------------------------------------------------- text helpers


class _Text:
    """The source text with its sentence boundaries (for scope and lead look-back)."""

    def __init__(self, source: str) -> None:
        self.s = source
        self.bounds = [0] + [m.end() for m in _SENTENCE_END.finditer(source)] + [len(source)]

    def sentence(self, pos: int) -> tuple[int, int]:
        i = bisect.bisect_right(self.bounds, pos) - 1
        return self.bounds[i], self.bounds[min(i + 1, len(self.bounds) - 1)]


def _find_phrases(text: str, phrases: list[_Phrase]) -> list[tuple[int, int, _Phrase]]:
    """All phrase matches, overlaps resolved longest-first (then earliest)."""
    lowered = text.lower()
    found = [
        (m.start(), m.end(), p)
        for p in phrases
        if all(word in lowered for word in p.literals)
        for m in p.regex.finditer(text)
    ]
    found = [(s + len(text[s:e]) - len(text[s:e].lstrip()), e, p) for s, e, p in found]
    found.sort(key=lambda f: (-(f[1] - f[0]), f[0]))
    taken: list[tuple[int, int, _Phrase]] = []
    starts: list[int] = []  # starts of the taken spans, sorted (they never overlap)
    ends: list[int] = []
    for f in found:
        i = bisect.bisect_right(starts, f[0])
        clear_left = i == 0 or ends[i - 1] <= f[0]
        clear_right = i == len(starts) or f[1] <= starts[i]
        if f[1] > f[0] and clear_left and clear_right:
            starts.insert(i, f[0])
            ends.insert(i, f[1])
            taken.append(f)
    return sorted(taken, key=lambda f: f[0])


def _parse_leads(text: str, pos: int) -> tuple[tuple[str, ...], int]:
    """A lead list at ``pos`` ("II, III and aVF", "V1-V3", "V4-6", "v2,3"); ((), pos) if none."""
    leads: list[str] = []
    end, last_v = pos, False
    while True:
        m = re.compile(_LEAD_ITEM, _FLAGS).match(text, pos)
        if m is None and last_v:  # "v2,3": a bare number continues a V list
            m = re.compile(r"(?P<a>[1-6])(?!\w|\.\d|\s*[-–]?\s*\d)(?P<b>)", _FLAGS).match(text, pos)
        if m is None:
            break
        leads += _lead_range(m.group("a"), m.group("b"))
        last_v = leads[-1].startswith("V")
        end = m.end()
        sep = re.compile(_LEAD_SEP, _FLAGS).match(text, end)
        if sep is None:
            break
        pos = sep.end()
    ordered = tuple(lead for lead in STANDARD_LEADS if lead in leads)
    return ordered, end


def _lead_range(a: str, b: str | None) -> list[str]:
    first = canonical_lead_name(a if not a.isdigit() else f"V{a}")
    if not b:
        return [first]
    if not first.startswith("V"):
        return [first]
    lo, hi = int(first[1]), int(b.lstrip("Vv"))
    return [f"V{k}" for k in range(lo, hi + 1)] if lo <= hi else [first]


def _leads_after(text: str, pos: int, lex: _Lexicon) -> tuple[tuple[str, ...], int]:
    """ "in leads II, III and aVF" / "in the inferior leads" right after ``pos``."""
    # the preposition may be missing in machine statements ("ST depression V4-V6")
    m = re.compile(r"\s*,?\s*\(?\s*(?:(?:in|on|over|across|involving|throughout|at)\s+)?"
                   r"(?:the\s+)?(?:(?:leads?|derivations?)\s+)?", _FLAGS).match(text, pos)  # fmt: skip
    if m is None:
        return (), pos
    leads, end = _parse_leads(text, m.end())
    if leads:
        return leads, end
    for _word_re, regex, group_leads in lex.groups:
        g = regex.match(text, m.end())
        if g:
            return group_leads, g.end()
    return (), pos


def _territory_before(text: str, start: int, lex: _Lexicon) -> tuple[str, ...]:
    """A territory adjective right before a finding ("old inferior myocardial infarction")."""
    window = text[max(0, start - 40) : start]
    wall = lex.raw["wall_word"]
    for word_re, _regex, group_leads in lex.groups:
        if re.search(rf"{word_re}(?:\s+{wall})?\s+$", window, _FLAGS):
            return group_leads
    return ()


# --------------------------------------------------------------------------- numeric claims


@dataclass
class _Value:
    value: float
    upper: float | None
    comparator: str
    unit_dim: str | None
    end: int


def _match_any(patterns: list[tuple[re.Pattern[str], str]], text: str, pos: int):
    for regex, tag in patterns:
        m = regex.match(text, pos)
        if m:
            return m, tag
    return None, None


def _read_number(text: str, pos: int, lex: _Lexicon) -> tuple[float, str | None, float, int] | None:
    """Number with optional unit at ``pos`` -> (number, unit dim, factor, end)."""
    m = re.compile(r"\s*(" + _NUM + r")").match(text, pos)
    if m is None:
        return None
    number = float(m.group(1).replace(" ", "").replace("−", "-").replace("–", "-"))
    u = re.compile(r"\s*").match(text, m.end())
    for regex, dim, factor in lex.units:
        um = regex.match(text, u.end())
        if um:
            return number, dim, factor, um.end()
    return number, None, 1.0, m.end()


def _read_value(text: str, pos: int, comparator: str, lex: _Lexicon) -> _Value | None:
    """A value, a range ("60-70 bpm", "between 0.12 and 0.20 s") or a bound's number."""
    first = _read_number(text, pos, lex)
    if first is None:
        return None
    joiner = r"\s*(?:and)\s*" if comparator == "between" else r"\s*(?:-|–|—|to)\s*"
    j = re.compile(joiner, _FLAGS).match(text, first[3])
    second = _read_number(text, j.end(), lex) if j else None
    if comparator == "between" and second is None:
        return None
    if second is None:
        return _Value(first[0] * first[2], None, comparator, first[1], first[3])
    dim = first[1] or second[1]
    factor = first[2] if first[1] else second[2]
    lo, hi = first[0] * factor, second[0] * (second[2] if second[1] else factor)
    return _Value(min(lo, hi), max(lo, hi), "between", dim, second[3])


@dataclass
class _Prefix:
    """What stands between a quantity's name and its value."""

    leads: tuple[str, ...] = ()
    qualifier: str | None = None
    approximate: bool = False
    comparator: str = "="
    in_paren: bool = False
    end: int = 0


def _read_prefix(text: str, pos: int, lex: _Lexicon) -> _Prefix | None:
    """Filler, leads, QTc formula, approximation and comparator words before a value."""
    pre = _Prefix(end=pos)
    for _ in range(12):
        ws = re.compile(r"\s*").match(text, pre.end).end()
        if re.compile(r"\s*" + _NUM).match(text, ws) and not _is_lead_digit(text, ws):
            pre.end = ws
            return pre
        if not _prefix_step(text, ws, pre, lex):
            return None
    return None


def _is_lead_digit(text: str, pos: int) -> bool:
    return pos > 0 and text[pos - 1 : pos].lower() == "v"


def _prefix_step(text: str, pos: int, pre: _Prefix, lex: _Lexicon) -> bool:
    """Consume one prefix element at ``pos``; False when none fits (the value is not here)."""
    leads, end = _leads_after(text, pos, lex)
    if leads:
        pre.leads, pre.end = leads, end
        return True
    m = lex.cues["formula"].match(text, pos)
    if m:
        pre.qualifier, pre.end = next(k for k, v in m.groupdict().items() if v), m.end()
        return True
    m = lex.cues["approximate"].match(text, pos)
    if m:
        pre.approximate, pre.end = True, m.end()
        return True
    m, op = _match_any(lex.comparators, text, pos)
    if m and pre.comparator == "=":
        pre.comparator, pre.end = op, m.end()
        return True
    m = lex.cues["filler"].match(text, pos)
    if m and pre.comparator == "=":
        pre.in_paren = pre.in_paren or m.group(0) == "("
        pre.end = m.end()
        return True
    return False


def _is_reference(text: str, start: int, pre: _Prefix, val: _Value, lex: _Lexicon) -> bool:
    """A range or bound in parentheses or after "normal"/"threshold" is a reference, not a claim."""
    if val.comparator == "=":
        return False
    if pre.in_paren:
        return True
    window = text[max(0, start - 30) : start]
    return any(
        m.end() >= len(window.rstrip()) - 6 for m in lex.cues["reference_cues"].finditer(window)
    )


def _convert(
    concept: str, val: _Value, sign: int, lex: _Lexicon
) -> tuple[float, float | None] | None:
    """Value in the concept's canonical unit, signed/absolute as the concept wants; None if the
    unit does not fit the quantity or the value is implausible."""
    spec = lex.numeric[concept]
    if val.unit_dim is None and not spec.get("unitless") and spec["dim"] != "ratio":
        return None
    if val.unit_dim is not None and val.unit_dim != spec["dim"]:
        return None
    lo, hi = val.value, val.upper
    if spec.get("absolute"):
        lo, hi = abs(lo), (abs(hi) if hi is not None else None)
    if sign:
        lo, hi = sign * abs(lo), (sign * abs(hi) if hi is not None else None)
        if hi is not None and hi < lo:
            lo, hi = hi, lo
    # A value written with its unit may be implausible and still a claim ("QRS 38 ms" is a
    # blatant error to contradict); a bare number must look like the quantity to be read as it.
    low, high = (
        spec.get("plausible_with_unit", spec["plausible"]) if val.unit_dim else spec["plausible"]
    )
    if not all(low <= v <= high for v in (lo, hi) if v is not None):
        return None
    return round(lo, 6), (round(hi, 6) if hi is not None else None)


def _leads_before(t: _Text, start: int) -> tuple[str, ...]:
    """Nearest "in V1" / "Lead aVR" earlier in the sentence (per-lead values written after it)."""
    s0, _ = t.sentence(start)
    best: tuple[str, ...] = ()
    for m in re.compile(r"(?<!\w)(?:in|leads?)\s+(?:the\s+)?", _FLAGS).finditer(t.s, s0, start):
        leads, _end = _parse_leads(t.s, m.end())
        if leads:
            best = leads
    return best


def _numeric_claim(t: _Text, start: int, end: int, concept: str, phrase: _Phrase,
                   pre: _Prefix, val: _Value, lex: _Lexicon) -> Claim | None:  # fmt: skip
    spec = lex.numeric[concept]
    conv = _convert(concept, val, phrase.sign, lex)
    if conv is None:
        return None
    leads = pre.leads
    if spec.get("per_lead") and not leads:
        leads = _leads_before(t, start)
        if not leads:
            return None
    # a value named as a definition, a condition or an earlier tracing is no claim about this
    # record ("defined as a rate over 100 bpm", "if the QTc were 500 ms", "previous QRS")
    if _cue_before(t, "hypothetical_pre", start, [], lex) or _cue_after(
        t, "hypothetical_post", end, [], lex
    ):
        return None
    hedged = _cue_before(t, "hedge_pre", start, [], lex) or _cue_after(
        t, "hedge_post", end, [], lex
    )
    return Claim(
        text=t.s[start:end], start=start, end=end, kind="numeric", category=spec["category"],
        concept=concept, value=conv[0], upper=conv[1], comparator=val.comparator,
        unit=_CANONICAL_UNIT[spec["dim"]], leads=leads, approximate=pre.approximate,
        qualifier=pre.qualifier or phrase.qualifier, hedged=hedged,
    )  # fmt: skip


def _after_value(text: str, pos: int, pre: _Prefix, lex: _Lexicon) -> int:
    """Consume a QTc formula in parentheses and an "in LEADS" after a value; return the end."""
    m = re.compile(r"\s*").match(text, pos)
    f = lex.cues["formula"].match(text, m.end())
    if f:
        pre.qualifier = next(k for k, v in f.groupdict().items() if v)
        pos = f.end()
    leads, end = _leads_after(text, pos, lex)
    if leads and not text[pos:end].lstrip().startswith((",", "(")):
        pre.leads, pos = leads, end
    return pos


def _list_items(t: _Text, pos: int, concept: str, phrase: _Phrase, lex: _Lexicon) -> list[Claim]:
    """Further "value in LEAD" items of a per-lead list ("-0.10 mV in III and -0.06 mV in aVF")."""
    out: list[Claim] = []
    while True:
        sep = re.compile(r"\s*(?:,\s*(?:and\s+)?|and\s+)", _FLAGS).match(t.s, pos)
        if sep is None:
            return out
        start = re.compile(r"\s*").match(t.s, sep.end()).end()
        val = _read_value(t.s, start, "=", lex)
        if val is None or val.unit_dim is None and lex.numeric[concept]["dim"] != "ratio":
            return out
        pre = _Prefix(end=val.end)
        end = _after_value(t.s, val.end, pre, lex)
        if not pre.leads:
            return out
        claim = _numeric_claim(t, start, end, concept, phrase, pre, val, lex)
        if claim is None:
            return out
        out.append(claim)
        pos = end


def _slash_compound(t: _Text, start: int, phrase: _Phrase, end: int, lex: _Lexicon) -> list[Claim]:
    """ "QT/QTc 458/409 ms": names joined by "/" and as many values joined by "/"."""
    names, pos = [phrase], end
    while True:
        m = re.compile(r"\s*/\s*").match(t.s, pos)
        nxt = _phrase_at(t.s, m.end(), lex) if m else None
        if nxt is None:
            break
        names.append(nxt[0])
        pos = nxt[1]
    if len(names) < 2:
        return []
    m = re.compile(
        r"\s*(?:(?:is|are|of|were|was|:|=)\s*)?((?:" + _NUM + r"\s*/\s*)+" + _NUM + ")"
    ).match(t.s, pos)
    if m is None or m.group(1).count("/") != len(names) - 1:
        return []
    numbers = [n.strip() for n in m.group(1).split("/")]
    unit = _read_number(t.s, m.end(1) - len(numbers[-1]), lex)
    stop = unit[3] if unit else m.end()
    out = []
    for p, n in zip(names, numbers):
        val = _Value(
            float(n) * (unit[2] if unit else 1.0), None, "=", unit[1] if unit else None, stop
        )
        c = _numeric_claim(t, start, stop, p.concept, p, _Prefix(end=stop), val, lex)
        if c is not None:
            out.append(c)
    return out


def _phrase_at(text: str, pos: int, lex: _Lexicon) -> tuple[_Phrase, int] | None:
    best = None
    for p in lex.numeric_phrases:
        m = p.regex.match(text, pos)
        if m and p.concept and (best is None or m.end() > best[1]):
            best = (p, m.end())
    return best


def _numeric_at(t: _Text, start: int, end: int, phrase: _Phrase, lex: _Lexicon) -> list[Claim]:
    """The claims of one quantity name: its value, a list of per-lead values, or a compound."""
    compound = _slash_compound(t, start, phrase, end, lex)
    if compound:
        return compound
    pre = _read_prefix(t.s, end, lex)
    if pre is None:
        return []
    val = _read_value(t.s, pre.end, pre.comparator, lex)
    if val is None or _is_reference(t.s, start, pre, val, lex):
        return []
    stop = _after_value(t.s, val.end, pre, lex)
    claim = _numeric_claim(t, start, stop, phrase.concept, phrase, pre, val, lex)
    if claim is None:
        return []
    return [claim] + _list_items(t, stop, phrase.concept, phrase, lex)


def _numeric_claims(t: _Text, skip: list[tuple[int, int]], lex: _Lexicon) -> list[Claim]:
    claims: list[Claim] = []
    read = _Spans()
    skipped = _Spans(skip)
    for start, end, phrase in _find_phrases(t.s, lex.numeric_phrases):
        # a name inside a claim already read ("QTc" of "QT/QTc 458/409 ms") is not read again
        if phrase.concept is None or start in skipped or start in read:
            continue
        new = _numeric_at(t, start, end, phrase, lex)
        claims += new
        read.add((c.start, c.end) for c in new)
    return claims


class _Spans:
    """Character spans answering "is this position inside one?" in logarithmic time (texts
    can hold thousands of findings)."""

    def __init__(self, spans: Any = ()) -> None:
        self._spans: list[tuple[int, int]] = []
        self._starts: list[int] = []
        self._max_end: list[int] = []  # max end of the spans up to each index
        self.add(spans)

    def add(self, spans: Any) -> None:
        for a, b in sorted(spans):
            if self._starts and a < self._starts[-1]:  # out of order (rare): rebuild
                self._spans = sorted([*self._spans, (a, b)])
                self._starts = [s for s, _ in self._spans]
                self._max_end = list(itertools.accumulate((e for _, e in self._spans), max))
                continue
            self._spans.append((a, b))
            self._starts.append(a)
            self._max_end.append(max(b, self._max_end[-1]) if self._max_end else b)

    def __contains__(self, pos: int) -> bool:
        i = bisect.bisect_right(self._starts, pos) - 1
        return i >= 0 and self._max_end[i] > pos


# --------------------------------------------------------------------------- categorical claims


def _skip_regions(t: _Text, lex: _Lexicon) -> list[tuple[int, int]]:
    """Sentence parts that hold no claim ("Statements withheld by precedence: ...")."""
    return [
        (m.start(), t.sentence(m.start())[1])
        for m in lex.cues["skip_to_sentence_end"].finditer(t.s)
    ]


def _gap_ok(gap: str, findings_in_gap: int, lex: _Lexicon, lists: bool = False) -> bool:
    """A cue reaches a finding across ``gap`` when no clause break separates the cue from the
    first finding, and across earlier findings only by "or"/"nor" ("no ST elevation or T wave
    inversion"); with ``lists`` also by commas and "and" ("no LBBB, RBBB or LVH")."""
    parts = gap.split("\x00")
    if lex.cues["breaks"].search(parts[0]):
        return False
    if findings_in_gap == 0:
        return True
    joiners = lex.cues["list_joiners" if lists else "scope_joiners"]
    return all(joiners.fullmatch(p.strip()) for p in parts[1:])


def _masked(t: _Text, a: int, b: int, spans: list[tuple[int, int]]) -> tuple[str, int]:
    """``text[a:b]`` with every finding span in it replaced by one NUL; and their count
    (``spans`` sorted by start)."""
    out, pos, n = [], a, 0
    for s, e in spans[bisect.bisect_left(spans, (a, a)) :]:
        if s >= b:
            break
        if e <= b:
            out.append(t.s[pos:s] + "\x00")
            pos, n = e, n + 1
    out.append(t.s[pos:b])
    return "".join(out), n


def _cue_before(
    t: _Text,
    key: str,
    start: int,
    spans: list[tuple[int, int]],
    lex: _Lexicon,
    lists: bool = False,
) -> bool:
    # The look-back is bounded so that a sentence of thousands of findings stays linear.
    s0 = max(t.sentence(start)[0], start - CUE_REACH)
    for m in reversed(list(lex.cues[key].finditer(t.s, s0, start))):
        gap, n = _masked(t, m.end(), start, spans)
        if _gap_ok(gap, n, lex, lists):
            return True
    return False


def _cue_after(t: _Text, key: str, end: int, spans: list[tuple[int, int]], lex: _Lexicon) -> bool:
    s1 = min(t.sentence(end)[1], end + CUE_REACH)
    m = lex.cues[key].search(t.s, end, s1)
    if m is None:
        return False
    gap, n = _masked(t, end, m.start(), spans)
    return n == 0 and not lex.cues["breaks"].search(gap)


def _list_cue(t: _Text, key: str, start: int, lex: _Lexicon) -> bool:
    """A cue whose scope is the rest of its sentence ("which excludes A, B; C or D", "the
    annotation lists A and B") earlier in the finding's sentence."""
    s0 = max(t.sentence(start)[0], start - LIST_REACH)
    return lex.cues[key].search(t.s, s0, start) is not None


def _attributed(t: _Text, start: int, lex: _Lexicon) -> bool:
    """A finding in the list an attribution names ("the source annotation lists A, B and C"),
    not past where the text speaks for itself again ("…, and the measurements show D")."""
    s0 = max(t.sentence(start)[0], start - LIST_REACH)
    found = list(lex.cues["attribution_list"].finditer(t.s, s0, start))
    return bool(found) and not lex.cues["attribution_stops"].search(t.s, found[-1].end(), start)


def _cue_inside(t: _Text, key: str, start: int, end: int, lex: _Lexicon) -> bool:
    """A cue inside the finding's own words ("ST segments are slightly depressed")."""
    return lex.cues[key].search(t.s, start, end) is not None


def _polarity(t: _Text, start: int, end: int, spans: list, phrase: _Phrase, lex: _Lexicon):
    """(negated, hedged, hypothetical) of the finding at [start, end)."""
    hypo = (_cue_before(t, "hypothetical_pre", start, spans, lex)
            or _cue_after(t, "hypothetical_post", end, spans, lex)
            or _attributed(t, start, lex))  # fmt: skip
    over = _cue_after(t, "hedge_over_negation", end, spans, lex)
    hedged = phrase.hedged or over or _cue_before(t, "hedge_pre", start, spans, lex) or _cue_after(
        t, "hedge_post", end, spans, lex) or _cue_inside(t, "hedge_pre", start, end, lex)  # fmt: skip
    if phrase.negated:
        return True, hedged, hypo
    # "No LBBB, RBBB or LVH": a denial runs down a list, but not onto a normal finding ("no
    # LVH, normal axis" denies only the LVH)
    lists = phrase.concept not in lex.list_excluded
    negated = not over and (
        _list_cue(t, "negation_list", start, lex)
        or _cue_before(t, "negation_pre", start, spans, lex, lists)
        or _cue_after(t, "negation_post", end, spans, lex)
    )
    return negated, hedged, hypo


def _categorical_leads(t: _Text, start: int, end: int, concept: str, lex: _Lexicon):
    """Leads of a finding: "in leads ..." after it, else a territory adjective before it."""
    if concept not in lex.raw["lead_concepts"]:
        return (), end
    leads, stop = _leads_after(t.s, end, lex)
    if leads:
        return leads, stop
    # "ST elevation is not seen in V5-V6": the leads follow the denial
    cue = lex.cues["negation_post"].match(t.s, _skip_space(t.s, end))
    if cue is not None:
        leads, stop = _leads_after(t.s, cue.end(), lex)
        if leads:
            return leads, stop
    return _territory_before(t.s, start, lex) or _sentence_lead_frame(t, start), end


def _skip_space(text: str, pos: int) -> int:
    while pos < len(text) and text[pos].isspace():
        pos += 1
    return pos


def _sentence_lead_frame(t: _Text, start: int) -> tuple[str, ...]:
    """ "In Lead aVR, there is no ST elevation": a sentence opened by its leads."""
    s0, _ = t.sentence(start)
    m = re.compile(r"\s*In\s+(?:the\s+)?(?:leads?\s+)?", _FLAGS).match(t.s, s0)
    if m is None:
        return ()
    leads, end = _parse_leads(t.s, m.end())
    return leads if leads and re.compile(r"\s*,").match(t.s, end) and end <= start else ()


def _categorical_claims(t: _Text, skip: list, numeric: list[Claim], lex: _Lexicon) -> list[Claim]:
    taken, skipped = _Spans((c.start, c.end) for c in numeric), _Spans(skip)
    found = [f for f in _find_phrases(t.s, lex.categorical_phrases)
             if f[0] not in skipped and f[0] not in taken]  # fmt: skip
    spans = [(s, e) for s, e, _p in found]
    out: list[Claim] = []
    for start, end, phrase in found:
        if phrase.concept is None:
            continue
        negated, hedged, hypo = _polarity(t, start, end, spans, phrase, lex)
        if hypo:
            continue
        for concept in phrase.concepts or (phrase.concept,):
            leads, stop = _categorical_leads(t, start, end, concept, lex)
            out.append(Claim(
                text=t.s[start:stop], start=start, end=stop, kind="categorical",
                category=lex.category_of.get(concept, "other"), concept=concept, leads=leads,
                negated=negated, hedged=hedged, qualifier=phrase.qualifier,
            ))  # fmt: skip
    return _merge_abbreviations(t, out)


def _merge_abbreviations(t: _Text, claims: list[Claim]) -> list[Claim]:
    """ "left ventricular hypertrophy (LVH)" is one claim, not two."""
    out: list[Claim] = []
    for c in claims:
        prev = out[-1] if out else None
        if (
            prev
            and prev.concept == c.concept
            and re.fullmatch(r"\s*\(\s*", t.s[prev.end : c.start])
        ):
            close = re.compile(r"\s*\)").match(t.s, c.end)
            end = close.end() if close else c.end
            out[-1] = Claim(**{**prev.__dict__, "end": end, "text": t.s[prev.start : end]})
            continue
        out.append(c)
    return out


# --------------------------------------------------------------------------- entry point


def _is_foreign(text: str, lex: _Lexicon) -> bool:
    """Mostly words of another language (German PTB-XL reports): read nothing from it."""
    spec = lex.raw["foreign_words"]
    words = re.findall(r"[^\W\d_]+", text.lower())
    hits = sum(w in spec["_set"] for w in words) if "_set" in spec else 0
    return hits >= spec["min_hits"] and hits > spec["ratio"] * max(len(words), 1)


def extract_claims(text: str) -> list[Claim]:
    """The checkable claims of an ECG interpretation text, sorted by start.

    Never raises on a ``str`` (an internal error yields ``[]`` with a :class:`RuntimeWarning`: a
    verifier that crashes on odd prose helps nobody); a non-``str`` raises :class:`TypeError`.

    >>> [c.concept for c in extract_claims("Sinus rhythm. Left anterior fascicular block.")]
    ['sinus_rhythm', 'lafb']
    """
    if not isinstance(text, str):
        raise TypeError(f"extract_claims needs a str, not {type(text).__name__}")
    try:
        return _extract(text)
    except Exception as exc:  # noqa: BLE001 - the contract is "never raises on any str"
        # ... but a bug must not pass silently as "no claims": say it (tests fail on it)
        warnings.warn(
            f"claim extraction failed ({type(exc).__name__}: {exc}); no claims were read",
            RuntimeWarning,
            stacklevel=2,
        )
        return []


def _extract(text: str) -> list[Claim]:
    lex = load_lexicon()
    if not text.strip() or _is_foreign(text, lex):
        return []
    t = _Text(text)
    skip = _skip_regions(t, lex)
    numeric = _numeric_claims(t, skip, lex)
    categorical = _categorical_claims(t, skip, numeric, lex)
    return sorted(numeric + categorical, key=lambda c: (c.start, c.end))
