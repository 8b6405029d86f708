"""Grounded-interpretation judging (``ecgr1.evaluate.judge``, ``.grounding``, ``.protocol_judge``).

- The prompt is rendered as the published scripts render it (Jinja2, compared when installed).
- Judge replies are parsed robustly: every bug case of the published ``compute_metrics.py``
  (single quotes, a ``]`` inside an explanation, digit arithmetic such as "60-100 bpm", a
  non-numeric Score, NaN, unparseable replies) is a fixture here, with our scores and the
  ``reference_compatible`` numbers written by hand from the published formula.
- The LLM judge runs against :class:`fake_openai.FakeOpenAI` on 127.0.0.1: retries, a
  timeout, a malformed reply, the cache and a resumed run.
- The offline protocol judge ranks every untouched protocol report of six real records above
  its perturbed copies (the verifier benchmark's perturbations) on each criterion it scores.
"""

from __future__ import annotations

import json
import math
import random
import re
import sys
import time
from pathlib import Path

import pytest
from fake_openai import FakeOpenAI

from ecgr1.errors import ECGR1Error
from ecgr1.evaluate.grounding import evaluate_grounding, record_scores, to_markdown
from ecgr1.evaluate.judge import (
    CRITERIA,
    HOLISTIC,
    JUDGE_API_KEY_ENV,
    CriterionScores,
    Item,
    Judgement,
    LLMJudge,
    check_template,
    default_template_path,
    parse_judgement,
    render_prompt,
)
from ecgr1.evaluate.protocol_judge import SCORED, ProtocolJudge
from ecgr1.evaluate.rows import Pair
from ecgr1.report import write_report

TEMPLATE = (
    "# Evaluate\r\n\r\n## Generated ECG Interpretation: \r\n{{generated}}\r\n\r\n"
    "## Ground Truth Clinician's Interpretation:\r\n{{ groundtruth }}\r\n\r\n"
    "**Response:** [JSON: {'DiagnosisAccuracy':[{'Score': , 'Explanation':}, ...]}]\n"
)


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch):
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("all_proxy", raising=False)
    monkeypatch.setenv("NO_PROXY", "*")
    monkeypatch.delenv(JUDGE_API_KEY_ENV, raising=False)


@pytest.fixture
def template_file(tmp_path) -> Path:
    path = tmp_path / "prompt.txt"
    path.write_bytes(TEMPLATE.encode("utf-8"))
    return path


# --------------------------------------------------------------------------- the prompt

TRICKY = [
    ("plain", "ref"),
    ("{{groundtruth}} {% if x %} {# c #}", "a\r\nb\n"),
    ("<think>\n**Step 1**\n</think>\n<answer>AF</answer>\n\n", "  leading spaces\n"),
    ("", "ünïcødé — 60-100 bpm ’quotes’ {'Score': 2}"),
]


@pytest.mark.parametrize("generated, groundtruth", TRICKY)
def test_the_prompt_is_rendered_as_jinja2_renders_it(generated, groundtruth):
    jinja2 = pytest.importorskip("jinja2")
    templates = [TEMPLATE, TEMPLATE.rstrip("\n"), TEMPLATE + "\n"]
    shared = default_template_path()
    if shared.is_file():
        templates.append(shared.read_text(encoding="utf-8"))
    for template in templates:
        expected = jinja2.Template(template, trim_blocks=True, lstrip_blocks=True).render(
            generated=generated, groundtruth=groundtruth
        )
        assert render_prompt(template, generated, groundtruth) == expected


def test_the_shared_prompt_has_the_seven_criteria():
    path = default_template_path()
    if not path.is_file():
        pytest.skip(f"{path} not found")
    text = path.read_text(encoding="utf-8")
    check_template(text)
    for criterion in CRITERIA:
        assert f"'{criterion}'" in text  # the single-quoted format the prompt asks for


@pytest.mark.parametrize(
    "template, message",
    [
        ("no placeholders", "placeholders"),
        ("{{generated}} only", "placeholders"),
        ("{{generated}} {{groundtruth}} {{other}}", "placeholders"),
        ("{{generated}} {{groundtruth}} {% if x %}", "template syntax"),
        ("{{generated}} {{groundtruth}} {# note #}", "template syntax"),
    ],
)
def test_a_template_we_cannot_render_exactly_is_refused(template, message):
    with pytest.raises(ECGR1Error, match=message):
        check_template(template)


def test_a_missing_template_file_names_where_to_get_it(tmp_path):
    with pytest.raises(ECGR1Error, match="ECG-R1 repository"):
        LLMJudge("http://127.0.0.1:9/v1", "m", template_path=tmp_path / "absent.txt")


# --------------------------------------------------------------------------- parsing


def reply_single(values: dict[str, list[tuple[object, str]]]) -> str:
    """A reply in the prompt's single-quoted format (Python literal syntax)."""
    parts = []
    for key, items in values.items():
        inner = ", ".join(f"{{'Score': {s!r}, 'Explanation': {e!r}}}" for s, e in items)
        parts.append(f"'{key}': [{inner}]")
    return "{" + ", ".join(parts) + "}"


def reply_json(values: dict[str, list[tuple[object, str]]]) -> str:
    body = {k: [{"Score": s, "Explanation": e} for s, e in v] for k, v in values.items()}
    return json.dumps(body, ensure_ascii=False)


def full(**scores: list) -> dict[str, list[tuple[object, str]]]:
    """Seven criteria; each a list of scores (explanations generated)."""
    return {c: [(s, f"{c} item {i}") for i, s in enumerate(scores[c])] for c in CRITERIA}


