"""Extraction precision of the ``ecgr1 verify`` claim extractor on external reference texts.

Runs :func:`ecgr1.verify.extract.extract_claims` over the two ECG-R1 grounding reference texts
(``formats/ecg-grounding``, assistant turns) and the 500 PULSE reference reports
(``formats/pulse``), prints claim counts per concept and claims per text, then draws a fixed,
stratified sample of claims (both sources), prints each with its context, and scores it against
the hand judgements in ``verify_extraction_judgements.json`` (one entry per drawn claim:
source, text_id, start, end, claim_text, concept, negated, correct, note). Precision = correct /
judged, overall and per source, as a markdown table. Judgements that no longer match a drawn
claim (the extractor changed) and drawn claims without a judgement are listed, so the file can
be re-judged.

    python benchmarks/verify_extraction.py            # counts, sample, precision
    python benchmarks/verify_extraction.py --template # also print JSON stubs for unjudged claims
"""

from __future__ import annotations

import argparse
import collections
import json
import random
import sys
from pathlib import Path

from ecgr1.paths import shared_data_dir
from ecgr1.verify.extract import extract_claims

SEED = 20240611
SAMPLE = {"ecg-grounding": 15, "pulse": 35}  # 50 claims, both sources present
CONTEXT = 80
JUDGEMENTS = Path(__file__).with_name("verify_extraction_judgements.json")


def load_texts(root: Path) -> list[tuple[str, str, str]]:
    """(source, text_id, text) of the grounding assistant turns and the PULSE reports."""
    out: list[tuple[str, str, str]] = []
    grounding = root / "formats/ecg-grounding/ecg-grounding-test-mimiciv_sample_2records.jsonl"
    for line in grounding.read_text(encoding="utf-8").splitlines():
        if line.strip():
            rec = json.loads(line)
            turns = [m["content"] for m in rec["messages"] if m.get("role") == "assistant"]
            out += [("ecg-grounding", f"{rec['id']}#{k}", t) for k, t in enumerate(turns)]
    pulse = json.loads((root / "formats/pulse/ptb_report_generation_test.json").read_text("utf-8"))
    for k, item in enumerate(pulse):
        out.append(("pulse", str(item.get("id", k)), item["conversation"][1]["value"]))
    return out


def draw(claims: list[dict], seed: int = SEED) -> list[dict]:
    """Fixed stratified sample: SAMPLE[source] claims of each source (all if fewer)."""
    rng = random.Random(seed)
    picked: list[dict] = []
    for source, n in SAMPLE.items():
        pool = [c for c in claims if c["source"] == source]
        picked += rng.sample(pool, min(n, len(pool)))
    return picked


def _key(d: dict) -> tuple:
    return (d["source"], str(d["text_id"]), int(d["start"]), int(d["end"]), d["concept"])


def print_counts(texts: list, claims: list[dict]) -> None:
    per_text = collections.Counter((c["source"], c["text_id"]) for c in claims)
    for source in SAMPLE:
        n_texts = sum(1 for s, _i, _t in texts if s == source)
        n = sum(1 for c in claims if c["source"] == source)
        empty = n_texts - sum(1 for (s, _i) in per_text if s == source)
        print(f"{source}: {n_texts} texts, {n} claims, {n / max(n_texts, 1):.2f} claims/text, "
              f"{empty} texts without a claim")  # fmt: skip
    print("\n| concept | claims | negated | hedged |\n|---|---:|---:|---:|")
    by = collections.Counter(c["concept"] for c in claims)
    for concept, n in by.most_common():
        neg = sum(c["negated"] for c in claims if c["concept"] == concept)
        hed = sum(c["hedged"] for c in claims if c["concept"] == concept)
        print(f"| {concept} | {n} | {neg} | {hed} |")


def print_sample(sample: list[dict], texts: dict) -> None:
    print("\n## Drawn claims\n")
    for k, c in enumerate(sample, 1):
        t = texts[(c["source"], c["text_id"])]
        ctx = (t[max(0, c["start"] - CONTEXT) : c["start"]] + "[[" + c["text"] + "]]"
               + t[c["end"] : c["end"] + CONTEXT]).replace("\n", " ")  # fmt: skip
        extra = f" value={c['value']}" if c["value"] is not None else ""
        print(f"{k:2d}. {c['source']}/{c['text_id']} {c['concept']} neg={c['negated']} "
              f"hedged={c['hedged']} leads={','.join(c['leads']) or '-'}{extra}\n    …{ctx}…")  # fmt: skip


def score(sample: list[dict], judgements: list[dict]) -> dict[str, tuple[int, int]]:
    """{source or "all": (correct, judged)} over the drawn claims that have a judgement."""
    by_key = {_key(j): j for j in judgements}
    out: dict[str, list[int]] = {"all": [0, 0]}
    for c in sample:
        j = by_key.get(_key(c))
        if j is None:
            continue
        for bucket in ("all", c["source"]):
            out.setdefault(bucket, [0, 0])
            out[bucket][0] += bool(j["correct"])
            out[bucket][1] += 1
    return {k: (v[0], v[1]) for k, v in out.items()}


def print_score(sample: list[dict], judgements: list[dict], template: bool) -> None:
    drawn = {_key(c) for c in sample}
    stale = [j for j in judgements if _key(j) not in drawn]
    judged = {_key(j) for j in judgements}
    missing = [c for c in sample if _key(c) not in judged]
    print(
        "\n## Extraction precision\n\n| source | correct | judged | precision |\n|---|---:|---:|---:|"
    )
    for bucket, (ok, n) in score(sample, judgements).items():
        print(f"| {bucket} | {ok} | {n} | {ok / n:.2f} |" if n else f"| {bucket} | 0 | 0 | - |")
    for j in stale:
        print(f"stale judgement (no longer drawn): {j['source']}/{j['text_id']} "
              f"[{j['start']}:{j['end']}] {j['concept']} {j['claim_text']!r}")  # fmt: skip
    for c in missing:
        print(f"unjudged drawn claim: {c['source']}/{c['text_id']} [{c['start']}:{c['end']}] "
              f"{c['concept']} {c['text']!r}")  # fmt: skip
    if template and missing:
        stubs = [{"source": c["source"], "text_id": c["text_id"], "start": c["start"],
                  "end": c["end"], "claim_text": c["text"], "concept": c["concept"],
                  "negated": c["negated"], "correct": None, "note": ""} for c in missing]  # fmt: skip
        print(json.dumps(stubs, indent=1, ensure_ascii=False))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--template", action="store_true", help="print JSON stubs for unjudged claims")
    args = ap.parse_args(argv)
    root = shared_data_dir()
    if not (root / "formats").is_dir():
        print(f"reference texts not found under {root} (set ECGR1_DATA)")
        return 1
    texts = load_texts(root)
    claims = [
        {**c.to_dict(), "source": s, "text_id": i}
        for s, i, t in texts for c in extract_claims(t)
    ]  # fmt: skip
    print_counts(texts, claims)
    sample = draw(claims)
    print_sample(sample, {(s, i): t for s, i, t in texts})
    judgements = json.loads(JUDGEMENTS.read_text("utf-8")) if JUDGEMENTS.exists() else []
    print_score(sample, judgements, args.template)
    return 0


if __name__ == "__main__":
    sys.exit(main())
