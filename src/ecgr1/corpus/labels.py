"""One label table for every source: dataset labels -> ecgr1 concepts -> answer labels.

The table is data, ``labels.yaml`` next to this module (read it: every mapping is commented with
its source). It defines *concepts* (one ECG finding each: an answer ``name``, the protocol
statements whose positive call supports it, its SNOMED CT codes, and the concepts it is a kind
of) and, per source vocabulary (:data:`ecgr1.corpus.types.VOCABULARIES`), how that source's
labels map onto them:

``snomed``  PhysioNet/CinC Challenge 2021 SNOMED CT codes (every scored and unscored code of the
            Challenge mapping; the codes the Challenge scores as the same diagnosis share a concept);
``cpsc``    the nine CPSC 2018 classes; ``scp`` the 71 PTB-XL SCP-ECG statements (and the
            diagnostic superclasses, :func:`ptbxl_superclasses`); ``ludb`` the LUDB ``ludb.csv``
            items; ``code15`` the CODE-15% label columns;
``mimic``   a phrase table for MIMIC-IV-ECG machine statements: ordered patterns, hedge words
            ("possible", "probable", "consider", "cannot rule out"...) kept as a flag, summary and
            technical phrases ignored on purpose, anything else *unmapped* and reported.

The table is validated when it is loaded (once; :func:`load_label_table` caches it) and every
problem is reported at once, naming the entry.

Example
-------
>>> from ecgr1.corpus.labels import concepts_of_statements, map_labels
>>> map_labels("cpsc", ["AF", "PVC"]).names
['atrial fibrillation', 'premature ventricular contractions']
>>> map_labels("snomed", ["59118001"]).mapped[0].concept  # RBBB = complete RBBB (Challenge)
'complete_rbbb'
>>> m = map_labels("mimic", ["Sinus rhythm", "Possible right atrial abnormality", "Borderline ECG"])
>>> [(x.name, x.hedged) for x in m.mapped], m.ignored, m.unmapped
([('sinus rhythm', False), ('right atrial abnormality', True)], ['Borderline ECG'], [])
>>> sorted(concepts_of_statements({"sinus_rhythm", "incomplete_rbbb"}, vocabulary="cpsc"))
['right_bundle_branch_block']
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ecgr1.corpus.types import VOCABULARIES
from ecgr1.errors import InvalidInputError

__all__ = [
    "DEFAULT_LABEL_TABLE",
    "PTBXL_SUPERCLASSES",
    "PTBXL_SUPERCLASS_NAMES",
    "Concept",
    "LabelMapping",
    "LabelTable",
    "MappedLabel",
    "candidate_names",
    "challenge_group",
    "concepts_of_statements",
    "get_concept",
    "label_table_markdown",
    "load_label_table",
    "map_labels",
    "mimic_report_phrases",
    "primary_rhythm",
    "ptbxl_superclasses",
    "snomed_codes",
    "vocabulary_concepts",
    "with_broader",
]

#: The packaged table.
DEFAULT_LABEL_TABLE = Path(__file__).with_name("labels.yaml")

#: PTB-XL diagnostic superclasses, in the order of the PTB-XL paper (Wagner et al. 2020).
PTBXL_SUPERCLASSES: tuple[str, ...] = ("NORM", "MI", "STTC", "CD", "HYP")
#: Their descriptions in the PTB-XL paper.
PTBXL_SUPERCLASS_NAMES: dict[str, str] = {
    "NORM": "normal ECG",
    "MI": "myocardial infarction",
    "STTC": "ST/T change",
    "CD": "conduction disturbance",
    "HYP": "hypertrophy",
}

#: Vocabularies whose labels the table lists one by one (``snomed`` comes from the concepts'
#: codes, ``mimic`` from the phrase table).
_LISTED = ("cpsc", "scp", "ludb", "code15")
_MIMIC_REPORT_COLUMNS = tuple(f"report_{i}" for i in range(18))
_ID = re.compile(r"^[a-z][a-z0-9_]*$")
_CODE = re.compile(r"^\d{5,18}$")


# ---------------------------------------------------------------------------- public records


@dataclass(frozen=True)
class MappedLabel:
    """One source label mapped to one concept.

    Attributes
    ----------
    source_label : the label as the source wrote it (stripped).
    concept : the concept id.
    name : the concept's answer label.
    statements : protocol statement ids whose positive call supports the concept (directly or
        through a narrower concept); empty when the protocol cannot state it.
    hedged : the source qualified it ("Possible ...", "... consider ..."): MIMIC phrases only.
    """

    source_label: str
    concept: str
    name: str
    statements: frozenset[str]
    hedged: bool = False


@dataclass
class LabelMapping:
    """The labels of one record in one vocabulary, mapped.

    ``mapped`` in source order (one source label can yield several concepts); ``unmapped``: the
    labels the table does not know (and MIMIC phrases with words left over after matching), to
    be counted, never dropped; ``ignored``: labels the table ignores on purpose (MIMIC summary
    and technical statements).
    """

    mapped: list[MappedLabel] = field(default_factory=list)
    unmapped: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)

    @property
    def names(self) -> list[str]:
        """Answer labels, deduplicated, in source order."""
        return list(dict.fromkeys(m.name for m in self.mapped))

    @property
    def concepts(self) -> list[str]:
        """Concept ids, deduplicated, in source order."""
        return list(dict.fromkeys(m.concept for m in self.mapped))


@dataclass(frozen=True)
class Concept:
    """One ECG finding of the table (see ``labels.yaml`` for the meaning of each field)."""

    id: str
    name: str
    statements: frozenset[str]
    codes: tuple[str, ...]
    broader: tuple[str, ...]
    note: str = ""


@dataclass(frozen=True)
class _Entry:
    """One listed source label: its concepts, and optionally the code or PTB-XL superclass the
    table pins for it."""

    label: str
    concepts: tuple[str, ...]
    code: str | None = None
    superclass: str | None = None


@dataclass(frozen=True)
class _Pattern:
    source: str
    regex: re.Pattern[str]
    concepts: tuple[str, ...]


@dataclass(frozen=True)
class _Mimic:
    hedge: re.Pattern[str] | None
    hedges: tuple[str, ...]
    territory: str
    ignore: tuple[_Pattern, ...]
    patterns: tuple[_Pattern, ...]
    modifiers: tuple[_Pattern, ...]
    fillers: frozenset[str]


@dataclass(frozen=True)
class LabelTable:
    """The parsed, validated table. Treat every mapping as read-only."""

    path: str
    concepts: dict[str, Concept]
    vocabularies: dict[str, dict[str, _Entry]]
    normal_rules: dict[str, tuple[str, tuple[str, ...]]]
    mimic: _Mimic
    rhythm_order: tuple[str, ...]
    challenge_codes: dict[str, tuple[str, str, bool]]
    challenge_classes: tuple[str, ...]
    # derived
    code_concept: dict[str, str]
    closure: dict[str, frozenset[str]]
    support: dict[str, frozenset[str]]
    statement_concepts: dict[str, frozenset[str]]
    folded: dict[str, dict[str, _Entry]]
    challenge_class_of: dict[str, str]

    def vocabulary_concepts(self, vocabulary: str) -> list[str]:
        """The concepts a vocabulary's labels map to, deduplicated, in the table's order."""
        _check_vocabulary(vocabulary)
        if vocabulary == "snomed":
            out = [c.id for c in self.concepts.values() if c.codes]
        elif vocabulary == "mimic":
            out = [cid for p in self.mimic.patterns for cid in p.concepts]
        else:
            out = [cid for e in self.vocabularies[vocabulary].values() for cid in e.concepts]
        return list(dict.fromkeys(out))


# ---------------------------------------------------------------------------- loading


class _Problems:
    """Collects every validation problem, then raises them together."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.items: list[str] = []

    def add(self, message: str) -> None:
        self.items.append(message)

    def raise_if_any(self) -> None:
        if self.items:
            shown = self.items[:25]
            more = f" (and {len(self.items) - 25} more)" if len(self.items) > 25 else ""
            raise InvalidInputError(
                f"invalid label table ({len(self.items)} problem(s)): " + "; ".join(shown) + more,
                path=self.path,
            )