def scores_of(reply: str) -> dict[str, list[float] | None]:
    return {c: s.scores for c, s in parse_judgement(reply).criteria.items()}


def test_single_and_double_quoted_replies_read_the_same():
    values = full(
        DiagnosisAccuracy=[2, 1],
        AnalysisCompleteness=[1, 0, 1],
        AnalysisRelevance=[2],
        LeadEvidenceValidity=[0, 2],
        GroundedECGUnderstanding=[80],
        EvidenceBasedReasoning=[50],
        RealisticDiagnosticProcess=[100],
    )
    single, double = reply_single(values), reply_json(values)
    assert '"' not in single
    assert scores_of(single) == scores_of(double)
    assert scores_of(single)["AnalysisCompleteness"] == [1.0, 0.0, 1.0]
    assert parse_judgement(single).failure is None


def test_brackets_and_braces_inside_explanations_do_not_end_the_list():
    reply = (
        "{'DiagnosisAccuracy': [{'Score': 2, 'Explanation': 'AF [irregular RR], see {note}'}, "
        "{'Score': 0, 'Explanation': 'missed LVH ]]'}]}"
    )
    assert scores_of(reply)["DiagnosisAccuracy"] == [2.0, 0.0]
    dbl = '{"DiagnosisAccuracy": [{"Score": 2, "Explanation": "ST \\"up\\" in [V1-V3]"}]}'
    assert parse_judgement(dbl).criteria["DiagnosisAccuracy"].items[0].explanation == (
        'ST "up" in [V1-V3]'
    )


def test_an_apostrophe_inside_a_single_quoted_explanation_is_not_a_closing_quote():
    reply = (
        "{'GroundedECGUnderstanding': [{'Score': 80, 'Explanation': 'the clinician's read "
        "[V2] is matched'}]}"
    )
    found = parse_judgement(reply).criteria["GroundedECGUnderstanding"]
    assert found.scores == [80.0]
    assert found.items[0].explanation == "the clinician's read [V2] is matched"


def test_digit_arithmetic_in_explanations_is_text_and_never_evaluated():
    reply = (
        "{'DiagnosisAccuracy': [{'Score': 2, 'Explanation': 'rate 60-100 bpm, 2*3 leads, "
        "9**9**9**9'}]}"
    )
    t0 = time.monotonic()
    found = parse_judgement(reply).criteria["DiagnosisAccuracy"]
    assert time.monotonic() - t0 < 1.0
    assert found.scores == [2.0]
    assert found.items[0].explanation == "rate 60-100 bpm, 2*3 leads, 9**9**9**9"


@pytest.mark.parametrize(
    "score, problem",
    [
        ("'8/10'", "Score '8/10' is not a number"),
        ("8/10", "Score '8/10' is not a number"),
        ("'eight'", "Score 'eight' is not a number"),
        ("eight", "Score 'eight' is not a number"),
        ("'80'", "Score '80' is not a number"),
        ("NaN", "not a finite number"),
        ("Infinity", "not a finite number"),
        ("True", "Score True is not a number"),
        ("None", "has no Score"),
        ("150", "outside the prompt's range 0-100"),
        ("-5", "outside the prompt's range 0-100"),
        ("", "is not a number"),
        ("[80]", "Score is list"),
    ],
)
def test_a_score_that_is_not_a_number_in_range_is_invalid(score, problem):
    reply = f"{{'GroundedECGUnderstanding': [{{'Score': {score}, 'Explanation': 'x'}}]}}"
    found = parse_judgement(reply).criteria["GroundedECGUnderstanding"]
    assert found.scores is None and problem in found.problem, found.problem


def test_item_ranges_follow_the_prompt():
    reply = reply_json(
        {
            "DiagnosisAccuracy": [(3, "over +2")],
            "AnalysisCompleteness": [(2, "over +1")],
            "AnalysisRelevance": [(1.5, "within 0-2")],
            "LeadEvidenceValidity": [(2, "ok")],
        }
    )
    parsed = parse_judgement(reply).criteria
    assert "range 0-2" in parsed["DiagnosisAccuracy"].problem
    assert "range 0-1" in parsed["AnalysisCompleteness"].problem
    assert parsed["AnalysisRelevance"].scores == [1.5]
    assert parsed["LeadEvidenceValidity"].scores == [2.0]


def test_missing_items_lists_and_criteria_are_reported():
    reply = (
        '{"DiagnosisAccuracy": [{"Explanation": "no score"}], "AnalysisCompleteness": [], '
        '"GroundedECGUnderstanding": [], "EvidenceBasedReasoning": "80", '
        '"LeadEvidenceValidity": [2, 1]}'
    )
    parsed = parse_judgement(reply)
    c = parsed.criteria
    assert c["DiagnosisAccuracy"].problem == "item 1 has no Score"
    assert c["AnalysisCompleteness"].scores == []  # an empty itemised list earns nothing
    assert "no score" in c["GroundedECGUnderstanding"].problem
    assert "not a list" in c["EvidenceBasedReasoning"].problem
    assert "not {Score, Explanation}" in c["LeadEvidenceValidity"].problem
    assert c["RealisticDiagnosticProcess"].problem == "missing from the reply"
    assert parsed.failure is None and len(parsed.problems) == 6


