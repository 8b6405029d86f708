"""PhysioNet/CinC Challenge 2020/2021 training trees (any nesting of ``*.hea`` + ``.mat``).

Every ``<id>.hea`` under the root whose signal file is a ``.mat`` (MATLAB v4, key ``val``) is a
record; other headers are skipped (listed in ``skipped``). The record-id prefix names the
source database, as in the Challenge 2021 description (Reyna et al., CinC 2021, Table 1):

====== ===================== ==========================================================
prefix source                database
====== ===================== ==========================================================
A      ``cpsc2018``          CPSC 2018 (China Physiological Signal Challenge)
Q      ``cpsc_extra``        CPSC 2018 unused/extra data
I      ``incart``            St Petersburg INCART 12-lead arrhythmia database
S      ``ptb``               PTB diagnostic ECG database (1000 Hz)
HR     ``ptbxl_challenge``   PTB-XL (``HR<ecg_id>``)
E      ``georgia``           Georgia 12-lead ECG Challenge database
JS     ``chapman_shaoxing``  Chapman-Shaoxing: JS00001-JS10646
JS     ``ningbo``            Ningbo First Hospital: JS10647-JS45551
====== ===================== ==========================================================

The Challenge 2021 release ships the Chapman-Shaoxing records (10,247) as JS00001-JS10646 and
the Ningbo records (34,905) as JS10647-JS45551; the shared extracts agree (Chapman up to
JS09740, Ningbo from JS11438). An unknown prefix gives the source ``challenge``.

Labels come from ``#Dx:`` (comma-separated). Challenge 2020/2021 headers carry SNOMED CT codes
(vocabulary ``snomed``); the original CPSC 2018 release (Challenge 2020 ``A*`` headers as in
``shared/data/cpsc2018``) carries CPSC text labels (``Normal, AF, I-AVB, LBBB, RBBB, PAC, PVC,
STD, STE``), so the vocabulary is decided per record: all codes numeric -> ``snomed``,
otherwise ``cpsc``. A header without ``#Dx`` gives ``labels=()`` and
``extra["labels_note"]`` (counted by the build, not an error). Age and sex come from
``#Age``/``#Sex`` (``NaN``/``Unknown`` -> None). ``dedup_key``: ``cpsc2018:<A-id>`` for A
records, ``ptbxl:<ecg_id>`` for HR records (HR00001 is PTB-XL ecg_id 1). ``ecg_relpath`` is the
record path relative to the tree root.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ecgr1.corpus.sources._common import SEX_WORD, read_wfdb_entry, tree_root
from ecgr1.corpus.types import SourceEntry
from ecgr1.errors import ECGR1Error, InvalidInputError
from ecgr1.io.header import parse_age, parse_sex, read_header_text
from ecgr1.io.record import ECGRecord

#: Record-id prefix -> source name (JS is split by number, see :func:`source_of`).
PREFIX_SOURCES: dict[str, str] = {
    "A": "cpsc2018",
    "Q": "cpsc_extra",
    "I": "incart",
    "S": "ptb",
    "HR": "ptbxl_challenge",
    "E": "georgia",
}
#: The last Chapman-Shaoxing record number; Ningbo starts at the next one (JS10647).
CHAPMAN_LAST = 10646
CHAPMAN_SOURCE = "chapman_shaoxing"
NINGBO_SOURCE = "ningbo"
UNKNOWN_SOURCE = "challenge"
#: The text labels of the original CPSC 2018 release.
CPSC_TEXT_LABELS = ("Normal", "AF", "I-AVB", "LBBB", "RBBB", "PAC", "PVC", "STD", "STE")

_ID_RE = re.compile(r"^([A-Za-z]+)(\d+)$")
_WHAT = "PhysioNet/CinC Challenge"


def source_of(record_id: str) -> str:
    """The source a Challenge record id belongs to.

    >>> source_of("A0001"), source_of("HR00001"), source_of("JS10646"), source_of("JS10647")
    ('cpsc2018', 'ptbxl_challenge', 'chapman_shaoxing', 'ningbo')
    >>> source_of("X1")
    'challenge'
    """
    m = _ID_RE.match(record_id)
    if not m:
        return UNKNOWN_SOURCE
    prefix, number = m.group(1).upper(), int(m.group(2))
    if prefix == "JS":
        return CHAPMAN_SOURCE if number <= CHAPMAN_LAST else NINGBO_SOURCE
    return PREFIX_SOURCES.get(prefix, UNKNOWN_SOURCE)


def dedup_key_of(record_id: str) -> str | None:
    """``cpsc2018:A0001`` for CPSC 2018 copies, ``ptbxl:<ecg_id>`` for PTB-XL copies, else
    ``challenge:<id>`` (the same record in two Challenge trees, e.g. the 2020 and 2021
    releases, is one ECG).

    >>> dedup_key_of("HR00001"), dedup_key_of("A0042"), dedup_key_of("E00001")
    ('ptbxl:1', 'cpsc2018:A0042', 'challenge:E00001')
    """
    m = _ID_RE.match(record_id)
    if not m:
        return None
    prefix = m.group(1).upper()
    if prefix == "A":
        return f"cpsc2018:{record_id}"
    if prefix == "HR":
        return f"ptbxl:{int(m.group(2))}"
    return f"challenge:{record_id}"


def vocabulary_of(labels: tuple[str, ...] | list[str]) -> str:
    """``snomed`` when every label is a numeric code (or there is none), else ``cpsc``."""
    return "snomed" if all(label.isdigit() for label in labels) else "cpsc"


def _comments(text: str) -> dict[str, str]:
    """``#Key: value`` comments of a header, keys lower-cased (first occurrence wins)."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        s = line.strip()
        if not s.startswith("#"):
            continue
        key, sep, value = s[1:].partition(":")
        if sep:
            out.setdefault(key.strip().lower(), value.strip())
    return out