def _str_list(value: Any, where: str, problems: _Problems) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, (str, int)) for v in value):
        problems.add(f"{where}: expected a list of strings, got {value!r}")
        return []
    return [str(v).strip() for v in value]


def _parse_concepts(raw: Any, problems: _Problems) -> dict[str, Concept]:
    concepts: dict[str, Concept] = {}
    if not isinstance(raw, list) or not raw:
        problems.add("'concepts' must be a non-empty list")
        return concepts
    allowed = {"id", "name", "statements", "codes", "broader", "note"}
    names: dict[str, str] = {}
    for i, row in enumerate(raw):
        if not isinstance(row, Mapping):
            problems.add(f"concepts[{i}]: expected a mapping, got {row!r}")
            continue
        cid = row.get("id")
        where = f"concept {cid!r}" if cid else f"concepts[{i}]"
        unknown = set(row) - allowed
        if unknown:
            problems.add(f"{where}: unknown key(s) {sorted(unknown)} (allowed: {sorted(allowed)})")
        if not isinstance(cid, str) or not _ID.match(cid):
            problems.add(f"{where}: 'id' must be a snake_case identifier, got {cid!r}")
            continue
        if cid in concepts:
            problems.add(f"{where}: duplicate id")
            continue
        name = row.get("name")
        if not isinstance(name, str) or not name.strip():
            problems.add(f"{where}: 'name' must be a non-empty string")
            name = cid
        name = name.strip()
        if name.casefold() in names:
            problems.add(f"{where}: name {name!r} already used by {names[name.casefold()]!r}")
        names[name.casefold()] = cid
        codes = _str_list(row.get("codes"), f"{where}.codes", problems)
        for code in codes:
            if not _CODE.match(code):
                problems.add(f"{where}: {code!r} is not a SNOMED CT code")
        note = row.get("note") or ""
        concepts[cid] = Concept(
            id=cid,
            name=name,
            statements=frozenset(_str_list(row.get("statements"), f"{where}.statements", problems)),
            codes=tuple(codes),
            broader=tuple(_str_list(row.get("broader"), f"{where}.broader", problems)),
            note=str(note).strip(),
        )
    for c in concepts.values():
        for b in c.broader:
            if b not in concepts:
                problems.add(f"concept {c.id!r}: broader concept {b!r} is not defined")
            elif b == c.id:
                problems.add(f"concept {c.id!r}: is broader than itself")
    return concepts