def test_fences_prose_wrappers_aliases_and_single_objects_are_read():
    reply = (
        "Here is my evaluation of the clinician's report {as asked}:\n```json\n"
        '{"evaluation": {"Diagnosis Accuracy": [{"score": 1, "explanation": "ok"}], '
        '"ECGFeatureGrounding": {"Score": 80, "Explanation": "one object"}, '
        '"Evidence-BasedReasoning": [{" Score": 50, "Explanation": "spaces"}], '
        '"ClinicalDiagnosticFidelity": [{"Score": 100, "Explanation": "x",}],}}\n```\n'
        "Hope this helps."
    )
    s = scores_of(reply)
    assert s["DiagnosisAccuracy"] == [1.0]
    assert s["GroundedECGUnderstanding"] == [80.0]
    assert s["EvidenceBasedReasoning"] == [50.0]
    assert s["RealisticDiagnosticProcess"] == [100.0]


def test_a_name_given_twice_is_a_problem():
    reply = '{"GroundedECGUnderstanding": [{"Score": 80}], "ECGFeatureGrounding": [{"Score": 0}]}'
    assert "twice" in parse_judgement(reply).criteria["GroundedECGUnderstanding"].problem


def test_an_echoed_template_before_the_answer_is_passed_over():
    echo = (
        "{'DiagnosisAccuracy':[{'Score': , 'Explanation':}, ...], "
        "'GroundedECGUnderstanding':[{'Score': , 'Explanation':}, ...]}"
    )
    answer = reply_single(full(**{c: [1] if c not in HOLISTIC else [50] for c in CRITERIA}))
    parsed = parse_judgement(f"Format: {echo}\nMy answer: {answer}")
    assert parsed.failure is None and not parsed.problems
    assert parsed.criteria["GroundedECGUnderstanding"].scores == [50.0]


@pytest.mark.parametrize(
    "reply",
    [
        "",
        "I cannot evaluate this.",
        "{'DiagnosisAccuracy': [{'Score': 2, 'Explanation': 'cut off",
        "{" * 5000 + "}" * 5000,
        "[" * 50_000,
        "__import__('os').system('echo pwned')",
        "{'a': __import__('os').system('echo pwned')}",
        "{'GroundedECGUnderstanding': [{'Score': float('nan'), 'Explanation': 'x'}]}",
        "{'Score': 2, 'Explanation': 'an item without its criterion'}",
    ],
)
def test_an_unusable_reply_is_a_failure_without_raising(reply):
    parsed = parse_judgement(reply)
    assert parsed.failure == "no object holding the evaluation criteria in the reply"
    assert all(s.problem == "missing from the reply" for s in parsed.criteria.values())


def test_a_huge_reply_is_parsed_in_bounded_time():
    noise = "{'x': [" + "1, " * 30_000 + "]}" + "{" * 2000
    t0 = time.monotonic()
    parsed = parse_judgement(noise * 3 + reply_json(full(**{c: [1] for c in CRITERIA})))
    assert time.monotonic() - t0 < 10
    assert parsed.failure is not None or parsed.criteria  # no exception, whatever it found


# --------------------------------------------------------------------------- the published parser

# The published script's key pattern (compute_metrics.py line 56), applied to our fixtures to
# confirm the bugs we list; its digit rewrite (line 126) is only matched, never evaluated.
REFERENCE_PATTERN = re.compile(
    r"\"(?P<key>{})\":\s*(?P<content>\[.*?\])".format(
        "|".join(
            [
                "DiagnosisAccuracy",
                "AnalysisCompleteness",
                "AnalysisRelevance",
                "LeadEvidenceValidity",
                "GroundedECGUnderstanding",
                "ECGFeatureGrounding",
                "EvidenceBasedReasoning",
                "Evidence-BasedReasoning",
                "RealisticDiagnosticProcess",
                "ClinicalDiagnosticFidelity",
            ]
        )
    ),
    re.DOTALL,
)
REFERENCE_ARITHMETIC = re.compile(r"(\d+[\d\s\*\+\-\/]+\d+)")


def test_the_published_parser_misses_single_quotes_and_stops_at_a_bracket():
    single = reply_single(full(**{c: [1] if c not in HOLISTIC else [50] for c in CRITERIA}))
    assert not list(REFERENCE_PATTERN.finditer(single))  # every criterion lost
    bracket = reply_json({"DiagnosisAccuracy": [(2, "AF [irregular RR]"), (0, "missed LVH")]})
    (m,) = REFERENCE_PATTERN.finditer(bracket)
    assert "missed LVH" not in m.group("content")  # the second item is cut off
    assert scores_of(bracket)["DiagnosisAccuracy"] == [2.0, 0.0]  # ours keeps it
    assert REFERENCE_ARITHMETIC.findall("rate 60-100 bpm; 'Score': 8/10") == ["60-100", "8/10"]


# --------------------------------------------------------------------------- aggregation

