"""Corpus splits: de-duplication, train/test assignment, modality-missing and ECGBench-style sets.

Rules (each is a pure function of its inputs and the seed; no global random state):

De-duplication (:func:`deduplicate`)
    Entries sharing a ``dedup_key`` are one ECG reached through two dataset trees (PTB-XL and
    its PhysioNet/CinC Challenge copy ``HR<ecg_id>``; CPSC 2018 and its Challenge copies). One
    is kept: the lowest :func:`source_rank` (native before Challenge copy: ``ptbxl`` = 0 beats
    ``ptbxl_challenge`` = 1; any other source named ``*_challenge`` ranks 1, every other source
    0); between equal ranks (e.g. two ``cpsc2018`` trees) the copy with the dataset's own labels
    (CPSC's text classes) beats one recoded to SNOMED CT, then the smaller path: the result
    never depends on the order of the sources. Entries without a ``dedup_key`` are kept.

Train/test (:func:`assign_splits`)
    * Native PTB-XL (``source == "ptbxl"`` with a ``fold``): the official stratified folds,
      ``fold`` 10 -> test, 1-9 -> train (PTB-XL's folds never split a patient).
    * Every other entry: ``u = sha256("<seed>|<source>|<group>")`` read as a number in [0, 1)
      (first 8 bytes), where the group is ``patient:<patient_id>`` or, without a patient id,
      ``record:<uid>``; ``u < test_fraction`` -> test. All records of a patient share the
      group, so no patient is in both splits; each group's split depends on the group alone,
      so adding records never moves existing ones.

Modality-missing sets (:func:`missing_modality`, interchange.md §1)
    ``k = floor(n * percent / 100 + 1/2)`` rows (rounded half up, exact integer arithmetic) lose
    the modality: the rows with the ``k`` smallest ``sha256("<seed>|<modality>|<id>")`` (ties,
    i.e. repeated ids, by position). So the set does not depend on the row order and is nested
    (the rows of ``missing25`` are among those of ``missing50``). A chosen row loses every ``<ecg>`` (or ``<image>``) tag of its
    non-assistant turns and its ``objects.ecg`` (or ``images``) list becomes empty; nothing else
    changes. Rows that already lack the modality can be chosen too (they stay as they were).

ECGBench-style sets (:func:`ecgbench_multilabel`, :func:`ecgbench_single_choice`, §4)
    * Multi-label: the question lists the candidate labels; the reference ``labels`` are the
      record's labels (``label_key``) that are candidates, in candidate order (matched ignoring
      case and surrounding spaces). Records with none are skipped (``keep_empty=True`` keeps
      them with an empty answer).
    * Single choice: per source (``meta.source``), the candidate set is the given one or every
      label seen in that source's rows. The correct option is the record's first label (in the
      source's order) that is a candidate; distractors are drawn from the source's other
      candidates, never a label of the record itself, with ``random.Random("<seed>|<set>|<id>")``
      (one stream per row, so a row's options do not depend on the other rows). Options are
      lettered A, B, C...; the correct option's position comes from the same stream. Rows with
      fewer than ``n_options - 1`` possible distractors are skipped.
    Both return a :class:`BenchSet` (a list of rows with a ``skipped`` count per reason); rows
    keep ``id``, ``images``, ``objects`` (and the system turn), and carry the reference in the
    assistant turn as ``<answer>...</answer>``.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import random
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from ecgr1.corpus.types import SourceEntry

ECG_TAG = "<ecg>"
IMAGE_TAG = "<image>"
MODALITY_TAGS: dict[str, str] = {"ecg": ECG_TAG, "image": IMAGE_TAG}
_TAG_RE = re.compile(r"<ecg>|<image>")

#: Explicit de-duplication ranks (lower wins); see :func:`source_rank` for the default.
SOURCE_RANK: dict[str, int] = {"ptbxl": 0, "ptbxl_challenge": 1}
#: PTB-XL ``strat_fold`` values that form the test split (the dataset's recommendation).
PTBXL_TEST_FOLDS: frozenset[int] = frozenset({10})
SPLITS = ("train", "test")
LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"

LabelKey = str | Callable[[dict[str, Any]], Sequence[str] | None]


# ------------------------------------------------------------------ hashing


def _unit(*parts: object) -> float:
    """A number in [0, 1) from sha256 of the parts joined by ``|`` (stable across runs)."""
    digest = hashlib.sha256("|".join(str(p) for p in parts).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


# ------------------------------------------------------------------ de-duplication


def source_rank(source: str) -> int:
    """De-duplication rank of a source name (lower is preferred).

    >>> source_rank("ptbxl"), source_rank("ptbxl_challenge"), source_rank("cpsc2018")
    (0, 1, 0)
    """
    if source in SOURCE_RANK:
        return SOURCE_RANK[source]
    return 1 if source.endswith("_challenge") else 0


def _preference(entry: SourceEntry) -> tuple[int, int, str]:
    """Lower wins: the source's rank, then a copy with the dataset's own labels (CPSC 2018's
    text classes) over one recoded to SNOMED CT, then the path: never the order of the
    ``--source`` options."""
    return (source_rank(entry.source), entry.vocabulary == "snomed", entry.path)


def deduplicate(entries: Iterable[SourceEntry]) -> tuple[list[SourceEntry], list[dict]]:
    """Keep one entry per ``dedup_key`` (rule in the module docstring).

    Returns
    -------
    (kept entries in input order, dropped) where each dropped item is ``{"uid", "kept_uid",
    "dedup_key", "source", "kept_source", "path", "kept_path"}``.

    Example
    -------
    >>> a = SourceEntry("ptbxl_challenge", "HR00001", "/c/HR00001", ("x",), "snomed",
    ...                 dedup_key="ptbxl:1")
    >>> b = SourceEntry("ptbxl", "00001", "/p/00001_hr", ("x",), "scp", dedup_key="ptbxl:1")
    >>> kept, dropped = deduplicate([a, b])
    >>> [e.uid for e in kept], dropped[0]["uid"], dropped[0]["kept_uid"]
    (['ptbxl_00001'], 'ptbxl_challenge_HR00001', 'ptbxl_00001')
    """
    entries = list(entries)
    best: dict[str, int] = {}
    for i, entry in enumerate(entries):
        key = entry.dedup_key
        if key is None:
            continue
        j = best.get(key)
        if j is None or _preference(entry) < _preference(entries[j]):
            best[key] = i
    kept: list[SourceEntry] = []
    dropped: list[dict] = []
    for i, entry in enumerate(entries):
        key = entry.dedup_key
        if key is None or best[key] == i:
            kept.append(entry)
            continue
        winner = entries[best[key]]
        dropped.append(
            {
                "uid": entry.uid,
                "kept_uid": winner.uid,
                "dedup_key": key,
                "source": entry.source,
                "kept_source": winner.source,
                "path": entry.path,
                "kept_path": winner.path,
            }
        )
    return kept, dropped


# ------------------------------------------------------------------ train / test


def split_group(entry: SourceEntry) -> str:
    """The unit that is never separated: ``patient:<id>``, else ``record:<uid>``."""
    if entry.patient_id not in (None, ""):
        return f"patient:{entry.patient_id}"
    return f"record:{entry.uid}"


def assign_split(entry: SourceEntry, seed: int, test_fraction: float = 0.1) -> str:
    """``"train"`` or ``"test"`` for one entry (rule in the module docstring)."""
    if entry.source == "ptbxl" and entry.fold is not None:
        return "test" if int(entry.fold) in PTBXL_TEST_FOLDS else "train"
    u = _unit(seed, entry.source, split_group(entry))
    return "test" if u < test_fraction else "train"


def assign_splits(
    entries: Iterable[SourceEntry], seed: int, test_fraction: float = 0.1
) -> dict[str, str]:
    """``{uid: "train" | "test"}`` for every entry (rule in the module docstring).

    Example
    -------
    >>> e = SourceEntry("ptbxl", "00010", "/p/00010_hr", (), "scp", patient_id="7", fold=10)
    >>> assign_splits([e], seed=0)
    {'ptbxl_00010': 'test'}
    """
    if not 0.0 <= test_fraction <= 1.0:
        raise ValueError(f"test_fraction must be in [0, 1], got {test_fraction}")
    return {e.uid: assign_split(e, seed, test_fraction) for e in entries}


# ------------------------------------------------------------------ modality-missing sets


def n_missing(n: int, percent: int) -> int:
    """``round(n * percent / 100)`` rounded half up, in exact integer arithmetic.

    >>> [n_missing(n, 50) for n in (0, 1, 3, 7, 101)]
    [0, 1, 2, 4, 51]
    """
    return (2 * n * percent + 100) // 200


def _prompt_messages(row: dict[str, Any]) -> list[dict[str, Any]]:
    return [m for m in row.get("messages") or [] if m.get("role") != "assistant"]


def drop_modality(row: dict[str, Any], modality: str) -> dict[str, Any]:
    """A deep copy of ``row`` without ``modality``: its tags removed from the non-assistant
    turns, its list (``objects.ecg`` or ``images``) emptied."""
    tag = _modality_tag(modality)
    out = copy.deepcopy(row)
    for message in _prompt_messages(out):
        if isinstance(message.get("content"), str):
            message["content"] = message["content"].replace(tag, "")
    if modality == "ecg":
        out["objects"] = {**(out.get("objects") or {}), "ecg": []}
    else:
        out["images"] = []
    return out


def _modality_tag(modality: str) -> str:
    if modality not in MODALITY_TAGS:
        raise ValueError(f"modality must be 'ecg' or 'image', got {modality!r}")
    return MODALITY_TAGS[modality]


def missing_modality(
    rows: Sequence[dict[str, Any]], modality: str, percent: int, seed: int
) -> list[dict[str, Any]]:
    """New rows where exactly :func:`n_missing` ``(len(rows), percent)`` of them lack
    ``modality`` (choice rule in the module docstring); the input is not mutated.

    Example
    -------
    >>> rows = [{"id": str(i), "messages": [{"role": "user", "content": "<ecg><image>\\nQ"}],
    ...          "images": ["a.png"], "objects": {"ecg": ["a"]}} for i in range(4)]
    >>> out = missing_modality(rows, "ecg", 50, seed=1)
    >>> sum(not r["objects"]["ecg"] for r in out), rows[0]["objects"]["ecg"]
    (2, ['a'])
    """
    chosen = missing_indices([row.get("id", "") for row in rows], modality, percent, seed)
    return [
        drop_modality(row, modality) if i in chosen else copy.deepcopy(row)
        for i, row in enumerate(rows)
    ]


def missing_indices(ids: Sequence[Any], modality: str, percent: int, seed: int) -> set[int]:
    """Positions of the rows that lose ``modality``: the :func:`n_missing` ones with the
    smallest seeded hash of their id (needs the ids only, so a file can be streamed)."""
    _modality_tag(modality)
    if not isinstance(percent, int) or not 0 <= percent <= 100:
        raise ValueError(f"percent must be an integer in 0..100, got {percent!r}")
    k = n_missing(len(ids), percent)
    order = sorted(range(len(ids)), key=lambda i: (_unit(seed, modality, ids[i]), i))
    return set(order[:k])


def write_jsonl(rows: Iterable[dict[str, Any]], path: str | Path) -> Path:
    """Write rows as JSONL (UTF-8, one object a line), atomically; returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    os.replace(tmp, path)
    return path