def _closure(concepts: dict[str, Concept], problems: _Problems) -> dict[str, frozenset[str]]:
    """Each concept with all its broader concepts (transitively); reports cycles."""
    out: dict[str, frozenset[str]] = {}

    def visit(cid: str, path: tuple[str, ...]) -> frozenset[str]:
        if cid in out:
            return out[cid]
        if cid in path:
            problems.add(f"concept {cid!r}: 'broader' cycle {' -> '.join((*path, cid))}")
            return frozenset({cid})
        acc = {cid}
        for b in concepts[cid].broader:
            if b in concepts:
                acc |= visit(b, (*path, cid))
        out[cid] = frozenset(acc)
        return out[cid]

    for cid in concepts:
        visit(cid, ())
    return out


def _entry(
    label: str, value: Any, vocab: str, concepts: Mapping[str, Concept], problems: _Problems
) -> _Entry:
    where = f"vocabularies.{vocab} label {label!r}"
    code = superclass = None
    if isinstance(value, str):
        ids = [value]
    elif isinstance(value, list):
        ids = _str_list(value, where, problems)
    elif isinstance(value, Mapping):
        allowed = {"concept", "code", "superclass"}
        unknown = set(value) - allowed
        if unknown:
            problems.add(f"{where}: unknown key(s) {sorted(unknown)} (allowed: {sorted(allowed)})")
        raw = value.get("concept")
        ids = [raw] if isinstance(raw, str) else _str_list(raw, where, problems)
        if value.get("code") is not None:
            code = str(value["code"]).strip()
            if not _CODE.match(code):
                problems.add(f"{where}: {code!r} is not a SNOMED CT code")
        if value.get("superclass") is not None:
            superclass = str(value["superclass"])
            if vocab != "scp" or superclass not in PTBXL_SUPERCLASSES:
                problems.add(
                    f"{where}: superclass {superclass!r} (only scp labels, one of "
                    f"{', '.join(PTBXL_SUPERCLASSES)})"
                )
    else:
        problems.add(f"{where}: expected a concept id, a list of them or a mapping")
        ids = []
    if not ids:
        problems.add(f"{where}: maps to no concept")
    for cid in ids:
        if cid not in concepts:
            problems.add(f"{where}: concept {cid!r} is not defined")
    return _Entry(label=label, concepts=tuple(ids), code=code, superclass=superclass)


def _compile(
    source: Any, where: str, territory: str, problems: _Problems
) -> re.Pattern[str] | None:
    if not isinstance(source, str) or not source.strip():
        problems.add(f"{where}: expected a regular expression, got {source!r}")
        return None
    body = source.strip().replace("{T}", territory)
    try:
        return re.compile(rf"(?<!\w)(?:{body})(?!\w)", re.IGNORECASE)
    except re.error as exc:
        problems.add(f"{where}: bad regular expression {source!r} ({exc})")
        return None


def _parse_mimic(raw: Any, concepts: Mapping[str, Concept], problems: _Problems) -> _Mimic:
    if not isinstance(raw, Mapping):
        problems.add("'mimic' must be a mapping")
        raw = {}
    allowed = {"hedges", "territory", "ignore", "patterns", "modifiers", "fillers"}
    unknown = set(raw) - allowed
    if unknown:
        problems.add(f"mimic: unknown key(s) {sorted(unknown)} (allowed: {sorted(allowed)})")
    territory = str(raw.get("territory") or "").strip()
    try:
        re.compile(territory)
    except re.error as exc:
        problems.add(f"mimic.territory: bad regular expression ({exc})")
        territory = ""
    hedges = _str_list(raw.get("hedges"), "mimic.hedges", problems)
    hedge = _compile("|".join(hedges), "mimic.hedges", territory, problems) if hedges else None

    def plain(key: str) -> tuple[_Pattern, ...]:
        out = []
        for i, src in enumerate(raw.get(key) or []):
            rx = _compile(src, f"mimic.{key}[{i}]", territory, problems)
            if rx is not None:
                out.append(_Pattern(source=str(src), regex=rx, concepts=()))
        return tuple(out)

    patterns = []
    rows = raw.get("patterns")
    if not isinstance(rows, list) or not rows:
        problems.add("mimic.patterns must be a non-empty list")
        rows = []
    for i, row in enumerate(rows):
        where = f"mimic.patterns[{i}]"
        if not isinstance(row, Mapping) or set(row) != {"match", "concept"}:
            problems.add(f"{where}: expected {{match: regex, concept: id or [ids]}}, got {row!r}")
            continue
        ids = [row["concept"]] if isinstance(row["concept"], str) else row["concept"]
        ids = _str_list(ids, where, problems)
        for cid in ids:
            if cid not in concepts:
                problems.add(f"{where}: concept {cid!r} is not defined")
        rx = _compile(row["match"], f"{where} ({row['match']!r})", territory, problems)
        if rx is not None and ids:
            patterns.append(_Pattern(source=str(row["match"]), regex=rx, concepts=tuple(ids)))
    fillers = frozenset(
        w.casefold() for w in _str_list(raw.get("fillers"), "mimic.fillers", problems)
    )
    return _Mimic(
        hedge=hedge,
        hedges=tuple(hedges),
        territory=territory,
        ignore=plain("ignore"),
        patterns=tuple(patterns),
        modifiers=plain("modifiers"),
        fillers=fillers,
    )