# Fixture judge outputs, one per published bug case. Scores per criterion, in CRITERIA order:
# DiagnosisAccuracy, AnalysisCompleteness, AnalysisRelevance, LeadEvidenceValidity,
# GroundedECGUnderstanding, EvidenceBasedReasoning, RealisticDiagnosticProcess.
FIXTURE_A = reply_single(  # single quotes, as the prompt asks
    full(
        DiagnosisAccuracy=[2, 1],
        AnalysisCompleteness=[1, 1, 0, 1],
        AnalysisRelevance=[2, 2],
        LeadEvidenceValidity=[2, 1, 0],
        GroundedECGUnderstanding=[80],
        EvidenceBasedReasoning=[50],
        RealisticDiagnosticProcess=[100],
    )
)
FIXTURE_B = reply_json(  # a ']' in an explanation, digit arithmetic, code fence
    {
        "DiagnosisAccuracy": [(2, "AF confirmed [irregular RR]"), (0, "missed LVH")],
        "AnalysisCompleteness": [(1, "rhythm"), (0, "QT not given")],
        "AnalysisRelevance": [(1, "partly")],
        "LeadEvidenceValidity": [(2, "V1-V3 correct")],
        "GroundedECGUnderstanding": [(50, "rate 60-100 bpm, no amplitudes")],
        "EvidenceBasedReasoning": [(80, "clear")],
        "RealisticDiagnosticProcess": [(80, "structured")],
    }
)
FIXTURE_B = f"```json\n{FIXTURE_B}\n```"
FIXTURE_C = reply_single(  # a Score of 8/10 (the published script evals it to 0.8)
    {
        **full(
            DiagnosisAccuracy=[2],
            AnalysisCompleteness=[1, 1],
            AnalysisRelevance=[2],
            LeadEvidenceValidity=[1],
            GroundedECGUnderstanding=[0],
            EvidenceBasedReasoning=[80],
            RealisticDiagnosticProcess=[50],
        ),
        "GroundedECGUnderstanding": [("8/10", "x")],
    }
)
FIXTURE_D = reply_single(  # a Score of 'eight' (the published script crashes)
    {
        **full(
            DiagnosisAccuracy=[1],
            AnalysisCompleteness=[1],
            AnalysisRelevance=[1],
            LeadEvidenceValidity=[1],
            GroundedECGUnderstanding=[100],
            EvidenceBasedReasoning=[0],
            RealisticDiagnosticProcess=[100],
        ),
        "EvidenceBasedReasoning": [("eight", "x")],
    }
)
FIXTURE_E = reply_json(  # NaN in DiagnosisAccuracy (the published script keeps it)
    {
        **full(
            DiagnosisAccuracy=[2],
            AnalysisCompleteness=[0, 1],
            AnalysisRelevance=[0],
            LeadEvidenceValidity=[0],
            GroundedECGUnderstanding=[0],
            EvidenceBasedReasoning=[0],
            RealisticDiagnosticProcess=[0],
        ),
        "DiagnosisAccuracy": [(math.nan, "x"), (2, "y")],
    }
)
FIXTURE_F = "The generated interpretation is mostly accurate; I would give it 8/10."
FIXTURES = {"A": FIXTURE_A, "B": FIXTURE_B, "C": FIXTURE_C, "D": FIXTURE_D, "E": FIXTURE_E}
FIXTURES["F"] = FIXTURE_F


def responder_for(replies: dict[str, str]):
    """Answers the prompt of record X (its generated text says "RECORD-X") with replies[X];
    record G gets a server error."""

    def respond(request):
        prompt = request["messages"][0]["content"]
        name = re.search(r"RECORD-(\w+)", prompt).group(1)
        if name == "G":
            return 500, {"error": {"message": "judge overloaded"}}
        return replies[name]

    return respond


def rows_for(names, *, extra_pred=(), missing_pred=()):
    preds = [
        {"id": f"id-{n}", "response": f"<think>x</think>RECORD-{n}<answer>AF</answer>"}
        for n in names
        if n not in missing_pred
    ]
    preds += [{"id": f"id-{n}", "response": f"RECORD-{n}"} for n in extra_pred]
    refs = [
        {
            "id": f"id-{n}",
            "messages": [
                {"role": "user", "content": "<ecg>Interpret"},
                {"role": "assistant", "content": f"clinician text {n}"},
            ],
        }
        for n in names
    ]
    return preds, refs


def llm_judge(url, template_file, **kw) -> LLMJudge:
    kw.setdefault("max_retries", 0)
    kw.setdefault("timeout_s", 10.0)
    kw.setdefault("sleep", lambda s: None)
    return LLMJudge(url, "judge-model", template_path=template_file, **kw)


@pytest.fixture(scope="module")
def fixture_results(tmp_path_factory):
    template = tmp_path_factory.mktemp("t") / "prompt.txt"
    template.write_text(TEMPLATE, encoding="utf-8")
    names = ["A", "B", "C", "D", "E", "F", "G", "H"]
    # pred rows in another order than the references, one reference without a prediction
    # (H), one prediction without a reference (X)
    preds, refs = rows_for(names, extra_pred=["X"], missing_pred=["H"])
    preds.reverse()
    out = {}
    with FakeOpenAI(responder_for(FIXTURES)) as server:
        with llm_judge(server.url, template) as judge:
            out["ours"] = evaluate_grounding(preds, refs, judge)
            out["reference"] = evaluate_grounding(preds, refs, judge, reference_compatible=True)
    return out


def test_failures_are_counted_and_listed_never_dropped(fixture_results):
    result = fixture_results["ours"]
    assert result["counts"]["records"] == 7 and result["counts"]["parsed"] == 2
    assert result["counts"]["failed"] == 5
    reasons = {f["id"]: f["reason"] for f in result["failures"]}
    assert sorted(reasons) == ["id-C", "id-D", "id-E", "id-F", "id-G"]
    assert "'8/10' is not a number" in reasons["id-C"]
    assert "'eight' is not a number" in reasons["id-D"]
    assert "not a finite number" in reasons["id-E"]
    assert "no object holding the evaluation criteria" in reasons["id-F"]
    assert reasons["id-G"].startswith("endpoint: HTTP 500")
    assert result["pairing"]["missing_pred_ids"] == ["id-H"]
    assert result["pairing"]["missing_ref_ids"] == ["id-X"]
    assert [r["id"] for r in result["records"]] == [f"id-{n}" for n in "ABCDEFG"]


