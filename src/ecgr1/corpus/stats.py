"""Corpus statistics: what a set of instruction-row files holds, as a dict and as Markdown.

:func:`corpus_stats` reads JSONL rows (§1 of ``../shared/spec/interchange.md``, with this
project's ``labels``, ``agreement`` and ``meta`` fields when present) and counts:

* rows per file, per source (``meta.source``), per split (``meta.split``) and per source and
  split; rows without the field count under ``"unknown"``; RL rows (with ``solution``);
* labels (``labels``; RL rows without it: the ``<|answer|>`` labels of the solution): every
  label with its count, most frequent first, and the ``top_n`` first;
* agreement (``agreement.supported`` / ``unsupported`` / ``unassessed`` / ``extra``): per
  label, how many rows list it under each; rows with an ``agreement`` field; rows with any unsupported label;
* modalities: rows with an ECG (non-empty ``objects.ecg``), with an image, with both, with
  neither.

Lines that are not JSON objects are counted (``invalid_lines``) and otherwise skipped: validation
is :func:`ecgr1.corpus.check.check_rows`'s job.

Example
-------
>>> import json, tempfile, os
>>> row = {"id": "a", "messages": [], "images": [], "objects": {"ecg": ["x"]},
...        "labels": ["AF"], "agreement": {"supported": ["AF"], "unsupported": [], "extra": []},
...        "meta": {"source": "ptbxl", "split": "test"}}
>>> path = os.path.join(tempfile.mkdtemp(), "rows.jsonl")
>>> _ = open(path, "w").write(json.dumps(row) + "\\n")
>>> s = corpus_stats([path])
>>> s["rows"], s["sources"], s["labels"], s["modalities"]["ecg_only"]
(1, {'ptbxl': 1}, {'AF': 1}, 1)
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from ecgr1.report.solution import parse_solution

AGREEMENT_KINDS = ("supported", "unsupported", "unassessed", "extra")
UNKNOWN = "unknown"


def _rows(path: Path) -> Iterable[dict[str, Any] | None]:
    with path.open("rb") as f:
        for raw in f:
            if not raw.strip():
                continue
            try:
                value = json.loads(raw.decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError):
                value = None
            yield value if isinstance(value, dict) else None


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [str(v) for v in value if isinstance(v, (str, int, float))]
    return []


def _sorted_counts(counter: Counter) -> dict[str, int]:
    """Most frequent first, ties by name."""
    return dict(sorted(counter.items(), key=lambda kv: (-kv[1], str(kv[0]))))


def corpus_stats(paths: str | Path | Sequence[str | Path], top_n: int = 20) -> dict[str, Any]:
    """Count rows, labels, agreement and modalities over JSONL files (see module docstring).

    Returns
    -------
    dict with ``rows``, ``invalid_lines``, ``rl_rows``, ``files`` {path: rows}, ``sources``,
    ``splits``, ``source_split`` {source: {split: rows}}, ``labels`` {label: rows} (all, most
    frequent first), ``top_labels`` [[label, rows]] (``top_n``), ``rows_without_labels``,
    ``agreement`` {label: {supported, unsupported, unassessed, extra}}, ``rows_with_agreement``,
    ``rows_with_unsupported``, ``modalities`` {ecg, image, both, ecg_only, image_only, neither}.
    """
    if isinstance(paths, (str, Path)):
        paths = [paths]
    files: dict[str, int] = {}
    sources: Counter = Counter()
    splits: Counter = Counter()
    source_split: dict[str, Counter] = defaultdict(Counter)
    labels: Counter = Counter()
    agreement: dict[str, Counter] = defaultdict(Counter)
    modalities: Counter = Counter({k: 0 for k in ("ecg", "image", "both", "ecg_only")})
    modalities.update({"image_only": 0, "neither": 0})
    totals = Counter({"rows": 0, "invalid": 0, "rl": 0, "no_labels": 0, "agree": 0, "unsup": 0})
    for path in paths:
        key = str(path)
        files[key] = 0
        for row in _rows(Path(path)):
            if row is None:
                totals["invalid"] += 1
                continue
            files[key] += 1
            totals["rows"] += 1
            meta = row.get("meta") if isinstance(row.get("meta"), dict) else {}
            source = str(meta.get("source") or UNKNOWN)
            split = str(meta.get("split") or UNKNOWN)
            sources[source] += 1
            splits[split] += 1
            source_split[source][split] += 1
            solution = row.get("solution")
            if isinstance(solution, str):
                totals["rl"] += 1
            row_labels = _strings(row.get("labels"))
            if "labels" not in row and isinstance(solution, str):
                row_labels = parse_solution(solution).labels
            if not row_labels:
                totals["no_labels"] += 1
            labels.update(dict.fromkeys(row_labels, 1))
            agree = row.get("agreement")
            if isinstance(agree, dict):
                totals["agree"] += 1
                for kind in AGREEMENT_KINDS:
                    for label in dict.fromkeys(_strings(agree.get(kind))):
                        agreement[label][kind] += 1
                if _strings(agree.get("unsupported")):
                    totals["unsup"] += 1
            objects = row.get("objects") if isinstance(row.get("objects"), dict) else {}
            has_ecg = bool(_strings(objects.get("ecg")))
            has_image = bool(_strings(row.get("images")))
            modalities["ecg"] += has_ecg
            modalities["image"] += has_image
            modalities["both"] += has_ecg and has_image
            modalities["ecg_only"] += has_ecg and not has_image
            modalities["image_only"] += has_image and not has_ecg
            modalities["neither"] += not has_ecg and not has_image
    all_labels = _sorted_counts(labels)
    return {
        "rows": totals["rows"],
        "invalid_lines": totals["invalid"],
        "rl_rows": totals["rl"],
        "files": files,
        "sources": _sorted_counts(sources),
        "splits": _sorted_counts(splits),
        "source_split": {s: dict(sorted(c.items())) for s, c in sorted(source_split.items())},
        "labels": all_labels,
        "top_labels": [[label, n] for label, n in list(all_labels.items())[:top_n]],
        "rows_without_labels": totals["no_labels"],
        "agreement": {
            label: {kind: agreement[label][kind] for kind in AGREEMENT_KINDS}
            for label in sorted(agreement, key=lambda x: (-sum(agreement[x].values()), str(x)))
        },
        "rows_with_agreement": totals["agree"],
        "rows_with_unsupported": totals["unsup"],
        "modalities": dict(modalities),
    }


def _table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> list[str]:
    def cell(value: Any) -> str:
        return str(value).replace("|", "\\|")

    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return lines


def stats_markdown(stats: dict[str, Any], all_labels: bool = True) -> str:
    """The statistics of :func:`corpus_stats` as Markdown tables.

    ``all_labels=False`` leaves out the table of every label (the top-N table stays).
    """
    out = [
        "# Corpus statistics",
        "",
        f"{stats['rows']} rows ({stats['rl_rows']} RL rows with a solution), "
        f"{stats['invalid_lines']} invalid lines, {stats['rows_without_labels']} rows without "
        "labels.",
        "",
        "## Rows per file",
        "",
    ]
    out += _table(["file", "rows"], stats["files"].items())
    splits = sorted({s for c in stats["source_split"].values() for s in c})
    out += ["", "## Rows per source and split", ""]
    out += _table(
        ["source", *splits, "total"],
        (
            [source, *(counts.get(s, 0) for s in splits), sum(counts.values())]
            for source, counts in stats["source_split"].items()
        ),
    )
    out += ["", "Splits: " + ", ".join(f"{k} {v}" for k, v in stats["splits"].items()), ""]
    m = stats["modalities"]
    out += ["## Modalities", ""]
    out += _table(
        ["ECG", "image", "both", "ECG only", "image only", "neither"],
        [[m["ecg"], m["image"], m["both"], m["ecg_only"], m["image_only"], m["neither"]]],
    )
    out += ["", f"## Top {len(stats['top_labels'])} labels", ""]
    out += _table(["label", "rows"], stats["top_labels"])
    if stats["agreement"]:
        out += [
            "",
            "## Agreement with the measurements",
            "",
            f"{stats['rows_with_agreement']} rows carry an agreement; "
            f"{stats['rows_with_unsupported']} have at least one unsupported label.",
            "",
        ]
        out += _table(
            ["label", *AGREEMENT_KINDS],
            ([label, *(c[k] for k in AGREEMENT_KINDS)] for label, c in stats["agreement"].items()),
        )
    if all_labels and stats["labels"]:
        out += ["", f"## All labels ({len(stats['labels'])})", ""]
        out += _table(["label", "rows"], stats["labels"].items())
    return "\n".join(out) + "\n"