def _parse_challenge(raw: Any, problems: _Problems):
    codes: dict[str, tuple[str, str, bool]] = {}
    classes: list[str] = []
    if not isinstance(raw, Mapping):
        problems.add("'challenge2021' must be a mapping with 'codes' and 'scored_classes'")
        return codes, tuple(classes)
    for code, row in (raw.get("codes") or {}).items():
        code = str(code).strip()
        ok = (
            isinstance(row, list)
            and len(row) == 3
            and row[2] in ("scored", "unscored")
            and _CODE.match(code)
        )
        if not ok:
            problems.add(
                f"challenge2021.codes {code!r}: expected [abbreviation, Dx, scored|unscored]"
            )
            continue
        codes[code] = (str(row[0]), str(row[1]), row[2] == "scored")
    if not codes:
        problems.add("challenge2021.codes is empty")
    seen: dict[str, str] = {}
    for cls in raw.get("scored_classes") or []:
        cls = str(cls).strip()
        classes.append(cls)
        for code in cls.split("|"):
            if code in seen:
                problems.add(f"challenge2021.scored_classes: {code} in both {seen[code]} and {cls}")
            seen[code] = cls
            if code not in codes or not codes[code][2]:
                problems.add(f"challenge2021.scored_classes: {code} ({cls}) is not a scored code")
    for code, (abbrev, _, scored) in codes.items():
        if scored and code not in seen:
            problems.add(f"challenge2021: scored code {code} ({abbrev}) is in no scored class")
    return codes, tuple(classes)


def _parse(data: Any, path: str) -> LabelTable:
    problems = _Problems(path)
    if not isinstance(data, Mapping):
        problems.add("the table must be a YAML mapping")
        problems.raise_if_any()
    allowed = {"version", "concepts", "vocabularies", "mimic", "rhythm_order", "challenge2021"}
    unknown = set(data) - allowed
    if unknown:
        problems.add(f"unknown top-level key(s) {sorted(unknown)} (allowed: {sorted(allowed)})")
    if data.get("version") != 1:
        problems.add(f"unsupported version {data.get('version')!r} (expected 1)")
    concepts = _parse_concepts(data.get("concepts"), problems)
    closure = _closure(concepts, problems)

    # SNOMED CT codes: each in one concept
    code_concept: dict[str, str] = {}
    for c in concepts.values():
        for code in c.codes:
            if code in code_concept and code_concept[code] != c.id:
                problems.add(f"code {code} is in both {code_concept[code]!r} and {c.id!r}")
            code_concept[code] = c.id

    # listed vocabularies
    vocabularies: dict[str, dict[str, _Entry]] = {}
    folded: dict[str, dict[str, _Entry]] = {}
    normal_rules: dict[str, tuple[str, tuple[str, ...]]] = {}
    raw_vocabs = data.get("vocabularies")
    if not isinstance(raw_vocabs, Mapping):
        problems.add("'vocabularies' must be a mapping")
        raw_vocabs = {}
    for vocab in raw_vocabs:
        if vocab not in _LISTED:
            problems.add(f"vocabularies.{vocab}: not a listed vocabulary ({', '.join(_LISTED)})")
    for vocab in _LISTED:
        section = raw_vocabs.get(vocab)
        if not isinstance(section, Mapping) or not isinstance(section.get("labels"), Mapping):
            problems.add(f"vocabularies.{vocab}: missing its 'labels' mapping")
            vocabularies[vocab], folded[vocab] = {}, {}
            continue
        unknown = set(section) - {"labels", "normal"}
        if unknown:
            problems.add(f"vocabularies.{vocab}: unknown key(s) {sorted(unknown)}")
        entries: dict[str, _Entry] = {}
        fold: dict[str, _Entry] = {}
        for label, value in section["labels"].items():
            label = str(label).strip()
            e = _entry(label, value, vocab, concepts, problems)
            if label.casefold() in fold:
                problems.add(f"vocabularies.{vocab}: label {label!r} listed twice (ignoring case)")
            entries[label] = e
            fold[label.casefold()] = e
        vocabularies[vocab], folded[vocab] = entries, fold
        if "normal" in section:
            rule = section["normal"]
            where = f"vocabularies.{vocab}.normal"
            if not isinstance(rule, Mapping) or set(rule) != {"label", "rhythms"}:
                problems.add(f"{where}: expected {{label: ..., rhythms: [concepts]}}")
                continue
            label = str(rule["label"])
            rhythms = tuple(_str_list(rule["rhythms"], where, problems))
            if label not in entries or len(entries[label].concepts) != 1:
                problems.add(
                    f"{where}: label {label!r} must be one of its labels, with one concept"
                )
                continue
            for cid in rhythms:
                if cid not in concepts:
                    problems.add(f"{where}: concept {cid!r} is not defined")
            normal_rules[vocab] = (entries[label].concepts[0], rhythms)

    mimic = _parse_mimic(data.get("mimic"), concepts, problems)

    rhythm_order = tuple(_str_list(data.get("rhythm_order"), "rhythm_order", problems))
    for cid in rhythm_order:
        if cid not in concepts:
            problems.add(f"rhythm_order: concept {cid!r} is not defined")
    if len(set(rhythm_order)) != len(rhythm_order):
        problems.add("rhythm_order: a concept is listed twice")

    challenge_codes, challenge_classes = _parse_challenge(data.get("challenge2021"), problems)
    for code, (abbrev, dx, _) in challenge_codes.items():
        if code not in code_concept:
            problems.add(f"Challenge 2021 code {code} ({abbrev}, {dx}) belongs to no concept")
    challenge_class_of = {code: cls for cls in challenge_classes for code in cls.split("|")}
    for cls in challenge_classes:
        owners = {code_concept.get(code) for code in cls.split("|")}
        if len(owners) > 1:
            problems.add(
                f"Challenge 2021 class {cls} is scored as one diagnosis but its codes are in "
                f"different concepts {sorted(o or '-' for o in owners)}"
            )
    problems.raise_if_any()

    statement_concepts: dict[str, set[str]] = {}
    for c in concepts.values():
        for sid in c.statements:
            statement_concepts.setdefault(sid, set()).update(closure[c.id])
    support: dict[str, set[str]] = {cid: set() for cid in concepts}
    for sid, cids in statement_concepts.items():
        for cid in cids:
            support[cid].add(sid)
    return LabelTable(
        path=path,
        concepts=concepts,
        vocabularies=vocabularies,
        normal_rules=normal_rules,
        mimic=mimic,
        rhythm_order=rhythm_order,
        challenge_codes=challenge_codes,
        challenge_classes=challenge_classes,
        code_concept=code_concept,
        closure=closure,
        support={k: frozenset(v) for k, v in support.items()},
        statement_concepts={k: frozenset(v) for k, v in statement_concepts.items()},
        folded=folded,
        challenge_class_of=challenge_class_of,
    )