def test_our_scores_on_the_fixtures(fixture_results):
    # A: DA 100*3/(2*2) = 75, AC 100*3/4 = 75, AR 100*4/4 = 100, LEV 100*3/6 = 50,
    #    GEU 80, EBR 50, RDP 100, Average 230/3
    # B: DA 100*2/4 = 50, AC 100*1/2 = 50, AR 100*1/2 = 50, LEV 100*2/2 = 100,
    #    GEU 50, EBR 80, RDP 80, Average 70
    expected = {
        "DiagnosisAccuracy": 62.5,
        "AnalysisCompleteness": 62.5,
        "AnalysisRelevance": 75.0,
        "LeadEvidenceValidity": 75.0,
        "GroundedECGUnderstanding": 65.0,
        "EvidenceBasedReasoning": 65.0,
        "RealisticDiagnosticProcess": 90.0,
        "Average": (230 / 3 + 70) / 2,
    }
    overall = fixture_results["ours"]["overall"]
    for name, value in expected.items():
        assert overall[name]["mean"] == pytest.approx(value), name
        assert overall[name]["n"] == 2
    # the failures count as 0 in the lower bound: 7 records
    assert overall["DiagnosisAccuracy"]["mean_failures_as_zero"] == pytest.approx(125 / 7)
    assert overall["Average"]["mean_failures_as_zero"] == pytest.approx((230 / 3 + 70) / 7)
    # points: the prompt's own sums (A 3, B 2)
    assert overall["DiagnosisAccuracy"]["points_mean"] == pytest.approx(2.5)
    assert overall["LeadEvidenceValidity"]["points_mean"] == pytest.approx(2.5)
    record_b = fixture_results["ours"]["records"][1]
    assert record_b["criteria"]["DiagnosisAccuracy"]["score"] == pytest.approx(50.0)
    assert (
        "60-100 bpm"
        in (record_b["criteria"]["GroundedECGUnderstanding"]["items"][0]["explanation"])
    )


def test_reference_compatible_numbers_follow_the_published_formula(fixture_results):
    # DiagnosisAccuracy = 100 * #(score > 0) / n: A 100, B 50, C 100, D 100; E NaN (invalid)
    # others = sum of item scores; NaN where our validation rejected the criterion:
    #   AC: A 3, B 1, C 2, D 1, E 1        -> 8/5
    #   AR: A 4, B 1, C 2, D 1, E 0        -> 8/5
    #   LEV: A 3, B 2, C 1, D 1, E 0       -> 7/5
    #   GEU: A 80, B 50, C NaN, D 100, E 0 -> 230/4
    #   EBR: A 50, B 80, C 80, D NaN, E 0  -> 210/4
    #   RDP: A 100, B 80, C 50, D 100, E 0 -> 330/5
    # Average per record = NaN-skipping mean of the holistic values present:
    #   A 230/3, B 70, C 65, D 100, E 0 -> mean over 5
    expected = {
        "DiagnosisAccuracy": (87.5, 4),
        "AnalysisCompleteness": (1.6, 5),
        "AnalysisRelevance": (1.6, 5),
        "LeadEvidenceValidity": (1.4, 5),
        "GroundedECGUnderstanding": (57.5, 4),
        "EvidenceBasedReasoning": (52.5, 4),
        "RealisticDiagnosticProcess": (66.0, 5),
        "Average": ((230 / 3 + 70 + 65 + 100 + 0) / 5, 5),
    }
    result = fixture_results["reference"]
    assert result["mode"] == "reference_compatible"
    for name, (value, n) in expected.items():
        assert result["overall"][name]["mean"] == pytest.approx(value), name
        assert result["overall"][name]["n"] == n, name
    assert result["counts"]["failed"] == 5  # still counted and listed
    assert any(d.startswith("compute_metrics.py:56") for d in result["reference_differences"])


def _judgement(**scores: list[float]) -> Judgement:
    crit = {c: CriterionScores(c, items=[Item(float(s)) for s in scores[c]]) for c in scores}
    for c in CRITERIA:
        crit.setdefault(c, CriterionScores(c, problem="missing from the reply"))
    return Judgement("r", crit)


def test_record_formulas_by_hand():
    j = _judgement(
        DiagnosisAccuracy=[2, 1, 0],
        AnalysisCompleteness=[],
        GroundedECGUnderstanding=[80, 60],
    )
    ours = record_scores(j)
    assert ours["DiagnosisAccuracy"] == {"score": pytest.approx(50.0), "points": 3.0}
    assert ours["AnalysisCompleteness"] == {"score": 0.0, "points": 0.0}
    assert ours["GroundedECGUnderstanding"]["score"] == pytest.approx(70.0)  # a mean
    assert ours["AnalysisRelevance"]["score"] is None
    ref = record_scores(j, reference_compatible=True)
    assert ref["DiagnosisAccuracy"]["score"] == pytest.approx(200 / 3)
    assert ref["AnalysisCompleteness"]["score"] == 0.0  # empty list
    assert ref["GroundedECGUnderstanding"]["score"] == 140.0  # summed, over 100


def test_the_markdown_summary(fixture_results):
    md = to_markdown(fixture_results["ours"])
    assert "| DiagnosisAccuracy | 62.50 | 2 | 17.86 | 2.50 |" in md
    assert "7 judged, 2 parsed, 5 failed" in md and "`id-G`: endpoint: HTTP 500" in md
    md_ref = to_markdown(fixture_results["reference"])
    assert "| DiagnosisAccuracy | 87.50 | 4 |" in md_ref and "reference-compatible" in md_ref
    json.dumps(fixture_results["ours"])  # the result is JSON-ready
    json.dumps(fixture_results["reference"])