def _stream(path: Path) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                yield json.loads(line)


def missing_variants_of_file(
    path: str | Path, base_name: str, out_dir: str | Path, seed: int,
    percents: Sequence[int] = (25, 50, 100),
) -> list[Path]:  # fmt: skip
    """:func:`missing_variants` of a JSONL file, streamed (memory: the ids, not the rows); the
    same rows are chosen as for the file's rows in memory."""
    ids = [row.get("id", "") for row in _stream(Path(path))]
    written = []
    for modality in ("ecg", "image"):
        for percent in percents:
            chosen = missing_indices(ids, modality, percent, seed)
            rows = (
                drop_modality(row, modality) if i in chosen else row
                for i, row in enumerate(_stream(Path(path)))
            )
            name = f"{base_name}_{modality}_missing{percent:02d}.jsonl"
            written.append(write_jsonl(rows, Path(out_dir) / name))
    return written


def missing_variants(
    rows: Sequence[dict[str, Any]],
    base_name: str,
    out_dir: str | Path,
    seed: int,
    percents: Sequence[int] = (25, 50, 100),
) -> list[Path]:
    """Write ``<base>_ecg_missingNN.jsonl`` and ``<base>_image_missingNN.jsonl`` for each
    percent (NN = the percent, at least two digits: ``missing05``, ``missing25``,
    ``missing100``) under ``out_dir``; returns the written paths (ECG files first)."""
    written = []
    for modality in ("ecg", "image"):
        for percent in percents:
            name = f"{base_name}_{modality}_missing{percent:02d}.jsonl"
            rows_out = missing_modality(rows, modality, percent, seed)
            written.append(write_jsonl(rows_out, Path(out_dir) / name))
    return written