@functools.lru_cache(maxsize=8)
def _load(path: str) -> LabelTable:
    p = Path(path)
    if not p.is_file():
        raise InvalidInputError("label table not found", path=path)
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise InvalidInputError(f"label table is not valid YAML: {exc}", path=path) from exc
    return _parse(data, path)


def load_label_table(path: str | Path | None = None) -> LabelTable:
    """The label table at ``path`` (default: the packaged ``labels.yaml``), parsed, validated and
    cached. Raises :class:`~ecgr1.errors.InvalidInputError` listing every problem of a bad table.

    >>> t = load_label_table()
    >>> t.concepts["complete_rbbb"].codes
    ('713427006', '59118001')
    """
    return _load(str(Path(path or DEFAULT_LABEL_TABLE).resolve()))


# ---------------------------------------------------------------------------- mapping


def _check_vocabulary(vocabulary: str) -> None:
    if vocabulary not in VOCABULARIES:
        raise InvalidInputError(
            f"unknown label vocabulary {vocabulary!r} (known: {', '.join(VOCABULARIES)})"
        )


def _labels(labels: Iterable[Any] | str) -> list[str]:
    """Stripped, non-empty labels (a bare string is one label; None and NaN are skipped)."""
    if isinstance(labels, (str, int)):
        labels = [labels]
    out = []
    for x in labels:
        if x is None or (isinstance(x, float) and math.isnan(x)):
            continue
        text = str(x).strip()
        if text:
            out.append(text)
    return out


def _blank(text: str, start: int, end: int) -> str:
    return text[:start] + "\0" * (end - start) + text[end:]


@functools.lru_cache(maxsize=65536)
def _match_phrase(table_path: str, phrase: str) -> tuple[tuple[tuple[str, bool], ...], bool]:
    """(concept, hedged) pairs of one MIMIC phrase, and whether words were left unexplained.
    Cached: machine statements repeat a great deal."""
    m = _load(table_path).mimic
    work = phrase
    ignored: list[tuple[int, int]] = []
    for p in m.ignore:
        for mt in list(p.regex.finditer(work)):
            if mt.end() > mt.start():
                ignored.append(mt.span())
                work = _blank(work, *mt.span())
    hits: list[tuple[int, int, tuple[str, ...]]] = []
    for p in m.patterns:
        for mt in list(p.regex.finditer(work)):
            if mt.end() > mt.start():
                hits.append((mt.start(), mt.end(), p.concepts))
                work = _blank(work, *mt.span())
    for p in m.modifiers:  # after the patterns: "... with rapid ventricular response"
        for mt in list(p.regex.finditer(work)):
            if mt.end() > mt.start():
                ignored.append(mt.span())
                work = _blank(work, *mt.span())
    hedges = []  # hedge words outside ignored and modifier spans ("possibly acute")
    if m.hedge is not None:
        for mt in m.hedge.finditer(phrase):
            if not any(a < mt.end() and mt.start() < b for a, b in ignored):
                hedges.append(mt.span())
                work = _blank(work, *mt.span())
    words = re.findall(r"[a-z0-9]+", work.replace("\0", " ").casefold())
    leftover = any(w not in m.fillers and not w.isdigit() for w in words)

    out: dict[str, bool] = {}
    prev_end = 0
    for start, end, cids in sorted(hits):
        gap = phrase[prev_end:start]
        cut = max(gap.rfind(";"), gap.rfind(". "))
        gap_start = prev_end + cut + 1 if cut >= 0 else prev_end
        hedged = any(gap_start <= a and b <= start for a, b in hedges)
        for cid in cids:
            out.setdefault(cid, hedged)
        prev_end = end
    return tuple(out.items()), leftover