def test_limit_and_bad_limits(template_file):
    preds, refs = rows_for(["A", "B", "C"])
    with FakeOpenAI(responder_for(FIXTURES)) as server:
        judge = llm_judge(server.url, template_file)
        result = evaluate_grounding(preds, refs, judge, limit=1)
        assert server.completion_calls == 1 and result["counts"]["records"] == 1
        with pytest.raises(ECGR1Error, match="limit"):
            evaluate_grounding(preds, refs, judge, limit=-1)


# --------------------------------------------------------------------------- the LLM judge


def test_the_judge_request_is_the_rendered_prompt_at_temperature_zero(template_file):
    preds, refs = rows_for(["A"])
    with FakeOpenAI(responder_for(FIXTURES)) as server:
        judge = llm_judge(server.url, template_file, seed=3, api_key="sk-j", max_tokens=999)
        evaluate_grounding(preds, refs, judge)
        (request,) = server.requests
    body = request.json
    assert body["messages"] == [
        {
            "role": "user",
            "content": render_prompt(TEMPLATE, preds[0]["response"], "clinician text A"),
        }
    ]
    assert (body["temperature"], body["max_tokens"], body["seed"]) == (0.0, 999, 3)
    assert request.headers["authorization"] == "Bearer sk-j"
    assert "sk-j" not in json.dumps(judge.describe())


def test_the_api_key_comes_from_the_environment(template_file, monkeypatch):
    monkeypatch.setenv(JUDGE_API_KEY_ENV, "sk-env")
    judge = llm_judge("http://127.0.0.1:9/v1", template_file)
    assert judge.client.config.api_key == "sk-env"
    with pytest.raises(ECGR1Error, match="invalid judge configuration"):
        llm_judge("ftp://x", template_file)


def test_transient_judge_failures_are_retried(template_file):
    preds, refs = rows_for(["A"])
    sleeps: list[float] = []
    with FakeOpenAI(responder_for(FIXTURES), fail_first=2, fail_status=503) as server:
        judge = llm_judge(
            server.url, template_file, max_retries=3, backoff_s=0.5, sleep=sleeps.append
        )
        result = evaluate_grounding(preds, refs, judge)
    assert result["counts"] == {
        "records": 1,
        "parsed": 1,
        "failed": 0,
        "cached": 0,
        "requests": 3,
    }
    assert sleeps == [0.5, 1.0]


def test_a_judge_that_times_out_is_a_failure_of_that_record(template_file):
    def respond(request):
        if "RECORD-B" in request["messages"][0]["content"]:
            time.sleep(1.0)
        return FIXTURES["A"]

    preds, refs = rows_for(["A", "B"])
    with FakeOpenAI(respond) as server:
        judge = llm_judge(server.url, template_file, timeout_s=0.3, concurrency=2)
        result = evaluate_grounding(preds, refs, judge)
    assert result["counts"]["parsed"] == 1
    (failure,) = result["failures"]
    assert failure["id"] == "id-B" and "no complete answer within 0.3 s" in failure["reason"]


@pytest.mark.parametrize(
    "answer, expected",
    [
        ((200, "<html>bad gateway</html>"), "not UTF-8 JSON"),
        ((200, {"choices": [{"message": {"content": ["x"]}}]}), "content is list"),
        ("Sorry, I can't do that.", "no object holding the evaluation criteria"),
        (
            (200, {"choices": [{"message": {"content": "{'Diag"}, "finish_reason": "length"}]}),
            "cut at max_tokens",
        ),
    ],
)
def test_a_malformed_judge_reply_is_a_counted_failure(template_file, answer, expected):
    preds, refs = rows_for(["A"])
    with FakeOpenAI(lambda r: answer) as server:
        result = evaluate_grounding(preds, refs, llm_judge(server.url, template_file))
    assert result["counts"]["failed"] == 1 and expected in result["failures"][0]["reason"]
    assert result["overall"]["DiagnosisAccuracy"]["mean"] is None
    assert result["overall"]["DiagnosisAccuracy"]["mean_failures_as_zero"] == 0.0


def test_rows_that_cannot_be_judged_fail_without_a_request(template_file):
    preds, refs = rows_for(["A", "B"])
    preds[0]["error"] = "CUDA out of memory"
    refs[1]["messages"] = [{"role": "user", "content": "no assistant turn"}]
    with FakeOpenAI(responder_for(FIXTURES)) as server:
        result = evaluate_grounding(preds, refs, llm_judge(server.url, template_file))
        assert server.completion_calls == 0
    reasons = {f["id"]: f["reason"] for f in result["failures"]}
    assert "prediction row failed (CUDA out of memory)" in reasons["id-A"]
    assert "no interpretation text" in reasons["id-B"]


def test_a_rerun_is_answered_from_the_cache(template_file, tmp_path):
    names = ["A", "B", "C", "D", "E", "F"]
    preds, refs = rows_for(names)
    with FakeOpenAI(responder_for(FIXTURES)) as server:
        first = evaluate_grounding(
            preds, refs, llm_judge(server.url, template_file, cache_dir=tmp_path / "c")
        )
        assert server.completion_calls == 6
        second = evaluate_grounding(
            preds, refs, llm_judge(server.url, template_file, cache_dir=tmp_path / "c")
        )
        assert server.completion_calls == 6  # zero requests on the rerun
    assert second["counts"]["cached"] == 6 and second["counts"]["requests"] == 0
    assert second["overall"] == first["overall"]
    assert second["failures"] == first["failures"]  # an unparseable answer is cached too


