"""Validate instruction-row JSONL files (ours and the published ECG-R1 ones).

:func:`check_rows` reads every line of every file and reports each problem as
``(path, line, id, kind, message)``. The problem kinds (:data:`PROBLEM_KINDS`):

``unreadable``
    the file cannot be opened.
``json``
    a line is not valid UTF-8 JSON, or not a JSON object (blank lines are ignored).
``missing_key``
    a required key is absent: ``id``, ``messages``, ``images``, ``objects``, ``objects.ecg``.
``bad_type``
    a value has the wrong type or shape: ``id`` not a non-empty string/integer, ``messages`` not
    a list of ``{"role": system|user|assistant, "content": str}`` with at least one user turn,
    ``images``/``objects.ecg`` not lists of strings, ``solution`` not a string, ``labels`` not a
    list of strings.
``tag_count``
    the number of ``<ecg>`` (``<image>``) tags in the non-assistant turns differs from the length
    of ``objects.ecg`` (``images``) (interchange.md §1); checked only when ``messages`` and the
    list are well formed (otherwise that is the ``missing_key``/``bad_type`` problem).
``missing_file``
    an image file does not exist, or an ECG is none of: a WFDB record (``<path>.hea``), an
    existing file or folder, ``file.hdf5#exam`` with an existing file (only with
    ``check_files=True``).
``assistant_format``
    a structured assistant turn breaks interchange.md §2: no single ``<think>...</think>`` block
    opening the turn, step headers not exactly ``**Step 1: <title>**`` .. ``**Step 6: <title>**``
    once each and in order, an empty step paragraph, or text after ``</answer>``.
``answer``
    a structured assistant turn has no ``<answer>...</answer>`` after ``</think>``, or it holds
    no label.
``solution_format``
    an RL ``solution`` lacks ``<|answer|>...<|/answer|>`` (or its labels) or the
    ``<|key_diagnostic_evidence|>`` block, has text outside them or before the first key, an
    unknown step key, or a step key more than once.
``evidence_length``
    a key-evidence phrase has four words or more (they must be shorter than four words).
``evidence_not_found``
    a key-evidence phrase is not in the text of its step (compared ignoring case and runs of
    white space; otherwise verbatim).
``duplicate_id``
    an id already used by an earlier row of the same file.

Rules
-----
* Which assistant turns are *structured*: with ``assistant_format="auto"`` (default) those that
  contain ``<think>`` or ``</think>``, and every assistant turn of a row with a ``solution``
  (an answer-only turn, as in ECGBench-style reference rows, is not); other turns are free text (the published ECG-Grounding rows) and
  their format is not checked. ``"structured"`` checks every assistant turn, ``"free"`` none.
* Evidence phrases are checked against the row's own structured assistant turn; when it has
  none, against the first row with the same id in another of the given files (e.g. the SFT file
  next to the RL file). When neither exists the row's evidence is *not checked*, which is
  counted (:attr:`CheckReport.evidence_unchecked`) but is not a problem. A phrase of a step that
  the text lacks is not reported twice (the missing step is an ``assistant_format`` problem).
* Paths: ``path_map`` rewrites a path prefix ``OLD`` (matched on whole path components, longest
  first) to ``NEW``; a path that is still relative is joined to ``ecg_root`` / ``image_root``,
  or, without a root, to the folder of the JSONL file.
* Several problems of one kind in one row are one problem (their messages joined), except
  ``missing_file`` and ``evidence_*`` which name one file or phrase each.

Example
-------
>>> import json, tempfile, os
>>> row = {"id": "1", "messages": [{"role": "user", "content": "<image>\\nQ?"}],
...        "images": ["x.png"], "objects": {"ecg": []}}
>>> folder = tempfile.mkdtemp()
>>> path = os.path.join(folder, "rows.jsonl")
>>> _ = open(path, "w").write(json.dumps(row) + "\\n")
>>> check_rows([path], check_files=False).ok
True
>>> check_rows([path]).counts_by_kind()
{'missing_file': 1}
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from ecgr1.report.solution import evidence_entries, split_labels
from ecgr1.report.steps import STEP_KEYS

#: Every problem kind, with what it means (details in the module docstring).
PROBLEM_KINDS: dict[str, str] = {
    "unreadable": "the file cannot be opened",
    "json": "a line is not a JSON object",
    "missing_key": "a required key is absent",
    "bad_type": "a value has the wrong type or shape",
    "tag_count": "<ecg>/<image> tags do not match objects.ecg/images",
    "missing_file": "a referenced image or ECG does not exist",
    "assistant_format": "the assistant turn breaks the 6-step format",
    "answer": "the assistant turn has no non-empty <answer>",
    "solution_format": "the RL solution string is malformed",
    "evidence_length": "a key-evidence phrase has four words or more",
    "evidence_not_found": "a key-evidence phrase is not in its step's text",
    "duplicate_id": "an id is used twice in one file",
}
REQUIRED_KEYS = ("id", "messages", "images", "objects")
ROLES = ("system", "user", "assistant")
N_STEPS = len(STEP_KEYS)
MAX_EVIDENCE_WORDS = 3

# An answer-only turn ("<answer>B</answer>", ECGBench reference rows) is not the six-step format.
_STRUCTURE_MARKS = ("<think>", "</think>")
# Anything that looks like a step header (to find the steps), and the exact §2 form.
_LOOSE_HEADER_RE = re.compile(r"^[ \t]*(?:\*\*)?[ \t]*Step[ \t]*(\d+)[ \t]*:[^\n]*$", re.MULTILINE)
_STRICT_HEADER_RE = re.compile(r"^\*\*Step ([1-9]\d*): [^*\n]*[^*\s][^*\n]*\*\*[ \t]*$")
_ANSWER_RE = re.compile(r"<answer>(.*?)</answer>", re.DOTALL)


class Problem(NamedTuple):
    """One problem: file, 1-based line (0 for the whole file), row id, kind, message."""

    path: str
    line: int
    id: str | None
    kind: str
    message: str


@dataclass
class CheckReport:
    """What :func:`check_rows` found.

    Attributes
    ----------
    paths : the files checked.
    rows : rows read (non-blank lines), all files together.
    rows_by_path : rows read per file.
    problems : every :class:`Problem` (a tuple ``(path, line, id, kind, message)``).
    evidence_checked : key-evidence phrases checked against a step text.
    evidence_unchecked : rows with evidence phrases but no step text to check them against.
    """

    paths: list[str] = field(default_factory=list)
    rows: int = 0
    rows_by_path: dict[str, int] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    evidence_checked: int = 0
    evidence_unchecked: int = 0

    @property
    def ok(self) -> bool:
        """True when no problem was found."""
        return not self.problems

    def counts_by_kind(self) -> dict[str, int]:
        """``{kind: number of problems}`` in :data:`PROBLEM_KINDS` order."""
        counts = Counter(p.kind for p in self.problems)
        return {k: counts[k] for k in PROBLEM_KINDS if counts[k]}

    def summary_text(self, max_examples: int = 5) -> str:
        """A per-kind summary with up to ``max_examples`` examples of each kind."""
        n_files = len(self.paths)
        head = f"checked {self.rows} rows in {n_files} file{'s' * (n_files != 1)}: "
        lines = [head + ("OK" if self.ok else f"{len(self.problems)} problems")]
        for kind, count in self.counts_by_kind().items():
            lines.append(f"  {kind}: {count} ({PROBLEM_KINDS[kind]})")
            examples = [p for p in self.problems if p.kind == kind][:max_examples]
            for p in examples:
                where = f"{p.path}:{p.line}" + (f" [id {p.id}]" if p.id is not None else "")
                lines.append(f"    {where}: {p.message}")
            if count > len(examples):
                lines.append(f"    ... and {count - len(examples)} more")
        if self.evidence_checked or self.evidence_unchecked:
            lines.append(
                f"  evidence phrases checked: {self.evidence_checked}; rows whose evidence was "
                f"not checked (no step text): {self.evidence_unchecked}"
            )
        return "\n".join(lines)


# ------------------------------------------------------------------ helpers


def parse_path_map(items: Iterable[str]) -> dict[str, str]:
    """``["OLD=NEW", ...]`` (the CLI's ``--path-map``) -> ``{OLD: NEW}``.

    >>> parse_path_map(["/data/lihy/model_cache=/mnt/ecg"])
    {'/data/lihy/model_cache': '/mnt/ecg'}
    """
    out = {}
    for item in items:
        old, sep, new = item.partition("=")
        if not sep or not old:
            raise ValueError(f"path map entries are OLD=NEW, got {item!r}")
        out[old] = new
    return out


def map_path(ref: str, path_map: Mapping[str, str] | None) -> str:
    """Rewrite the longest matching prefix of ``path_map`` (whole path components).

    >>> map_path("/data/a/b.png", {"/data": "/mnt", "/data/a": "/x"})
    '/x/b.png'
    >>> map_path("/database/b.png", {"/data": "/mnt"})
    '/database/b.png'
    """
    for old in sorted(path_map or {}, key=len, reverse=True):
        base = old.rstrip("/") or "/"
        if ref == base or ref.startswith(base if base.endswith("/") else base + "/"):
            new = path_map[old]
            rest = ref[len(base) :]
            return (new.rstrip("/") + rest) if new.rstrip("/") or rest else new
    return ref


def resolve(ref: str, root: str | Path | None, path_map: Mapping[str, str] | None, base: Path):
    """The filesystem path of a row's reference (rules in the module docstring)."""
    path = Path(map_path(ref, path_map))
    if not path.is_absolute():
        path = Path(root) / path if root is not None else base / path
    return path


def ecg_exists(path: Path) -> bool:
    """A WFDB record (``<path>.hea``), an existing file/folder, or ``file.hdf5#exam``."""
    if path.exists() or path.with_name(path.name + ".hea").is_file():
        return True
    text = str(path)
    return "#" in text and Path(text.rsplit("#", 1)[0]).is_file()


def _squash(text: str) -> str:
    return " ".join(text.split()).casefold()


def is_structured(text: str) -> bool:
    """Whether an assistant turn uses the tagged §2 format (auto mode)."""
    return any(mark in text for mark in _STRUCTURE_MARKS)


def step_texts(text: str) -> dict[int, str]:
    """Step number -> paragraph of the ``<think>`` block (first occurrence of each header).

    >>> step_texts("<think>\\n**Step 1: A**\\nrate 60\\n**Step 2: B**\\nPR 160</think>")
    {1: 'rate 60', 2: 'PR 160'}
    """
    start, end = text.find("<think>"), text.find("</think>")
    if start < 0:
        return {}
    think = text[start + len("<think>") : end if end > start else len(text)]
    headers = list(_LOOSE_HEADER_RE.finditer(think))
    out: dict[int, str] = {}
    for i, header in enumerate(headers):
        stop = headers[i + 1].start() if i + 1 < len(headers) else len(think)
        out.setdefault(int(header.group(1)), think[header.end() : stop].strip())
    return out


def assistant_problems(text: str) -> tuple[list[str], list[str]]:
    """(``assistant_format`` messages, ``answer`` messages) for one structured turn."""
    fmt: list[str] = []
    ans: list[str] = []
    n_open, n_close = text.count("<think>"), text.count("</think>")
    start, end = text.find("<think>"), text.find("</think>")
    if n_open != 1 or n_close != 1 or end < start:
        fmt.append(f"expected one <think>...</think> block, found {n_open} <think> / {n_close}")
        after = text[end + len("</think>") :] if end >= 0 else text
    else:
        if text[:start].strip():
            fmt.append("text before <think>")
        think = text[start + len("<think>") : end]
        headers = list(_LOOSE_HEADER_RE.finditer(think))
        numbers = [int(h.group(1)) for h in headers]
        if numbers != list(range(1, N_STEPS + 1)):
            fmt.append(f"step headers {numbers}, expected 1..{N_STEPS} once each, in order")
        bad = [h.group(0).strip() for h in headers if not _STRICT_HEADER_RE.match(h.group(0))]
        if bad:
            fmt.append(f"step header not in the form '**Step k: Title**': {bad[0]!r}")
        empty = [n for n, para in step_texts(text).items() if not para]
        if empty:
            fmt.append(f"empty step paragraph(s) {empty}")
        after = text[end + len("</think>") :]
    answer = _ANSWER_RE.search(after)
    if answer is None:
        ans.append("no <answer>...</answer> after </think>")
    else:
        if not split_labels(answer.group(1)):
            ans.append("empty <answer>")
        if after[answer.end() :].strip():
            fmt.append("text after </answer>")
    return fmt, ans


def solution_problems(solution: str) -> tuple[list[str], list[str], dict[str, list[str]]]:
    """(``solution_format`` messages, ``evidence_length`` messages, ``{step key: phrases}``)."""
    fmt: list[str] = []
    long: list[str] = []
    parts = evidence_entries(solution)
    if parts.answer is None:
        fmt.append("no <|answer|>...<|/answer|>")
    elif not split_labels(parts.answer):
        fmt.append("empty <|answer|>")
    if parts.evidence_block is None:
        fmt.append("no <|key_diagnostic_evidence|>...<|/key_diagnostic_evidence|> block")
    if parts.outside.strip():
        fmt.append(f"text outside the answer and evidence blocks: {parts.outside.strip()[:40]!r}")
    if parts.preamble.strip():
        fmt.append(f"text before the first step key: {parts.preamble.strip()[:40]!r}")
    evidence: dict[str, list[str]] = {}
    for key, phrases in parts.entries:
        if key not in STEP_KEYS:
            fmt.append(f"unknown step key {key!r}")
            continue
        if key in evidence:
            fmt.append(f"step key {key!r} more than once")
            continue
        evidence[key] = phrases
        for phrase in phrases:
            if len(phrase.split()) > MAX_EVIDENCE_WORDS:
                long.append(f"{key}: {phrase!r} has {len(phrase.split())} words")
    return fmt, long, evidence


def _lines(path: Path) -> Iterator[tuple[int, Any, str | None]]:
    """(line number, parsed value or None, error) for each non-blank line."""
    with path.open("rb") as f:
        for number, raw in enumerate(f, start=1):
            if not raw.strip():
                continue
            try:
                yield number, json.loads(raw.decode("utf-8")), None
            except UnicodeDecodeError as exc:
                yield number, None, f"not UTF-8 ({exc.reason})"
            except json.JSONDecodeError as exc:
                yield number, None, f"invalid JSON ({exc.msg} at column {exc.colno})"


def _row_id(row: dict[str, Any]) -> str | None:
    value = row.get("id")
    return None if value is None else str(value)


# ------------------------------------------------------------------ the checker


@dataclass
class _Pending:
    path: str
    line: int
    id: str | None
    evidence: dict[str, list[str]]


class _Checker:
    def __init__(self, ecg_root, image_root, path_map, check_files, assistant_format) -> None:
        if assistant_format not in ("auto", "structured", "free"):
            raise ValueError(f"assistant_format must be auto|structured|free: {assistant_format}")
        self.ecg_root = ecg_root
        self.image_root = image_root
        self.path_map = dict(path_map or {})
        self.check_files = check_files
        self.mode = assistant_format
        self.report = CheckReport()
        self._exists: dict[tuple[str, Path], bool] = {}
        self.pending: list[_Pending] = []
        self.step_ids: dict[str, set[str]] = {}  # file -> ids of rows with step texts

    def add(self, path: str, line: int, row_id: str | None, kind: str, messages) -> None:
        if isinstance(messages, str):
            messages = [messages]
        if messages:
            self.report.problems.append(Problem(path, line, row_id, kind, "; ".join(messages)))

    def exists(self, kind: str, path: Path) -> bool:
        key = (kind, path)
        if key not in self._exists:
            self._exists[key] = path.is_file() if kind == "image" else ecg_exists(path)
        return self._exists[key]

    # -------------------------------------------------------------- one file
    def check_file(self, path: str) -> None:
        self.report.paths.append(path)
        self.report.rows_by_path[path] = 0
        file = Path(path)
        seen: dict[str, int] = {}
        try:
            for number, row, error in _lines(file):
                self.report.rows += 1
                self.report.rows_by_path[path] += 1
                if error is not None:
                    self.add(path, number, None, "json", error)
                    continue
                if not isinstance(row, dict):
                    self.add(
                        path, number, None, "json", f"a JSON {type(row).__name__}, not an object"
                    )
                    continue
                row_id = _row_id(row)
                if row_id is not None:
                    if row_id in seen:
                        self.add(
                            path,
                            number,
                            row_id,
                            "duplicate_id",
                            f"first used on line {seen[row_id]}",
                        )
                    else:
                        seen[row_id] = number
                self.check_row(path, number, row_id, row, file.parent)
        except OSError as exc:
            self.add(path, 0, None, "unreadable", f"{type(exc).__name__}: {exc}")

    # -------------------------------------------------------------- one row
    def check_row(self, path: str, line: int, row_id: str | None, row: dict, base: Path) -> None:
        missing = [k for k in REQUIRED_KEYS if k not in row]
        objects = row.get("objects")
        if isinstance(objects, dict) and "ecg" not in objects:
            missing.append("objects.ecg")
        self.add(path, line, row_id, "missing_key", [f"no {k!r}" for k in missing])

        bad: list[str] = []
        value = row.get("id")
        if "id" in row and (
            isinstance(value, bool) or not isinstance(value, (str, int)) or value == ""
        ):
            bad.append("id must be a non-empty string or integer")
        messages = row.get("messages")
        turns: list[dict] = []
        n_bad = len(bad)
        if "messages" in row:
            if not isinstance(messages, list):
                bad.append("messages must be a list")
            else:
                for i, m in enumerate(messages):
                    if not isinstance(m, dict) or m.get("role") not in ROLES:
                        bad.append(f"messages[{i}] must be {{'role': system|user|assistant, ...}}")
                    elif not isinstance(m.get("content"), str):
                        bad.append(f"messages[{i}].content must be a string")
                    else:
                        turns.append(m)
                if not any(m["role"] == "user" for m in turns):
                    bad.append("no user turn")
        messages_ok = "messages" in row and len(bad) == n_bad
        images = row.get("images")
        images_ok = isinstance(images, list) and all(isinstance(x, str) for x in images)
        if "images" in row and not images_ok:
            bad.append("images must be a list of strings")
        ecgs = objects.get("ecg") if isinstance(objects, dict) else None
        ecgs_ok = isinstance(ecgs, list) and all(isinstance(x, str) for x in ecgs)
        if "objects" in row and not isinstance(objects, dict):
            bad.append("objects must be an object")
        elif isinstance(objects, dict) and "ecg" in objects and not ecgs_ok:
            bad.append("objects.ecg must be a list of strings")
        solution = row.get("solution")
        if "solution" in row and not isinstance(solution, str):
            bad.append("solution must be a string")
        labels = row.get("labels")
        if "labels" in row and not (
            isinstance(labels, list) and all(isinstance(x, str) for x in labels)
        ):
            bad.append("labels must be a list of strings")
        self.add(path, line, row_id, "bad_type", bad)

        # tags vs lists (only when the turns themselves are well formed)
        prompt = "".join(m["content"] for m in turns if m["role"] != "assistant")
        tags: list[str] = []
        if messages_ok and ecgs_ok and prompt.count("<ecg>") != len(ecgs):
            tags.append(f"{prompt.count('<ecg>')} <ecg> tag(s) but {len(ecgs)} objects.ecg")
        if messages_ok and images_ok and prompt.count("<image>") != len(images):
            tags.append(f"{prompt.count('<image>')} <image> tag(s) but {len(images)} images")
        self.add(path, line, row_id, "tag_count", tags)

        # files
        if self.check_files:
            for i, ref in enumerate(images if images_ok else []):
                target = resolve(ref, self.image_root, self.path_map, base)
                if not self.exists("image", target):
                    self.add(path, line, row_id, "missing_file", f"images[{i}]: {target} not found")
            for i, ref in enumerate(ecgs if ecgs_ok else []):
                target = resolve(ref, self.ecg_root, self.path_map, base)
                if not self.exists("ecg", target):
                    self.add(
                        path,
                        line,
                        row_id,
                        "missing_file",
                        f"objects.ecg[{i}]: {target} not found (no {target.name}.hea either)",
                    )

        # assistant turns
        has_solution = isinstance(solution, str)
        steps: dict[int, str] = {}
        for m in turns:
            if m["role"] != "assistant":
                continue
            text = m["content"]
            structured = self.mode == "structured" or (
                self.mode == "auto" and (has_solution or is_structured(text))
            )
            if not structured:
                continue
            fmt, ans = assistant_problems(text)
            self.add(path, line, row_id, "assistant_format", fmt)
            self.add(path, line, row_id, "answer", ans)
            if not steps:
                steps = step_texts(text)
        if steps and row_id is not None:
            self.step_ids.setdefault(path, set()).add(row_id)

        # RL solution
        if has_solution:
            fmt, long, evidence = solution_problems(solution)
            self.add(path, line, row_id, "solution_format", fmt)
            for message in long:
                self.add(path, line, row_id, "evidence_length", message)
            if any(evidence.values()):
                if steps:
                    self.check_evidence(path, line, row_id, evidence, steps)
                else:
                    self.pending.append(_Pending(path, line, row_id, evidence))

    def check_evidence(self, path, line, row_id, evidence, steps, where: str = "") -> None:
        for key, phrases in evidence.items():
            number = STEP_KEYS.index(key) + 1
            if number not in steps:
                continue  # the missing step is an assistant_format problem
            paragraph = _squash(steps[number])
            for phrase in phrases:
                self.report.evidence_checked += 1
                if _squash(phrase) not in paragraph:
                    self.add(
                        path,
                        line,
                        row_id,
                        "evidence_not_found",
                        f"{key}: {phrase!r} not in step {number}{where}",
                    )

    # -------------------------------------------------------------- cross-file evidence
    def resolve_pending(self) -> None:
        needed = {p.id for p in self.pending if p.id is not None}
        found: dict[str, tuple[str, dict[int, str]]] = {}
        for path in self.report.paths:
            wanted = (self.step_ids.get(path, set()) & needed) - set(found)
            if not wanted:
                continue
            for _, row, _error in _lines(Path(path)):
                if not isinstance(row, dict) or _row_id(row) not in wanted:
                    continue
                for m in row.get("messages") or []:
                    if isinstance(m, dict) and m.get("role") == "assistant":
                        text = m.get("content")
                        steps = step_texts(text) if isinstance(text, str) else {}
                        if steps and _row_id(row) not in found:
                            found[_row_id(row)] = (path, steps)
        for p in self.pending:
            other = found.get(p.id) if p.id is not None else None
            if other is None or other[0] == p.path:
                self.report.evidence_unchecked += 1
                continue
            where = f" of {Path(other[0]).name}"
            self.check_evidence(p.path, p.line, p.id, p.evidence, other[1], where)
        self.pending = []


def check_rows(
    paths: str | Path | Sequence[str | Path],
    *,
    ecg_root: str | Path | None = None,
    image_root: str | Path | None = None,
    path_map: Mapping[str, str] | None = None,
    check_files: bool = True,
    assistant_format: str = "auto",
) -> CheckReport:
    """Validate the rows of one or more JSONL files (rules and problem kinds in the module
    docstring).

    Parameters
    ----------
    paths : JSONL file(s); rows of one file may take their step texts from another (RL rows
        from the SFT rows with the same id).
    ecg_root, image_root : roots of relative ``objects.ecg`` / ``images`` paths (default: the
        JSONL file's folder).
    path_map : ``{OLD: NEW}`` path prefix rewrites (see :func:`parse_path_map`).
    check_files : check that the referenced files exist.
    assistant_format : ``"auto"``, ``"structured"`` or ``"free"`` (which assistant turns must
        follow the 6-step format).
    """
    if isinstance(paths, (str, Path)):
        paths = [paths]
    checker = _Checker(ecg_root, image_root, path_map, check_files, assistant_format)
    for path in paths:
        checker.check_file(str(path))
    checker.resolve_pending()
    return checker.report