def _lookup(table: LabelTable, vocabulary: str, label: str) -> _Entry | None:
    if vocabulary == "snomed":
        cid = table.code_concept.get(label)
        return _Entry(label=label, concepts=(cid,), code=label) if cid else None
    entries = table.vocabularies[vocabulary]
    return entries.get(label) or table.folded[vocabulary].get(label.casefold())


def _mapped(table: LabelTable, label: str, cid: str, hedged: bool = False) -> MappedLabel:
    c = table.concepts[cid]
    return MappedLabel(label, cid, c.name, table.support[cid], hedged)


def map_labels(vocabulary: str, labels: Iterable[str] | str) -> LabelMapping:
    """Map one record's labels, in ``vocabulary``, to concepts.

    ``labels``: the source's labels in its order (codes for ``snomed``, class names for
    ``cpsc``, SCP codes for ``scp``, ``ludb.csv`` items for ``ludb``, column names for
    ``code15``, machine statements for ``mimic``); blanks and NaN are skipped. Matching is exact
    after stripping, then case-insensitive. An unknown vocabulary raises
    :class:`~ecgr1.errors.InvalidInputError`; an unknown label is returned in ``unmapped``.

    >>> m = map_labels("scp", ["NORM", "SR", "XYZ"])
    >>> m.names, m.unmapped
    (['normal ECG', 'sinus rhythm'], ['XYZ'])
    >>> m = map_labels("mimic", ["ST elevation consider acute infarct", "Odd phrase"])
    >>> [(x.concept, x.hedged) for x in m.mapped], m.unmapped
    ([('st_elevation', False), ('acute_myocardial_infarction', True)], ['Odd phrase'])
    """
    _check_vocabulary(vocabulary)
    table = load_label_table()
    out = LabelMapping()
    for label in _labels(labels):
        if vocabulary == "mimic":
            pairs, leftover = _match_phrase(table.path, label)
            if leftover:
                # Words the table does not explain may reverse the finding ("No ST elevation",
                # "AF no longer present", "... - normal variant"): the phrase maps to nothing.
                out.unmapped.append(label)
            elif pairs:
                out.mapped.extend(_mapped(table, label, cid, hedged) for cid, hedged in pairs)
            else:
                out.ignored.append(label)
            continue
        entry = _lookup(table, vocabulary, label)
        if entry is None:
            out.unmapped.append(label)
        else:
            out.mapped.extend(_mapped(table, label, cid) for cid in entry.concepts)
    return out


def mimic_report_phrases(row: Mapping[str, Any]) -> list[str]:
    """The machine statements of one ``machine_measurements.csv`` row (``report_0`` ...
    ``report_17``, blanks skipped), ready for ``map_labels("mimic", ...)``.

    >>> mimic_report_phrases({"report_0": "Sinus rhythm", "report_1": "", "report_2": "Abnormal ECG"})
    ['Sinus rhythm', 'Abnormal ECG']
    """
    return _labels(row.get(col) for col in _MIMIC_REPORT_COLUMNS)


def get_concept(concept_id: str) -> Concept:
    """One concept of the packaged table (``InvalidInputError`` for an unknown id)."""
    table = load_label_table()
    if concept_id not in table.concepts:
        raise InvalidInputError(f"unknown concept {concept_id!r}")
    return table.concepts[concept_id]


def with_broader(concepts: Iterable[str]) -> set[str]:
    """The concepts and every concept they are a kind of (``broader``, transitively).

    >>> sorted(with_broader(["sinus_bradycardia"]))
    ['bradycardia', 'sinus_bradycardia']
    """
    table = load_label_table()
    out: set[str] = set()
    for cid in _labels(concepts):
        out |= table.closure.get(cid, {cid})
    return out


def concepts_of_statements(statement_ids: Iterable[str], vocabulary: str | None = None) -> set[str]:
    """The concepts that the protocol's positive statements support.

    ``statement_ids``: ids of the statements called positive (the caller decides which count,
    e.g. whether "borderline" statements do). Each statement supports the concepts that list it
    and everything those are a kind of (``broader``); ids the table does not name (e.g.
    ``poor_quality``) support nothing.

    With a ``vocabulary``, only that vocabulary's concepts are returned, so that the result
    compares directly with ``map_labels(vocabulary, ...)``; a vocabulary with a ``normal`` rule
    (CPSC 2018: "Normal") then has its normal concept decided by that rule alone: supported
    when one of the rule's sinus-family rhythm concepts is and none of the vocabulary's other
    concepts is. Without a vocabulary, "normal ECG" is supported by the protocol's own
    ``normal_ecg`` statement only.

    >>> sorted(concepts_of_statements({"sinus_bradycardia"}))
    ['bradycardia', 'sinus_bradycardia']
    >>> concepts_of_statements({"sinus_bradycardia"}, vocabulary="cpsc")
    {'normal_ecg'}
    >>> sorted(concepts_of_statements({"sinus_rhythm", "std_lateral"}, vocabulary="cpsc"))
    ['st_depression']
    """
    table = load_label_table()
    found: set[str] = set()
    for sid in _labels(statement_ids):
        found |= table.statement_concepts.get(sid, frozenset())
    if vocabulary is None:
        return found
    out = found & set(table.vocabulary_concepts(vocabulary))
    rule = table.normal_rules.get(vocabulary)
    if rule is not None:
        normal, rhythms = rule
        out.discard(normal)
        if not out and found & set(rhythms):
            out.add(normal)
    return out


