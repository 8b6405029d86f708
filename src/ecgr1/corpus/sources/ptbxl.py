"""PTB-XL (Wagner et al., Sci Data 2020) in its published layout.

``<root>/ptbxl_database.csv`` (one row per ``ecg_id``), ``<root>/scp_statements.csv`` and the
WFDB records ``records500/NNNNN/NNNNN_hr`` (500 Hz, ``filename_hr``) and
``records100/NNNNN/NNNNN_lr`` (100 Hz, ``filename_lr``).

An entry per ``ecg_id`` (sorted), ``record_id`` the five-digit id (``00001``): labels are the
keys of ``scp_codes`` (a Python dict literal, parsed with :func:`ast.literal_eval`) in file
order, vocabulary ``scp``; their likelihoods are kept in ``extra["scp_likelihood"]``;
``extra["superclasses"]`` lists the ``diagnostic_class`` of the diagnostic statements
(``scp_statements.csv`` rows with ``diagnostic`` = 1) in label order, without repeats (None when
``scp_statements.csv`` is absent); ``extra["report"]`` is the report text. ``fold`` is
``strat_fold``; sex 0 is male, 1 female; PTB-XL codes ages over 89 as 300, read as 90 with
``extra["age_note"]``. ``dedup_key`` is ``ptbxl:<ecg_id>`` (its Challenge copy ``HR<ecg_id>``
has the same key).

A row whose record file is absent at the chosen rate (PTB-XL trees trimmed to one rate, or the
shared extract, which lacks some 100 Hz copies) still yields its entry: ``read`` raises
:class:`~ecgr1.errors.MissingFileError`, which the build logs.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ecgr1.corpus.sources._common import (
    clean,
    int_text,
    read_table,
    read_wfdb_entry,
    require_columns,
    require_file,
    tree_root,
)
from ecgr1.corpus.types import SourceEntry
from ecgr1.errors import InvalidInputError, MissingFileError
from ecgr1.io.header import parse_age
from ecgr1.io.record import ECGRecord

#: PTB-XL codes ages above 89 as 300 (de-identification); read as 90.
AGE_OVER_89_CODE = 300
AGE_OVER_89 = 90
RATES = (500, 100)
_WHAT = "PTB-XL"


def parse_scp_codes(text: Any) -> dict[str, float]:
    """``scp_codes`` (``"{'NORM': 100.0, 'SR': 0.0}"``) as an ordered dict; never ``eval``.

    >>> parse_scp_codes("{'NORM': 100.0, 'SR': 0.0}")
    {'NORM': 100.0, 'SR': 0.0}
    >>> parse_scp_codes(None)
    {}
    """
    if clean(text) is None:
        return {}
    try:
        parsed = ast.literal_eval(str(text))
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        raise InvalidInputError(f"scp_codes {str(text)[:80]!r} is not a dict literal") from None
    if not isinstance(parsed, dict):
        raise InvalidInputError(f"scp_codes {str(text)[:80]!r} is not a dict literal")
    out: dict[str, float] = {}
    for code, likelihood in parsed.items():
        try:
            out[str(code).strip()] = float(likelihood)
        except (TypeError, ValueError):
            raise InvalidInputError(
                f"scp_codes {str(text)[:80]!r}: likelihood of {code!r} is not a number"
            ) from None
    return out


def diagnostic_classes(statements_csv: Path) -> dict[str, str]:
    """SCP code -> ``diagnostic_class`` for the diagnostic statements of scp_statements.csv."""
    df = read_table(statements_csv, index_col=0)
    require_columns(df, ("diagnostic", "diagnostic_class"), statements_csv)
    out: dict[str, str] = {}
    for code, diagnostic, klass in zip(df.index, df["diagnostic"], df["diagnostic_class"]):
        d = clean(diagnostic)
        try:
            is_diagnostic = d is not None and float(d) == 1.0
        except (TypeError, ValueError):
            is_diagnostic = False
        if is_diagnostic and clean(klass) is not None:
            out[str(code).strip()] = str(klass).strip()
    return out


class PtbxlSource:
    """A PTB-XL tree; ``rate`` 500 (``filename_hr``, default) or 100 (``filename_lr``)."""

    kind = "ptbxl"

    def __init__(self, root: str | Path, rate: int = 500) -> None:
        try:
            rate = int(rate)
        except (TypeError, ValueError):
            raise InvalidInputError(f"PTB-XL rate must be 500 or 100, got {rate!r}") from None
        if rate not in RATES:
            raise InvalidInputError(f"PTB-XL rate must be 500 or 100, got {rate}")
        r = tree_root(root, _WHAT)
        self._database = require_file(r, "ptbxl_database.csv", _WHAT)
        self.root = str(r)
        self.name = "ptbxl"
        self.rate = rate

    def __repr__(self) -> str:
        return f"PtbxlSource({self.root!r}, rate={self.rate})"

    @property
    def _filename_column(self) -> str:
        return "filename_hr" if self.rate == 500 else "filename_lr"

    def entries(self) -> Iterator[SourceEntry]:
        """One entry per ``ecg_id`` of ptbxl_database.csv, sorted by ecg_id."""
        root = Path(self.root)
        df = read_table(self._database)
        column = self._filename_column
        require_columns(
            df, ("ecg_id", "patient_id", "age", "sex", "scp_codes", "strat_fold", column),
            self._database,
        )  # fmt: skip
        statements = root / "scp_statements.csv"
        classes = diagnostic_classes(statements) if statements.is_file() else None
        rows = df.to_dict("records")
        rows.sort(key=lambda row: int(row["ecg_id"]))
        for row in rows:
            yield self._entry(row, column, classes)

    def _entry(self, row: dict[str, Any], column: str, classes: dict[str, str] | None):
        ecg_id = int(row["ecg_id"])
        try:
            codes = parse_scp_codes(row["scp_codes"])
        except InvalidInputError as exc:
            raise InvalidInputError(
                f"ecg_id {ecg_id}: {exc.message}", str(self._database)
            ) from None
        extra: dict[str, Any] = {
            "ecg_id": ecg_id,
            "rate": self.rate,
            "scp_likelihood": codes,
            "report": clean(row.get("report")),
        }
        if classes is not None:
            superclasses: list[str] = []
            for code in codes:
                klass = classes.get(code)
                if klass is not None and klass not in superclasses:
                    superclasses.append(klass)
            extra["superclasses"] = superclasses
        else:
            extra["superclasses"] = None
        for key in ("heart_axis", "recording_date", "device"):
            if clean(row.get(key)) is not None:
                extra[key] = str(row[key]).strip()
        raw_age = clean(row.get("age"))
        age = parse_age(raw_age)
        if raw_age is not None and float(raw_age) >= AGE_OVER_89_CODE:
            age = AGE_OVER_89
            extra["age_note"] = (
                f"PTB-XL codes ages over 89 as {AGE_OVER_89_CODE}; taken as {AGE_OVER_89}"
            )
        sex_code = int_text(row.get("sex"))
        sex = {"0": "male", "1": "female"}.get(sex_code or "")
        fold = int_text(row.get("strat_fold"))
        filename = clean(row.get(column))
        relpath = str(filename).strip() if filename is not None else None
        if relpath is None:
            extra["file_note"] = f"no {column} in ptbxl_database.csv"
        for ext in (".hea", ".dat"):
            if relpath is not None and relpath.endswith(ext):
                relpath = relpath[: -len(ext)]
        path = str(Path(self.root) / relpath) if relpath else ""
        return SourceEntry(
            source=self.name,
            record_id=f"{ecg_id:05d}",
            path=path,
            labels=tuple(codes),
            vocabulary="scp",
            ecg_relpath=relpath,
            patient_id=int_text(row.get("patient_id")),
            age=age,
            sex=sex,
            fold=int(fold) if fold is not None else None,
            dedup_key=f"ptbxl:{ecg_id}",
            extra=extra,
        )

    def read(self, entry: SourceEntry) -> ECGRecord:
        """The record at the source's rate (MissingFileError when that file is absent)."""
        if not entry.path:
            raise MissingFileError(
                f"PTB-XL ecg_id {int(entry.record_id)} has no {self._filename_column}",
                str(self._database),
            )
        record = read_wfdb_entry(entry, f"PTB-XL {self.rate} Hz")
        record.metadata.update(
            dataset="PTB-XL",
            ecg_id=int(entry.record_id),
            report=entry.extra.get("report"),
            scp_codes=dict(entry.extra.get("scp_likelihood") or {}),
        )
        return record