# ------------------------------------------------------------------ ECGBench-style sets


class BenchSet(list):
    """The rows of an ECGBench-style set (a plain ``list``), plus ``skipped``: reason -> count
    of input rows left out."""

    def __init__(self, rows: Iterable[dict[str, Any]] = (), skipped: Mapping[str, int] = ()):
        super().__init__(rows)
        self.skipped: dict[str, int] = dict(skipped)


def _field(row: Mapping[str, Any], dotted: str) -> Any:
    value: Any = row
    for part in dotted.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def row_labels(row: dict[str, Any], label_key: LabelKey = "labels") -> list[str]:
    """The labels of ``row`` under ``label_key`` (a dotted field name such as
    ``"meta.superclasses"``, or a callable ``row -> labels``), as strings, in order.

    >>> row_labels({"meta": {"superclasses": ["NORM"]}}, "meta.superclasses")
    ['NORM']
    """
    value = label_key(row) if callable(label_key) else _field(row, label_key)
    if value is None:
        return []
    if isinstance(value, str):
        value = [value]
    return [str(v) for v in value if str(v).strip()]


def _norm(label: str) -> str:
    return " ".join(label.split()).casefold()


def _tag_prefix(row: dict[str, Any]) -> str:
    """The row's ``<ecg>``/``<image>`` tags (from its user turns), in order."""
    tags = []
    for message in _prompt_messages(row):
        if message.get("role") == "user" and isinstance(message.get("content"), str):
            tags += _TAG_RE.findall(message["content"])
    return "".join(tags)