def candidate_names(vocabulary: str) -> list[str]:
    """The answer labels a vocabulary can produce (its label set), in the table's order.

    >>> candidate_names("cpsc")[:3]
    ['normal ECG', 'atrial fibrillation', 'first degree AV block']
    >>> len(candidate_names("code15"))
    7

    For the PTB-XL superclasses see :data:`PTBXL_SUPERCLASSES` and :func:`ptbxl_superclasses`.
    """
    table = load_label_table()
    return [table.concepts[cid].name for cid in table.vocabulary_concepts(vocabulary)]


def vocabulary_concepts(vocabulary: str) -> set[str]:
    """The concept ids a vocabulary's labels can map to (what that source can express);
    :func:`candidate_names` gives their answer labels in order.

    >>> sorted(vocabulary_concepts("code15"))[:3]
    ['atrial_fibrillation', 'complete_lbbb', 'complete_rbbb']
    """
    return set(load_label_table().vocabulary_concepts(vocabulary))


def snomed_codes(vocabulary: str, label: str) -> tuple[str, ...]:
    """SNOMED CT codes of one source label: the code the table pins for it (a CPSC class: the
    Challenge's code of the class), else the codes of its concepts; () when it has none.

    >>> snomed_codes("cpsc", "PVC"), snomed_codes("code15", "RBBB")
    (('164884008',), ('713427006', '59118001'))
    """
    _check_vocabulary(vocabulary)
    table = load_label_table()
    labels = _labels(label)
    if not labels:
        return ()
    if vocabulary not in ("mimic", "snomed"):
        entry = _lookup(table, vocabulary, labels[0])
        if entry is not None and entry.code:
            return (entry.code,)
    if vocabulary == "snomed" and labels[0] in table.code_concept:
        return (labels[0],)
    cids = map_labels(vocabulary, labels[:1]).concepts
    return tuple(dict.fromkeys(code for cid in cids for code in table.concepts[cid].codes))


def translate_labels(vocabulary: str, labels: Iterable[str], target: str) -> list[str]:
    """A record's labels in ``vocabulary`` as the answer names of ``target`` (sorted): through
    the concepts (a narrower one counts for a broader one: complete RBBB is CPSC's "RBBB"), and
    for SNOMED CT codes also through the code a target label is pinned to (the Challenge codes
    CPSC's "Normal" as sinus rhythm 426783006 and its "PVC" as ventricular ectopics 164884008).

    >>> translate_labels("snomed", ["426783006"], "cpsc"), translate_labels("snomed", ["713427006"], "cpsc")
    (['normal ECG'], ['right bundle branch block'])
    """
    table = load_label_table()
    labels = _labels(labels)
    wanted = set(table.vocabulary_concepts(target))
    concepts = with_broader(m.concept for m in map_labels(vocabulary, labels).mapped) & wanted
    names = {table.concepts[c].name for c in concepts}
    if vocabulary == "snomed" and target in table.vocabularies:
        for entry in table.vocabularies[target].values():
            if entry.code and entry.code in labels:
                names |= {table.concepts[c].name for c in entry.concepts}
    rule = table.normal_rules.get(target)
    if rule is not None and len(names) > 1:
        names.discard(table.concepts[rule[0]].name)  # "Normal" means none of the others
    return sorted(names)


def ptbxl_superclasses(scp_codes: Mapping[str, Any] | Iterable[str]) -> list[str]:
    """PTB-XL diagnostic superclasses of a record's SCP codes (a ``scp_codes`` mapping of code
    to likelihood, or the codes), in :data:`PTBXL_SUPERCLASSES` order. As in PTB-XL's own
    example code, every diagnostic statement counts whatever its likelihood; form and rhythm
    statements have no superclass. An SCP code the table does not know raises
    :class:`~ecgr1.errors.InvalidInputError`.

    >>> ptbxl_superclasses({"IMI": 15.0, "LVH": 100.0, "SR": 0.0})
    ['MI', 'HYP']
    """
    table = load_label_table()
    codes = _labels(list(scp_codes.keys()) if isinstance(scp_codes, Mapping) else scp_codes)
    found = set()
    for code in codes:
        entry = _lookup(table, "scp", code)
        if entry is None:
            raise InvalidInputError(f"unknown PTB-XL SCP statement {code!r}")
        if entry.superclass:
            found.add(entry.superclass)
    return [s for s in PTBXL_SUPERCLASSES if s in found]


