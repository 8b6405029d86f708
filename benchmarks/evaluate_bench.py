"""The protocol engine on every shared labelled set under ``ecgr1 evaluate ecgbench``.

Usage::

    python benchmarks/evaluate_bench.py                      # build, infer, score, print tables
    python benchmarks/evaluate_bench.py --json eval.json     # also every number as JSON
    python benchmarks/evaluate_bench.py --keep DIR           # keep the corpus, sets, predictions

1. Reference rows. ``ecgr1.corpus.build.build_corpus`` builds the shared labelled trees of
   ``../shared/data`` (or ``$ECGR1_DATA``) into a temporary folder, with no images, no held-out
   fraction and no ECGBench or modality-missing files: CPSC 2018 (``challenge:cpsc2018``, the
   text-labelled release), PTB-XL (``ptbxl:extra/ptbxl``), every ``extra/cinc_*`` Challenge
   tree and LUDB. The build removes the same ECG reached through two trees (Challenge copies of
   PTB-XL records). Every SFT row is used, train and test (PTB-XL keeps its official fold 10 as
   test; nothing else is held out), and the sets are made from them with the functions
   ``ecgr1.corpus.build.write_ecgbench`` uses, the same way:

   * ``ptbxl_superclass`` (multi-label): PTB-XL rows, candidates NORM/MI/STTC/CD/HYP, truth
     ``meta.superclasses``;
   * ``cpsc2018`` (multi-label): every CPSC 2018 row (the native ``cpsc2018`` tree and the
     Challenge-coded ``cinc_cpsc2018`` copy, both source ``cpsc2018``), candidates
     ``candidate_names("cpsc")``, truth ``labels_in_vocabulary("cpsc")``;
   * ``chapman_shaoxing`` and ``georgia`` (single choice, four options drawn from the labels of
     the same source, seed 0);
   * added here (not written by the builder): ``<source>_cpsc_classes`` (multi-label) for the
     Challenge sources georgia, ningbo, chapman_shaoxing, cpsc_extra, ptb and ptbxl_challenge,
     candidates and truth as for ``cpsc2018`` (a Challenge record coded sinus rhythm 426783006
     and nothing else of the nine is CPSC's "normal ECG", as the Challenge maps it); and
     ``ludb_cpsc_classes_no_normal``: LUDB with the CPSC classes except "normal ECG" (LUDB's
     "Sinus rhythm" is not the CPSC "Normal" class, so that candidate would have no truth).

   Multi-label rows with no candidate label are skipped, as the builder skips them.

2. Predictions come from the real command, once per set file:
   ``ecgr1 infer --engine protocol --data SET.jsonl --ecg-root <corpus>/ecg --out PRED.jsonl``
   (the set rows carry no age or sex in ``meta``: the record's own header values are used).
   They are scored by ``ecgr1.evaluate.ecgbench.evaluate_ecgbench`` in two readings:

   * **own**: the protocol's ``<answer>`` as written (its statement labels, e.g. "complete right
     bundle branch block", "lateral ST elevation"). The scorer matches answer labels to the
     candidates exactly after normalisation and synonyms; a narrower finding does not count
     for a broader candidate and a single-choice answer must be a letter or exactly one
     option's text, so this reading shows what the protocol's own wording earns.
   * **mapped**: the ``<answer>`` replaced by the candidates that the protocol's positive
     statements support, the method of ``tests/test_evaluate_ecgbench.py`` (the
     ``protocol_sets`` fixture). The statements are read back from the prediction's
     ``<answer>`` block: each label is one statement of the criteria table (labels are
     unique there); "borderline ..." labels are not positive calls and are dropped; labels
     the table does not know are counted (``unknown_answer_labels``; 0 expected). Then:

     - CPSC-class sets: ``concepts_of_statements(ids, vocabulary="cpsc")`` (a narrower finding
       supports its broader class: complete RBBB is "right bundle branch block"; "normal ECG"
       by the table's CPSC rule: a sinus-family rhythm and none of the other eight classes),
       answered as those concepts' names among the candidates;
     - PTB-XL superclasses: a diagnostic SCP code (``scp_statements.csv`` rows with a
       ``diagnostic_class``) is stated when every concept it maps to (``map_labels("scp",
       [code])``) is in ``concepts_of_statements(ids, vocabulary="scp")``; the answer is
       ``ptbxl_superclasses`` of the stated codes;
     - single choice: the options whose concept (looked up by its answer name) is among
       ``concepts_of_statements(ids)`` (broader concepts included); an option broader than
       another supported option is dropped (the narrower one is chosen), and of several left
       the first in option order is answered (counted as ``ambiguous``); none supported gives
       an empty ``<answer>``, which scores as unparseable (wrong).

   Each reading is also scored with ``reference_compatible=True`` (ECG-R1's
   ``compute_metrics.py`` arithmetic, bugs included: substring search over the whole
   response, "AUC" from 0/1 answers, random guesses for unparsed single-choice answers, seed
   42). Our set names match none of the reference's split names, so each set's label space is
   its candidates and single-choice sets have no row-count check.

AUC (ours) needs per-label scores; the protocol gives none, so it is reported as not available.
ECG-R1's published ECGBench figures are on other data (ECGBench's test sets) and are printed as
a separate table from ``PUBLISHED``.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _common import data_root, markdown_table

from ecgr1.corpus.build import build_corpus, labels_in_vocabulary
from ecgr1.corpus.config import CorpusConfig
from ecgr1.corpus.labels import (
    PTBXL_SUPERCLASSES,
    candidate_names,
    concepts_of_statements,
    get_concept,
    load_label_table,
    map_labels,
    ptbxl_superclasses,
)
from ecgr1.corpus.splits import ecgbench_multilabel, ecgbench_single_choice
from ecgr1.evaluate.ecgbench import evaluate_ecgbench
from ecgr1.evaluate.rows import answer_block, split_labels
from ecgr1.protocol.table import load_table

#: Challenge sources scored as multi-label sets over the CPSC 2018 classes.
CPSC_CLASS_SOURCES = (
    "georgia",
    "ningbo",
    "chapman_shaoxing",
    "cpsc_extra",
    "ptb",
    "ptbxl_challenge",
)
SINGLE_CHOICE_SOURCES = ("chapman_shaoxing", "georgia")
SEED = 0

#: ECG-R1's published ECGBench figures (OTHER DATA: ECGBench's test sets, not our records).
#: Not in the reference repository (README.md and scripts at commit 6640e8d of
#: PKUDigitalHealth/ECG-R1 have no results table) and not found in the searchable sources
#: available when this was written; left empty rather than guessed. Fill ``rows`` with
#: [set, metric, value] from the paper's ECGBench table to print them.
PUBLISHED: dict[str, Any] = {
    "source": "Jin et al., ECG-R1, arXiv:2602.04279 (ICML 2026); not in the repository "
    "PKUDigitalHealth/ECG-R1 at 6640e8d (its README.md has no results table)",
    "rows": [],
}


def shared_sources(root: Path) -> list[str]:
    """Every labelled tree of ``../shared/data`` in its published layout."""
    sources = [f"challenge:{root / 'cpsc2018'}", f"ptbxl:{root / 'extra' / 'ptbxl'}"]
    sources += [f"challenge:{p}" for p in sorted((root / "extra").glob("cinc_*"))]
    return sources + [f"ludb:{root / 'ludb'}"]


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    with path.open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")


# ------------------------------------------------------------------------------ sets


def make_sets(corpus: Path) -> tuple[dict[str, list[dict[str, Any]]], dict[str, Any]]:
    """Set name -> ECGBench-style rows, from every SFT row of the corpus; and what was skipped."""
    by_source: dict[str, list[dict[str, Any]]] = {}
    for split in ("train", "test"):
        for row in read_jsonl(corpus / f"sft_{split}.jsonl"):
            by_source.setdefault(row["meta"]["source"], []).append(row)
    cpsc = candidate_names("cpsc")
    cpsc_key = labels_in_vocabulary("cpsc")
    made: dict[str, Any] = {
        "ptbxl_superclass": ecgbench_multilabel(
            by_source.get("ptbxl", []), list(PTBXL_SUPERCLASSES), "ptbxl_superclass",
            label_key="meta.superclasses",
        ),
        "cpsc2018": ecgbench_multilabel(
            by_source.get("cpsc2018", []), cpsc, "cpsc2018", label_key=cpsc_key
        ),
    }  # fmt: skip
    for source in SINGLE_CHOICE_SOURCES:
        made[source] = ecgbench_single_choice(by_source.get(source, []), seed=SEED, set_name=source)
    for source in CPSC_CLASS_SOURCES:
        name = f"{source}_cpsc_classes"
        made[name] = ecgbench_multilabel(by_source.get(source, []), cpsc, name, label_key=cpsc_key)
    no_normal = [c for c in cpsc if c != "normal ECG"]
    name = "ludb_cpsc_classes_no_normal"
    made[name] = ecgbench_multilabel(by_source.get("ludb", []), no_normal, name, label_key=cpsc_key)
    info = {
        "sft_rows_by_source": {s: len(r) for s, r in sorted(by_source.items())},
        "skipped": {n: dict(getattr(rows, "skipped", {}) or {}) for n, rows in made.items()},
    }
    return {n: list(rows) for n, rows in made.items() if rows}, info


# ------------------------------------------------------------------------------ inference


def ecgr1_command() -> list[str]:
    """The ``ecgr1`` console script of this interpreter (else ``python -m ecgr1``)."""
    script = Path(sys.executable).with_name("ecgr1")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "ecgr1"]


def infer(ref: Path, ecg_root: Path, out: Path) -> dict[str, Any]:
    """``ecgr1 infer --engine protocol`` on one set file."""
    cmd = ecgr1_command() + [
        "infer", "--engine", "protocol", "--data", str(ref), "--ecg-root", str(ecg_root),
        "--out", str(out),
    ]  # fmt: skip
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    return {
        "returncode": proc.returncode,
        "seconds": time.perf_counter() - t0,
        "stderr_tail": proc.stderr.strip().splitlines()[-5:],
    }


# ------------------------------------------------------------------------------ mapping


class Mapper:
    """The candidates a protocol answer's positive statements support (module docs)."""

    def __init__(self, ptbxl_dir: Path) -> None:
        self.statement_of_label = {s.label: sid for sid, s in load_table().statements.items()}
        self.concept_of_name = {c.name: c.id for c in load_label_table().concepts.values()}
        self.superclass_codes: dict[str, set[str]] = {}
        with open(ptbxl_dir / "scp_statements.csv", encoding="utf-8") as fh:
            for row in csv.DictReader(fh):
                if row["diagnostic_class"]:
                    code = row[""]
                    self.superclass_codes[code] = set(map_labels("scp", [code]).concepts)
        self.unknown: Counter[str] = Counter()
        self.ambiguous = 0
        self.unsupported = 0

    def positive_ids(self, response: str) -> list[str]:
        ids = []
        for label in split_labels(answer_block(response) or ""):
            if label.startswith("borderline ") or label == "no definite diagnosis":
                continue
            sid = self.statement_of_label.get(label)
            if sid is None:
                self.unknown[label] += 1
            else:
                ids.append(sid)
        return ids

    def multilabel(self, ids: list[str], candidates: list[str], superclass: bool) -> str:
        if superclass:
            stated = concepts_of_statements(ids, vocabulary="scp")
            codes = [c for c, cs in self.superclass_codes.items() if cs and cs <= stated]
            return "; ".join(ptbxl_superclasses(codes))
        names = {get_concept(c).name for c in concepts_of_statements(ids, vocabulary="cpsc")}
        return "; ".join(c for c in candidates if c in names)

    def single_choice(self, ids: list[str], options: list[str]) -> str:
        from ecgr1.corpus.labels import with_broader

        stated = concepts_of_statements(ids)
        concepts = {o: self.concept_of_name.get(o) for o in options}
        supported = [o for o in options if concepts[o] in stated]
        # drop an option that is broader than another supported one (choose the narrower)
        narrow = [
            o for o in supported
            if not any(p != o and concepts[o] in with_broader([concepts[p]]) for p in supported)
        ]  # fmt: skip
        if not narrow:
            self.unsupported += 1
            return ""
        if len(narrow) > 1:
            self.ambiguous += 1
        return "ABCDEFGHIJKLMNOPQRSTUVWXYZ"[options.index(narrow[0])]

    def mapped_rows(
        self, preds: list[dict[str, Any]], refs: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        by_id = {r["id"]: r for r in refs}
        out = []
        for pred in preds:
            ref = by_id.get(pred.get("id"))
            text = pred.get("response") or ""
            if ref is None or not text:
                out.append(pred)
                continue
            ids = self.positive_ids(text)
            if "options" in ref:
                answer = self.single_choice(ids, list(ref["options"]))
            else:
                answer = self.multilabel(
                    ids, list(ref["candidates"]), ref["meta"]["set"] == "ptbxl_superclass"
                )
            block = f"<answer>{answer}</answer>"
            new = re.sub(r"<answer>.*?</answer>", lambda _, b=block: b, text, flags=re.S)
            out.append({**pred, "response": new})
        return out


# ------------------------------------------------------------------------------ scoring


def score(
    sets: dict[str, list[dict[str, Any]]],
    preds: dict[str, list[dict[str, Any]]],
    transform: Callable[[list[dict[str, Any]], list[dict[str, Any]]], list[dict[str, Any]]],
) -> dict[str, dict[str, Any]]:
    """Per set: ours and the reference-compatible result (one set per call)."""
    out = {}
    for name, refs in sets.items():
        rows = transform(preds[name], refs)
        ours = evaluate_ecgbench(rows, refs)
        ref = evaluate_ecgbench(rows, refs, reference_compatible=True)
        out[name] = {
            "ours": ours["sets"][name],
            "reference_compatible": ref["sets"][name],
            "rows": ours["rows"],
        }
    return out


def _f(value: Any) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def _paper(s: dict[str, Any]) -> str:
    paper = s.get("paper")
    if not paper:
        return f"n/a ({s.get('reason', 'undefined')})"
    return ", ".join(f"{k} {'n/a' if v is None else v}" for k, v in paper.items())


def table(scores: dict[str, dict[str, Any]]) -> str:
    rows = []
    for name, r in scores.items():
        s, ref = r["ours"], r["reference_compatible"]
        if s["kind"] == "multilabel":
            main = f"macro-F1 {_f(s['macro_f1'])}"
            micro, hl, em = _f(s["micro_f1"]), _f(s["hamming_loss"]), _f(s["exact_match"])
        else:
            main = f"accuracy {_f(s['accuracy'])}"
            micro = hl = em = "–"
        rows.append([
            f"`{name}`", s["kind"].replace("_", " "), s["n_rows"], main, micro, hl, em,
            s["n_unparseable"], _paper(ref),
        ])  # fmt: skip
    return markdown_table(
        ["set", "kind", "rows", "macro-F1 / accuracy", "micro-F1", "Hamming loss", "exact match",
         "unparseable", "reference-compatible (×100: F1, \"AUC\", HL / Accuracy)"],
        rows,
    )  # fmt: skip


def published_table() -> str:
    if not PUBLISHED["rows"]:
        return (
            "| set (ECGBench) | metric | ECG-R1 |\n|---|---|---|\n"
            "| PTB-XL Super, CODE-15, CPSC 2018, CSN, G12 | F1 / AUC / HL, accuracy | "
            "not found in the repository; see the paper |\n\n"
            f"Source: {PUBLISHED['source']}."
        )
    return markdown_table(["set (ECGBench)", "metric", "ECG-R1"], PUBLISHED["rows"])


def per_label_lines(scores: dict[str, dict[str, Any]]) -> list[str]:
    lines = []
    for name, r in scores.items():
        s = r["ours"]
        if s["kind"] != "multilabel":
            continue
        parts = [
            f"{label} {m['support']}/{m['predicted']}/{_f(m['f1'])}"
            for label, m in s["per_label"].items()
            if m["support"] or m["predicted"]
        ]
        lines.append(f"- `{name}` (support/predicted/F1): " + "; ".join(parts))
    return lines


# ------------------------------------------------------------------------------ main


def run(root: Path, work: Path, workers: int) -> dict[str, Any]:
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    corpus = work / "corpus"
    config = CorpusConfig(
        images=False, test_fraction=0.0, ecgbench=False, missing_percents=(),
        style="deterministic",
    )  # fmt: skip
    manifest = build_corpus(shared_sources(root), corpus, config, workers=workers, progress=False)
    timings["build_s"] = time.perf_counter() - t0
    sets, info = make_sets(corpus)
    (work / "sets").mkdir(exist_ok=True)
    (work / "pred").mkdir(exist_ok=True)
    t1 = time.perf_counter()
    preds: dict[str, list[dict[str, Any]]] = {}
    runs: dict[str, Any] = {}
    for name, rows in sets.items():
        ref = work / "sets" / f"{name}.jsonl"
        write_jsonl(ref, rows)
        out = work / "pred" / f"{name}.jsonl"
        runs[name] = infer(ref, corpus / "ecg", out)
        preds[name] = read_jsonl(out)
        print(
            f"infer {name}: {len(rows)} rows, rc {runs[name]['returncode']}, "
            f"{runs[name]['seconds']:.1f} s",
            file=sys.stderr,
        )
    timings["infer_s"] = time.perf_counter() - t1
    t2 = time.perf_counter()
    mapper = Mapper(root / "extra" / "ptbxl")
    own = score(sets, preds, lambda p, r: p)
    mapped = score(sets, preds, mapper.mapped_rows)
    timings["score_s"] = time.perf_counter() - t2
    timings["total_s"] = time.perf_counter() - t0
    run_info = manifest["run"]
    return {
        "records_built": run_info["records_ok"],
        "records_failed": run_info["records_failed"] + run_info["records_internal"],
        "duplicates_removed": manifest.get("duplicates_removed"),
        "sets_info": info,
        "infer": runs,
        "own": own,
        "mapped": mapped,
        "mapping": {
            "unknown_answer_labels": dict(mapper.unknown),
            "single_choice_ambiguous": mapper.ambiguous,
            "single_choice_unsupported": mapper.unsupported,
        },
        "timings": timings,
        "published": PUBLISHED,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--workers", type=int, default=1, help="corpus build workers (1)")
    ap.add_argument("--json", help="write every result here")
    ap.add_argument("--keep", help="build into this (new or empty) folder and keep it")
    args = ap.parse_args(argv)
    root = data_root()
    if root is None:
        return 2
    if args.keep:
        work = Path(args.keep)
        work.mkdir(parents=True, exist_ok=True)
    else:
        work = Path(tempfile.mkdtemp(prefix="evaluate-bench-"))
    try:
        result = run(root, work, args.workers)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    t = result["timings"]
    print(
        f"## Protocol engine under `evaluate ecgbench` ({result['records_built']} records built, "
        f"{result['records_failed']} failed; build {t['build_s']:.0f} s, infer {t['infer_s']:.0f} s, "
        f"score {t['score_s']:.0f} s, total {t['total_s']:.0f} s)\n"
    )
    print("### Reading 1: the protocol's own answer\n")
    print(table(result["own"]))
    print("\n### Reading 2: mapped to the candidates its positive statements support\n")
    print(table(result["mapped"]))
    print("\nPer label, mapped reading (support / predicted / F1):\n")
    print("\n".join(per_label_lines(result["mapped"])))
    print(f"\nMapping: {json.dumps(result['mapping'])}")
    print(f"Sets: {json.dumps(result['sets_info'])}")
    failed = {n: r for n, r in result["infer"].items() if r["returncode"] != 0}
    if failed:
        print(f"infer exit status not 0: {json.dumps(failed)}")
    print("\n### ECG-R1 published ECGBench figures (OTHER DATA: ECGBench test sets)\n")
    print(published_table())
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1, default=str), encoding="utf-8")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    sys.exit(main())