def _bench_row(
    row: dict[str, Any], question: str, answer: str, set_name: str, task: str
) -> dict[str, Any]:
    messages = [copy.deepcopy(m) for m in row.get("messages") or [] if m.get("role") == "system"]
    prefix = _tag_prefix(row)
    messages.append({"role": "user", "content": f"{prefix}\n{question}" if prefix else question})
    messages.append({"role": "assistant", "content": f"<answer>{answer}</answer>"})
    meta = row.get("meta") or {}
    return {
        "id": row.get("id"),
        "messages": messages,
        "images": list(row.get("images") or []),
        "objects": copy.deepcopy(row.get("objects") or {"ecg": []}),
        "meta": {
            "source": meta.get("source"),
            "record_id": meta.get("record_id"),
            "split": meta.get("split"),
            "set": set_name,
            "task": task,
            # what an engine needs to read the record as the corpus did (age/sex thresholds)
            "age": meta.get("age"),
            "sex": meta.get("sex"),
        },
    }


def multilabel_question(candidates: Sequence[str]) -> str:
    """The multi-label question listing the candidates."""
    return (
        "Which of the following diagnoses apply to this ECG? Options: "
        + ", ".join(candidates)
        + ". Answer with every option that applies, separated by '; '."
    )


def ecgbench_multilabel(
    rows: Iterable[dict[str, Any]],
    candidates: Sequence[str],
    set_name: str,
    *,
    label_key: LabelKey = "labels",
    keep_empty: bool = False,
) -> BenchSet:
    """A multi-label set: every row asks for all of ``candidates`` that apply.

    Parameters
    ----------
    rows : corpus rows (§1) with labels under ``label_key``.
    candidates : the option labels, in the order the question lists them (e.g. PTB-XL
        superclasses ``["NORM", "MI", "STTC", "CD", "HYP"]`` with
        ``label_key="meta.superclasses"``).
    set_name : recorded in each row's ``meta.set``.
    label_key : dotted field name or callable giving a row's labels.
    keep_empty : keep rows with no candidate label (reference ``[]``); skipped by default.

    Returns
    -------
    BenchSet of rows with ``labels`` (the reference, in candidate order), ``candidates`` and
    ``<answer>l1; l2</answer>`` in the assistant turn; ``skipped["no_candidate_label"]``.

    Example
    -------
    >>> rows = [{"id": "a", "messages": [{"role": "user", "content": "<ecg>\\nQ"}],
    ...          "images": [], "objects": {"ecg": ["a"]}, "meta": {"superclasses": ["MI", "X"]}}]
    >>> out = ecgbench_multilabel(rows, ["NORM", "MI"], "ptbxl-super",
    ...                           label_key="meta.superclasses")
    >>> out[0]["labels"], out[0]["messages"][-1]["content"]
    (['MI'], '<answer>MI</answer>')
    """
    candidates = list(dict.fromkeys(candidates))
    if not candidates:
        raise ValueError("candidates must not be empty")
    by_norm = {_norm(c): c for c in candidates}
    question = multilabel_question(candidates)
    out = BenchSet()
    skipped: Counter[str] = Counter()
    for row in rows:
        present = {by_norm[n] for n in map(_norm, row_labels(row, label_key)) if n in by_norm}
        reference = [c for c in candidates if c in present]
        if not reference and not keep_empty:
            skipped["no_candidate_label"] += 1
            continue
        bench = _bench_row(row, question, "; ".join(reference), set_name, "multilabel")
        bench["labels"] = reference
        bench["candidates"] = candidates
        out.append(bench)
    out.skipped = dict(skipped)
    return out