def challenge_group(code: str | int) -> str | None:
    """The PhysioNet/CinC Challenge 2021 scored class of a SNOMED CT code, written as in the
    Challenge's ``weights.csv`` (codes scored as the same diagnosis joined by ``|``); None for an
    unscored or unknown code. Score Challenge-style by comparing these classes.

    >>> challenge_group("59118001"), challenge_group(164884008)
    ('713427006|59118001', None)
    """
    return load_label_table().challenge_class_of.get(str(code).strip())


def primary_rhythm(concepts: Iterable[str]) -> str | None:
    """The single primary rhythm among ``concepts``: the first of the table's ``rhythm_order``
    present (atrial flutter, atrial fibrillation, then the sinus rhythms with a rate qualifier
    before plain sinus rhythm...); None when none is.

    >>> primary_rhythm(concepts_of_statements({"sinus_rhythm", "sinus_bradycardia"}))
    'sinus_bradycardia'
    """
    present = set(_labels(concepts))
    for cid in load_label_table().rhythm_order:
        if cid in present:
            return cid
    return None


# ---------------------------------------------------------------------------- documentation


def _md(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def label_table_markdown() -> str:
    """The whole table as Markdown (concepts, every vocabulary, the MIMIC phrase table), for
    the documentation.

    >>> label_table_markdown().splitlines()[0]
    '# ecgr1 label table'
    """
    t = load_label_table()
    lines = [
        "# ecgr1 label table",
        "",
        f"Generated from `{Path(t.path).name}` by `ecgr1.corpus.labels.label_table_markdown()`: "
        f"{len(t.concepts)} concepts; {len(t.code_concept)} SNOMED CT codes "
        f"({len(t.challenge_codes)} from the PhysioNet/CinC Challenge 2021 mapping, "
        f"{len(t.challenge_classes)} scored classes).",
        "",
        "## Concepts",
        "",
        "Statements in *italics* support the concept through a narrower concept.",
        "",
        "| id | answer label | protocol statements | SNOMED CT (Challenge abbreviation, scored class) "
        "| kind of |",
        "|---|---|---|---|---|",
    ]
    for c in t.concepts.values():
        indirect = sorted(t.support[c.id] - c.statements)
        stmts = ", ".join(sorted(c.statements) + [f"*{s}*" for s in indirect]) or "-"
        codes = []
        for code in c.codes:
            if code in t.challenge_codes:
                abbrev = t.challenge_codes[code][0]
                cls = t.challenge_class_of.get(code)
                codes.append(f"{code} ({abbrev}, {'scored ' + cls if cls else 'unscored'})")
            else:
                codes.append(code)
        lines.append(
            f"| {c.id} | {_md(c.name)} | {stmts} | {_md('; '.join(codes)) or '-'} "
            f"| {', '.join(c.broader) or '-'} |"
        )
    for vocab in _LISTED:
        lines += ["", f"## Vocabulary `{vocab}`", ""]
        extra = {"cpsc": "Challenge code", "scp": "PTB-XL superclass"}.get(vocab)
        head = "| source label | concept | answer label |" + (f" {extra} |" if extra else "")
        lines += [head, "|---|---|---|" + ("---|" if extra else "")]
        for e in t.vocabularies[vocab].values():
            names = "; ".join(t.concepts[c].name for c in e.concepts)
            row = f"| {_md(e.label)} | {', '.join(e.concepts)} | {_md(names)} |"
            if extra:
                row += f" {(e.code if vocab == 'cpsc' else e.superclass) or '-'} |"
            lines.append(row)
        if vocab in t.normal_rules:
            normal, rhythms = t.normal_rules[vocab]
            lines += [
                "",
                f"`{normal}` is predicted when one of {', '.join(rhythms)} is supported and "
                f"none of the vocabulary's other concepts is.",
            ]
    m = t.mimic
    lines += [
        "",
        "## Vocabulary `mimic` (MIMIC-IV-ECG machine statements)",
        "",
        "Case-insensitive, anchored at word boundaries. Ignored spans are removed first; then "
        "each pattern in order removes what it matches and yields its concepts; a concept is "
        "hedged when a hedge word stands between the previous match and its own; modifiers "
        "and filler words are removed from the rest, and any word left over makes the phrase "
        "unmapped.",
        "",
        f"Hedges: {', '.join(f'`{_md(h)}`' for h in m.hedges)}",
        "",
        f"Ignored (summary, technical): {', '.join(f'`{_md(p.source)}`' for p in m.ignore)}",
        "",
        f"Modifiers: {', '.join(f'`{_md(p.source)}`' for p in m.modifiers)}",
        "",
        f"Fillers: {', '.join(sorted(m.fillers))}",
        "",
        f"`{{T}}` (territory words): `{_md(m.territory)}`",
        "",
        "| # | pattern | concepts |",
        "|---|---|---|",
    ]
    for i, p in enumerate(m.patterns, 1):
        lines.append(f"| {i} | `{_md(p.source)}` | {', '.join(p.concepts)} |")
    lines += ["", "## Primary rhythm order", "", " > ".join(t.rhythm_order), ""]
    return "\n".join(lines)