def test_an_interrupted_run_resumes_with_only_the_rest(template_file, tmp_path):
    names = [f"N{i}" for i in range(8)]
    replies = {n: FIXTURE_A for n in names}
    preds, refs = rows_for(names)
    state = {"calls": 0, "down": True}

    def dies_after_three(request):
        state["calls"] += 1
        if state["down"] and state["calls"] > 3:
            return 500, {"error": {"message": "the server went down"}}
        return responder_for(replies)(request)

    def record_of(request) -> str:
        return re.search(r"RECORD-(\w+)", request.json["messages"][0]["content"]).group(1)

    cache = tmp_path / "cache"
    with FakeOpenAI(dies_after_three) as server:
        first = evaluate_grounding(
            preds, refs, llm_judge(server.url, template_file, cache_dir=cache, concurrency=1)
        )
        assert (first["counts"]["parsed"], first["counts"]["failed"]) == (3, 5)
        judged = {r["id"][3:] for r in first["records"] if r["status"] == "ok"}
        before = len(server.requests)
        state["down"] = False  # the endpoint is back
        second = evaluate_grounding(
            preds, refs, llm_judge(server.url, template_file, cache_dir=cache, concurrency=3)
        )
        asked = sorted(record_of(r) for r in server.requests[before:])
        third = evaluate_grounding(
            preds, refs, llm_judge(server.url, template_file, cache_dir=cache)
        )
        assert len(server.requests) == before + 5  # the third run asks nothing
    assert asked == sorted(set(names) - judged)  # only the records not judged before
    assert second["counts"] == {
        "records": 8,
        "parsed": 8,
        "failed": 0,
        "cached": 3,
        "requests": 5,
    }
    assert third["counts"]["cached"] == 8 and third["overall"] == second["overall"]


def test_progress_is_reported_for_every_pair(template_file):
    preds, refs = rows_for(["A", "B", "C"])
    preds[0]["error"] = "failed"
    seen = []
    with FakeOpenAI(responder_for(FIXTURES)) as server:
        evaluate_grounding(
            preds,
            refs,
            llm_judge(server.url, template_file),
            progress=lambda d, t: seen.append((d, t)),
        )
    assert seen[-1] == (3, 3) and len(seen) == 2


def test_the_module_examples_run():
    import doctest

    import ecgr1.evaluate.grounding as grounding
    import ecgr1.evaluate.judge as judge

    for module in (judge, grounding):
        assert doctest.testmod(module).failed == 0


# --------------------------------------------------------------------------- the protocol judge

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import _verify_texts as vt  # noqa: E402

LUDB_RECORDS = ("1", "7", "11")
CPSC_RECORDS = ("A0001", "A0003", "A0005")


def perturbed_copies(text: str, meas, seed: str) -> list:
    """The verifier benchmark's single-error copies of a protocol report (verify_bench.py)."""
    rng = random.Random(seed)
    perts = vt.numeric_perturbations(text, rng, max_n=6)
    perts += vt.negation_perturbations(text, meas, rng)
    perts += vt.invention_perturbations(text, meas, rng, max_n=2)
    perts += vt.lead_swap_perturbations(text, meas, rng)
    perts += vt.rhythm_perturbations(text, meas, rng)
    return perts


def claim_keys(credits) -> list:
    return sorted(repr(c.key) for c in credits)


@pytest.fixture(scope="module")
def real_records(request) -> list[tuple[str, str]]:
    """(name, path) of three LUDB and three CPSC 2018 records."""
    ludb = request.getfixturevalue("ludb_dir")
    cpsc = request.getfixturevalue("cpsc2018_dir")
    return [(f"ludb_{r}", str(ludb / "data" / r)) for r in LUDB_RECORDS] + [
        (f"cpsc_{r}", str(cpsc / r)) for r in CPSC_RECORDS
    ]


@pytest.mark.shared_data
def test_the_protocol_judge_ranks_each_report_above_its_perturbed_copies(real_records):
    judge = ProtocolJudge(ecg_root="/")
    ranked, invisible, kinds = 0, [], set()
    for name, path in real_records:
        interp, _ = judge.interpretation(path)
        text = write_report(interp)
        base_credits = judge.credits(text, interp)
        base = record_scores(judge.judge_text(text, interp, credits=base_credits))
        assert all(base[c]["score"] is not None for c in SCORED), name
        for p in perturbed_copies(text, interp.measurements, f"0-{name}"):
            kinds.add(p.kind)
            credits = judge.credits(p.text, interp)
            got = record_scores(judge.judge_text(p.text, interp, credits=credits))
            if claim_keys(credits) == claim_keys(base_credits):
                # the claim reader sees the same claims (a "no" that still governs the list
                # item it was removed from, a value outside the readable range): equal scores
                invisible.append((name, p.kind, p.new))
                assert all(got[c]["score"] == base[c]["score"] for c in SCORED)
                continue
            worse = {c: got[c]["score"] < base[c]["score"] for c in SCORED}
            assert all(worse.values()), (name, p.kind, p.original, p.new, worse)
            ranked += 1
    assert kinds == {"numeric", "negation", "invention", "lead_swap", "wrong_rhythm"}
    assert ranked >= 50
    assert len(invisible) <= ranked // 8, invisible