def _data_file(text: str) -> str | None:
    """The file named by the header's first signal line."""
    lines = [
        ln.strip() for ln in text.splitlines() if ln.strip() and not ln.strip().startswith("#")
    ]
    return lines[1].split()[0] if len(lines) > 1 and lines[1].split() else None


class ChallengeSource:
    """A Challenge 2020/2021 tree; each entry's ``source`` follows its record-id prefix, and the
    source's ``name`` is the one all records share (``challenge`` when they are mixed)."""

    kind = "challenge"

    def __init__(self, root: str | Path) -> None:
        r = tree_root(root, _WHAT)
        headers = self._headers(r)
        if not headers:
            raise InvalidInputError(
                f"no Challenge records (*.hea with .mat) in {r}: not a {_WHAT} tree"
            )
        self.root = str(r)
        names = {source_of(h.stem) for h in headers}
        self.name = names.pop() if len(names) == 1 else UNKNOWN_SOURCE
        self.skipped: list[str] = []

    def __repr__(self) -> str:
        return f"ChallengeSource({self.root!r})"

    @staticmethod
    def _headers(root: Path) -> list[Path]:
        """Headers with a ``.mat`` beside them (the cheap check used to recognise the tree)."""
        return sorted(
            (h for h in root.rglob("*.hea") if h.with_suffix(".mat").is_file()),
            key=lambda h: (h.stem, str(h)),
        )

    def entries(self) -> Iterator[SourceEntry]:
        """Every record of the tree, sorted by record id (then path)."""
        root = Path(self.root)
        self.skipped = []
        seen: set[str] = set()
        for hea in sorted(root.rglob("*.hea"), key=lambda h: (h.stem, str(h))):
            rel = hea.relative_to(root).with_suffix("").as_posix()
            try:
                text = read_header_text(hea)
            except (ECGR1Error, OSError) as exc:
                self.skipped.append(f"{rel}: unreadable header ({exc})")
                continue
            data = _data_file(text)
            if not (hea.with_suffix(".mat").is_file() or (data or "").lower().endswith(".mat")):
                self.skipped.append(f"{rel}: not a Challenge record (signal file {data!r})")
                continue
            if hea.stem in seen:
                self.skipped.append(f"{rel}: duplicate record id {hea.stem}")
                continue
            seen.add(hea.stem)
            yield self._entry(hea, rel, text)

    def _entry(self, hea: Path, rel: str, text: str) -> SourceEntry:
        record_id = hea.stem
        comments = _comments(text)
        extra: dict[str, Any] = {}
        dx = comments.get("dx")
        if dx is None:
            labels: tuple[str, ...] = ()
            extra["labels_note"] = "no #Dx in header"
        else:
            labels = tuple(v.strip() for v in dx.split(",") if v.strip())
        vocabulary = vocabulary_of(labels)
        if vocabulary == "cpsc" and any(label.isdigit() for label in labels):
            extra["labels_note"] = f"#Dx mixes SNOMED codes and text: {dx!r}"
        sex = parse_sex(comments.get("sex"))
        return SourceEntry(
            source=source_of(record_id),
            record_id=record_id,
            path=str(hea.with_suffix("")),
            labels=labels,
            vocabulary=vocabulary,
            ecg_relpath=rel,
            age=parse_age(comments.get("age")),
            sex=SEX_WORD.get(sex or ""),
            dedup_key=dedup_key_of(record_id),
            extra=extra,
        )

    def read(self, entry: SourceEntry) -> ECGRecord:
        """The record (``.mat`` samples, header gains and rate; PTB records are 1000 Hz)."""
        record = read_wfdb_entry(entry, _WHAT)
        record.metadata["dataset"] = entry.source
        return record