def single_choice_question(options: Sequence[str]) -> str:
    """The single-choice question with lettered options."""
    lines = [f"{LETTERS[i]}. {text}" for i, text in enumerate(options)]
    return (
        "Which of the following diagnoses is shown in this ECG? Choose one option.\n"
        + "\n".join(lines)
        + "\nAnswer with the letter of the correct option."
    )


def ecgbench_single_choice(
    rows: Iterable[dict[str, Any]],
    seed: int,
    n_options: int = 4,
    set_name: str = "single_choice",
    *,
    label_key: LabelKey = "labels",
    source_key: LabelKey = "meta.source",
    candidates: Mapping[str, Sequence[str]] | None = None,
) -> BenchSet:
    """A single-choice set: one correct label and ``n_options - 1`` distractors per row.

    Parameters
    ----------
    rows : corpus rows (§1); all of a source's rows are read before any option is drawn.
    seed : the draw's seed (same seed, same rows -> same set).
    n_options : options per question (2..26).
    set_name : recorded in each row's ``meta.set`` and mixed into the seed.
    label_key : dotted field name or callable giving a row's labels (source order).
    source_key : dotted field name or callable giving the row's source (distractors come from
        the same source).
    candidates : source -> candidate labels; default: every label seen in that source's rows.

    Returns
    -------
    BenchSet of rows with ``options``, ``answer`` (the letter), ``answer_text``, ``labels``
    (``[answer_text]``) and ``<answer>X</answer>`` in the assistant turn;
    ``skipped["no_candidate_label"]``, ``skipped["too_few_distractors"]``.
    """
    if not 2 <= n_options <= len(LETTERS):
        raise ValueError(f"n_options must be in 2..{len(LETTERS)}, got {n_options}")
    rows = list(rows)
    sources = [(row_labels(row, source_key) or [""])[0] if source_key else "" for row in rows]
    pools: dict[str, dict[str, str]] = {}  # source -> normalised -> spelling (first seen)
    if candidates is not None:
        for source, labels in candidates.items():
            pools[source] = {}
            for label in labels:
                pools[source].setdefault(_norm(label), label)
    else:
        for row, source in zip(rows, sources):
            pool = pools.setdefault(source, {})
            for label in row_labels(row, label_key):
                pool.setdefault(_norm(label), label)
    out = BenchSet()
    skipped: Counter[str] = Counter()
    for row, source in zip(rows, sources):
        pool = pools.get(source, {})
        own = [_norm(label) for label in row_labels(row, label_key)]
        own_set = set(own)
        correct = next((n for n in own if n in pool), None)
        if correct is None:
            skipped["no_candidate_label"] += 1
            continue
        others = sorted(pool[n] for n in pool if n not in own_set)
        if len(others) < n_options - 1:
            skipped["too_few_distractors"] += 1
            continue
        rng = random.Random(f"{seed}|{set_name}|{row.get('id')}")
        options = rng.sample(others, n_options - 1)
        position = rng.randrange(n_options)
        answer_text = pool[correct]
        options.insert(position, answer_text)
        letter = LETTERS[position]
        bench = _bench_row(row, single_choice_question(options), letter, set_name, "single_choice")
        bench["options"] = options
        bench["answer"] = letter
        bench["answer_text"] = answer_text
        bench["labels"] = [answer_text]
        out.append(bench)
    out.skipped = dict(skipped)
    return out