@pytest.mark.shared_data
def test_the_protocol_judge_end_to_end_on_rows(real_records, shared_data):
    judge = ProtocolJudge(ecg_root=shared_data)
    preds, refs = [], []
    for name, path in real_records[:3]:
        rel = str(Path(path).relative_to(shared_data))
        interp, _ = judge.interpretation(rel)
        report = write_report(interp)
        obj = {"ecg": [rel]}
        refs.append(
            {
                "id": name,
                "messages": [{"role": "assistant", "content": report}],
                "objects": obj,
            }
        )
        preds.append({"id": name, "response": report, "objects": obj})
    refs.append({"id": "no_ecg", "messages": [{"role": "assistant", "content": "x"}]})
    preds.append({"id": "no_ecg", "response": "Sinus rhythm."})
    refs.append({"id": "escape", "objects": {"ecg": ["../../etc/passwd"]}})
    preds.append({"id": "escape", "response": "Sinus rhythm."})
    result = evaluate_grounding(preds, refs, judge)
    assert result["counts"]["parsed"] == 3 and result["counts"]["failed"] == 2
    reasons = {f["id"]: f["reason"] for f in result["failures"]}
    assert "no ECG" in reasons["no_ecg"] and "outside the ECG root" in reasons["escape"]
    overall = result["overall"]
    for c in SCORED:
        assert overall[c]["available"] and overall[c]["mean"] > 85, (c, overall[c])
    for c in set(CRITERIA) - set(SCORED):
        assert not overall[c]["available"]
    assert not overall["Average"]["available"]
    md = to_markdown(result)
    assert "| AnalysisRelevance | unavailable |" in md


def test_the_protocol_judge_on_a_simulated_record():
    from ecgr1.simulate import simulate
    from ecgr1.verify.api import interpretation_for

    interp, _ = interpretation_for(simulate("normal", seed=0).record)
    judge = ProtocolJudge()
    report = write_report(interp)
    good = record_scores(judge.judge_text(report, interp))
    vague = judge.judge_text("Sinus rhythm. <answer>sinus rhythm</answer>", interp)
    empty = record_scores(judge.judge_text("", interp))
    wrong = judge.judge_text(
        "Atrial fibrillation, QRS 160 ms. <answer>atrial fibrillation</answer>", interp
    )
    assert good["GroundedECGUnderstanding"]["score"] > 90
    v = record_scores(vague)
    assert v["GroundedECGUnderstanding"]["score"] == 0.0  # no value cited
    assert v["AnalysisCompleteness"]["score"] == pytest.approx(10.0)  # rhythm only
    assert v["DiagnosisAccuracy"]["score"] > 0  # "sinus rhythm" is a protocol label
    assert vague.criteria["LeadEvidenceValidity"].unavailable  # no lead-bound statement
    assert empty["DiagnosisAccuracy"]["score"] == 0.0  # every truth label missed
    w = record_scores(wrong)
    assert w["DiagnosisAccuracy"]["score"] == 0.0  # refuted by the record
    assert w["GroundedECGUnderstanding"]["score"] == 0.0
    assert "atrial fibrillation" in " ".join(wrong.details["credit_zero"]).lower()
    for c in set(CRITERIA) - set(SCORED):
        assert vague.criteria[c].unavailable


def test_the_protocol_judge_uses_the_reference_labels():
    from ecgr1.simulate import simulate
    from ecgr1.verify.api import interpretation_for

    interp, _ = interpretation_for(simulate("rbbb", seed=0).record)
    judge = ProtocolJudge()
    report = write_report(interp)
    as_truth = judge.judge_text(report, interp, truth_labels=["RBBB"])
    items = as_truth.criteria["DiagnosisAccuracy"].items
    assert any(i.score > 1 for i in items)  # complete RBBB matches the dataset's "RBBB"
    unrelated = judge.judge_text(report, interp, truth_labels=["left ventricular hypertrophy"])
    scores = [i.score for i in unrelated.criteria["DiagnosisAccuracy"].items]
    assert scores and all(s == 0 for s in scores)
    # a label the reference names but the record refutes earns nothing
    refuted = judge.judge_text(
        "QRS 150 ms. <answer>complete left bundle branch block; complete right bundle branch "
        "block</answer>",
        interp,
        truth_labels=["LBBB", "RBBB"],
    )
    items = refuted.criteria["DiagnosisAccuracy"].items
    assert [i.score for i in items][0] == 0.0 and "refutes" in items[0].explanation
    assert items[1].score > 1.0


def test_a_protocol_judgement_of_a_pair_never_raises(tmp_path):
    judge = ProtocolJudge(ecg_root=tmp_path)
    pair = Pair("x", {"response": "QRS 90 ms"}, {"objects": {"ecg": ["missing_record"]}})
    (jd,) = judge.judge_many([pair])
    assert not jd.ok and "cannot be read" in jd.failure
    assert judge.describe()["scored"] == list(SCORED)


def test_unscorable_criteria_are_not_failures_in_the_lower_bound() -> None:
    from ecgr1.evaluate.grounding import CRITERIA, _overall_ours

    def record(status, score):
        crit = {c: {"score": score, "points": None} for c in CRITERIA}
        return {"status": status, "criteria": crit, "average": None}

    records = [record("ok", 80.0), record("ok", None), record("failed", None)]
    available = {c: True for c in CRITERIA}
    out = _overall_ours(records, available)["GroundedECGUnderstanding"]
    # one scored record (80), one record the judge cannot score, one failure (counts as 0)
    assert out["mean"] == 80.0 and out["n"] == 1
    assert out["mean_failures_as_zero"] == 40.0
