"""The label table (ecgr1.corpus.labels, labels.yaml): every source label maps, the table agrees
with the published mapping files and with the protocol's criteria table, and it is validated."""

from __future__ import annotations

import csv
import doctest
import re
from pathlib import Path

import pytest
import yaml

import ecgr1
import ecgr1.corpus.labels as labels
from ecgr1.corpus.labels import (
    DEFAULT_LABEL_TABLE,
    PTBXL_SUPERCLASSES,
    candidate_names,
    challenge_group,
    concepts_of_statements,
    label_table_markdown,
    load_label_table,
    map_labels,
    mimic_report_phrases,
    primary_rhythm,
    ptbxl_superclasses,
    snomed_codes,
    vocabulary_concepts,
)
from ecgr1.errors import InvalidInputError
from ecgr1.protocol.table import load_table

# ---------------------------------------------------------------------------- shared data


def _challenge_dir(shared_data: Path) -> Path:
    folder = shared_data / "formats" / "physionet_challenge2021_evaluation"
    if not (folder / "dx_mapping_scored.csv").is_file():
        pytest.skip(f"Challenge 2021 SNOMED CT mapping not in the shared data ({folder})")
    return folder


def _challenge_rows(shared_data: Path) -> list[dict[str, str]]:
    folder = _challenge_dir(shared_data)
    rows = []
    for name in ("dx_mapping_scored.csv", "dx_mapping_unscored.csv"):
        with (folder / name).open(newline="", encoding="utf-8") as fh:
            for row in csv.DictReader(fh):
                rows.append({**row, "scored": str(name == "dx_mapping_scored.csv")})
    return rows


def test_every_challenge_code_maps_and_matches_the_csv(shared_data) -> None:
    rows = _challenge_rows(shared_data)
    assert len(rows) > 120
    table = load_label_table()
    codes = [r["SNOMEDCTCode"].strip() for r in rows]
    mapping = map_labels("snomed", codes)
    assert mapping.unmapped == []
    assert [m.source_label for m in mapping.mapped] == codes
    # the table's copy of the Challenge facts is the CSVs' (abbreviation, Dx, scored)
    for r in rows:
        code = r["SNOMEDCTCode"].strip()
        assert table.challenge_codes[code] == (
            r["Abbreviation"].strip(),
            r["Dx"].strip(),
            r["scored"] == "True",
        ), code
    assert set(table.challenge_codes) == set(codes)


def test_challenge_same_diagnosis_notes_share_a_concept(shared_data) -> None:
    pairs = set()
    for r in _challenge_rows(shared_data):
        note = r.get("Notes") or ""
        if "same diagnosis" in note:
            pairs.add(tuple(sorted(re.findall(r"\b(\d{6,})\b", note))))
    assert len(pairs) == 4
    for a, b in pairs:
        ma, mb = map_labels("snomed", [a, b]).mapped
        assert ma.concept == mb.concept, (a, b)
        assert challenge_group(a) == challenge_group(b) is not None


def test_challenge_scored_classes_are_weights_csv_header(shared_data) -> None:
    folder = _challenge_dir(shared_data)
    with (folder / "weights.csv").open(newline="", encoding="utf-8") as fh:
        header = next(csv.reader(fh))[1:]
    assert list(load_label_table().challenge_classes) == [h.strip() for h in header]
    for cls in header:
        for code in cls.split("|"):
            assert challenge_group(code) == cls
    assert challenge_group("164884008") is None  # VEB is unscored
    assert challenge_group("999") is None


def test_codes_in_the_cinc_record_headers_map(shared_data) -> None:
    headers = sorted((shared_data / "extra").glob("cinc_*/*.hea"))
    if not headers:
        pytest.skip("no Challenge 2020/2021 records in the shared data")
    for hea in headers:
        for line in hea.read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("#Dx:"):
                codes = [c for c in line.split(":", 1)[1].split(",") if c.strip()]
                assert map_labels("snomed", codes).unmapped == [], hea.name


def _scp_csvs(shared_data: Path) -> list[Path]:
    paths = [
        shared_data / "formats" / "ptbxl" / "scp_statements.csv",
        shared_data / "extra" / "ptbxl" / "scp_statements.csv",
    ]
    found = [p for p in paths if p.is_file()]
    if not found:
        pytest.skip("PTB-XL scp_statements.csv not in the shared data")
    return found


def test_every_scp_statement_maps_with_its_superclass(shared_data) -> None:
    for path in _scp_csvs(shared_data):
        with path.open(newline="", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
        assert len(rows) == 71
        codes = [r[""].strip() for r in rows]
        mapping = map_labels("scp", codes)
        assert mapping.unmapped == [] and len(mapping.mapped) == 71
        diagnostic = 0
        for r, code in zip(rows, codes):
            cls = (r["diagnostic_class"] or "").strip()
            assert ptbxl_superclasses([code]) == ([cls] if cls else []), code
            diagnostic += bool(cls)
        assert diagnostic == 44


def test_ptbxl_superclasses_of_database_rows(shared_data) -> None:
    import ast

    path = shared_data / "extra" / "ptbxl" / "ptbxl_database.csv"
    scp = _scp_csvs(shared_data)[0]
    if not path.is_file():
        pytest.skip(f"{path} not found")
    with scp.open(newline="", encoding="utf-8") as fh:
        classes = {r[""]: r["diagnostic_class"] for r in csv.DictReader(fh)}
    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert rows
    for r in rows:
        scp_codes = ast.literal_eval(r["scp_codes"])
        expected = {classes[c] for c in scp_codes if classes.get(c)}
        got = ptbxl_superclasses(scp_codes)
        assert set(got) == expected and got == [s for s in PTBXL_SUPERCLASSES if s in got]


def test_every_ludb_item_maps(ludb_dir) -> None:
    import pandas as pd

    table = pd.read_csv(ludb_dir / "ludb.csv", dtype=str).fillna("")
    items = set()
    for col in table.columns:
        if col in ("ID", "Sex", "Age"):
            continue
        for cell in table[col]:
            items |= {x.strip() for x in cell.split("\n") if x.strip()}
    assert len(items) > 50
    mapping = map_labels("ludb", sorted(items))
    assert mapping.unmapped == []
    # case-insensitive exact match after stripping
    assert map_labels("ludb", ["  SINUS RHYTHM "]).names == ["sinus rhythm"]
    assert map_labels("ludb", ["Sinus rhythm, probably"]).unmapped == ["Sinus rhythm, probably"]


def test_mimic_sample_row(shared_data) -> None:
    path = shared_data / "formats" / "mimic-iv-ecg" / "machine_measurements.csv"
    if not path.is_file():
        pytest.skip(f"{path} not found")
    with path.open(newline="", encoding="utf-8") as fh:
        row = next(csv.DictReader(fh))
    phrases = mimic_report_phrases(row)
    assert phrases == ["Sinus rhythm", "Possible right atrial abnormality", "Borderline ECG"]
    m = map_labels("mimic", phrases)
    assert [(x.concept, x.hedged) for x in m.mapped] == [
        ("sinus_rhythm", False),
        ("right_atrial_abnormality", True),
    ]
    assert m.ignored == ["Borderline ECG"] and m.unmapped == []
    assert m.names == ["sinus rhythm", "right atrial abnormality"]


# ---------------------------------------------------------------------------- MIMIC phrases


@pytest.mark.parametrize(
    ("phrase", "expected"),
    [
        ("Sinus rhythm", [("sinus_rhythm", False)]),
        ("Possible right atrial abnormality", [("right_atrial_abnormality", True)]),
        (
            "Atrial fibrillation with rapid ventricular response",
            [("rapid_atrial_fibrillation", False)],
        ),
        ("Left axis deviation", [("left_axis_deviation", False)]),
        ("Inferior infarct - age undetermined", [("inferior_mi", False)]),
        ("Sinus tachycardia", [("sinus_tachycardia", False)]),
        ("Left ventricular hypertrophy", [("lvh", False)]),
        ("Right bundle branch block", [("complete_rbbb", False)]),
        ("Incomplete right bundle branch block", [("incomplete_rbbb", False)]),
        ("Left anterior fascicular block", [("lafb", False)]),
        ("Nonspecific T wave abnormalities", [("nonspecific_t_abnormality", False)]),
        ("Prolonged QT interval", [("long_qt", False)]),
        ("Low QRS voltages in limb leads", [("low_qrs_voltage", False)]),
        (
            "Lateral ST-T changes are probably due to ventricular hypertrophy",
            [("st_t_changes", False), ("ventricular_hypertrophy", True)],
        ),
        ("Pacemaker rhythm - no further analysis", [("paced_rhythm", False)]),
        ("Premature ventricular contractions", [("premature_ventricular_contractions", False)]),
        ("Atrial premature complex", [("premature_atrial_contractions", False)]),
        ("1st degree A-V block", [("first_degree_av_block", False)]),
        (
            "Poor R wave progression - probable old anterior infarct",
            [("poor_r_progression", False), ("anterior_mi", True)],
        ),
        ("Anterior infarct - age undetermined", [("anterior_mi", False)]),
        ("Septal infarct - age undetermined", [("septal_mi", False)]),
        (
            "ST elevation consider acute infarct",
            [("st_elevation", False), ("acute_myocardial_infarction", True)],
        ),
        ("Summary: normal ECG", [("normal_ecg", False)]),
        (
            "Sinus rhythm with 1st degree A-V block",
            [("sinus_rhythm", False), ("first_degree_av_block", False)],
        ),
        ("Cannot rule out Anterior infarct , age undetermined", [("anterior_mi", True)]),
        ("Atrial flutter with 2:1 A-V conduction", [("atrial_flutter", False)]),
        ("Inferior infarct, possibly acute", [("inferior_mi", False)]),
    ],
)
def test_mimic_phrases(phrase, expected) -> None:
    m = map_labels("mimic", [phrase])
    assert [(x.concept, x.hedged) for x in m.mapped] == expected
    assert m.unmapped == [] and m.ignored == []
    assert all(x.source_label == phrase for x in m.mapped)


@pytest.mark.parametrize(
    "phrase",
    [
        "Abnormal ECG",
        "Borderline ECG",
        "--- Pediatric criteria used ---",
        "Warning: Data quality may affect interpretation",
        "Undetermined rhythm",
        "Otherwise normal ECG",
        "Artifact in lead(s) I,II,aVF",
        "When compared with ECG of 12-JAN-2180 no significant change",
    ],
)
def test_mimic_summary_and_technical_phrases_are_ignored(phrase) -> None:
    m = map_labels("mimic", [phrase])
    assert m.ignored == [phrase] and m.mapped == [] and m.unmapped == []


def test_mimic_unknown_phrases_are_unmapped_and_counted() -> None:
    m = map_labels("mimic", ["Pulmonary disease pattern", "", None, float("nan"), "Sinus rhythm"])
    assert m.unmapped == ["Pulmonary disease pattern"]
    assert m.names == ["sinus rhythm"]
    # a phrase only partly explained maps to nothing (the rest may reverse it) and is counted
    m = map_labels("mimic", ["Sinus rhythm with bifascicular block"])
    assert m.names == [] and m.unmapped == ["Sinus rhythm with bifascicular block"]
    for denial in (
        "No ST elevation",
        "Atrial fibrillation no longer present",
        "Q waves not present",
    ):
        m = map_labels("mimic", [denial])
        assert m.mapped == [] and m.unmapped == [denial], denial
    # words are anchored: "abnormal ECG" is not "normal ECG"
    assert map_labels("mimic", ["Abnormal ECG"]).names == []


def test_mimic_hedge_words_set_the_flag() -> None:
    for hedge in ("Possible", "Probable", "Consider", "Cannot rule out", "Borderline"):
        m = map_labels("mimic", [f"{hedge} left ventricular hypertrophy"])
        assert [(x.concept, x.hedged) for x in m.mapped] == [("lvh", True)], hedge
    m = map_labels("mimic", ["Left ventricular hypertrophy; possible left atrial enlargement"])
    assert [(x.concept, x.hedged) for x in m.mapped] == [
        ("lvh", False),
        ("left_atrial_abnormality", True),
    ]


# ---------------------------------------------------------------------------- vocabularies


def test_cpsc_vocabulary() -> None:
    assert candidate_names("cpsc") == [
        "normal ECG",
        "atrial fibrillation",
        "first degree AV block",
        "complete left bundle branch block",
        "right bundle branch block",
        "premature atrial contractions",
        "premature ventricular contractions",
        "ST depression",
        "ST elevation",
    ]
    m = map_labels("cpsc", ["AF", "RBBB", "i-avb", "XYZ"])
    assert m.concepts == [
        "atrial_fibrillation",
        "right_bundle_branch_block",
        "first_degree_av_block",
    ]
    assert m.unmapped == ["XYZ"]
    assert snomed_codes("cpsc", "Normal") == ("426783006",)  # the Challenge's NSR
    assert snomed_codes("cpsc", "PVC") == ("164884008",)  # the Challenge's VEB


def test_cpsc_normal_rule_and_narrower_blocks() -> None:
    def pred(*ids: str) -> set[str]:
        return concepts_of_statements(ids, vocabulary="cpsc")

    assert pred("atrial_fibrillation", "premature_ventricular_contractions") == {
        "atrial_fibrillation",
        "premature_ventricular_contractions",
    }
    assert pred("atrial_flutter") == set()
    assert pred("sinus_rhythm", "incomplete_rbbb") == {"right_bundle_branch_block"}
    assert pred("sinus_rhythm", "complete_rbbb") == {"right_bundle_branch_block"}
    assert pred("sinus_bradycardia") == {"normal_ecg"}
    assert pred("sinus_tachycardia", "left_axis_deviation") == {"normal_ecg"}  # not a CPSC class
    assert pred("sinus_rhythm", "std_lateral") == {"st_depression"}
    assert pred("sinus_rhythm", "ste_avr") == {"st_elevation"}
    assert pred("ectopic_atrial_rhythm") == set()
    # without a vocabulary "normal ECG" is the protocol's own statement
    assert "normal_ecg" not in concepts_of_statements({"sinus_bradycardia"})
    assert "normal_ecg" in concepts_of_statements({"sinus_rhythm", "normal_ecg"})


def test_code15_and_snomed_vocabularies() -> None:
    assert candidate_names("code15") == [
        "first degree AV block",
        "complete right bundle branch block",
        "complete left bundle branch block",
        "sinus bradycardia",
        "atrial fibrillation",
        "sinus tachycardia",
        "normal ECG",
    ]
    assert map_labels("code15", ["ST", "1dAVb"]).concepts == [
        "sinus_tachycardia",
        "first_degree_av_block",
    ]
    assert vocabulary_concepts("code15") == {
        "first_degree_av_block",
        "complete_rbbb",
        "complete_lbbb",
        "sinus_bradycardia",
        "atrial_fibrillation",
        "sinus_tachycardia",
        "normal_ecg",
    }
    assert len(candidate_names("snomed")) > 100
    assert map_labels("snomed", [59118001]).concepts == ["complete_rbbb"]


def test_equivalent_codes_share_a_concept() -> None:
    for pair in (
        ("713427006", "59118001"),
        ("733534002", "164909002"),
        ("284470004", "63593006"),
        ("427172004", "17338001"),
    ):
        m = map_labels("snomed", pair)
        assert len(set(m.concepts)) == 1 and len(m.names) == 1, pair
        assert challenge_group(pair[0]) == challenge_group(pair[1]) == "|".join(pair)


def test_unknown_vocabulary_is_an_input_error() -> None:
    with pytest.raises(InvalidInputError, match="unknown label vocabulary"):
        map_labels("icd10", ["I48"])
    with pytest.raises(InvalidInputError):
        candidate_names("icd10")
    with pytest.raises(InvalidInputError, match="unknown PTB-XL SCP statement"):
        ptbxl_superclasses(["NOPE"])


def test_primary_rhythm_order() -> None:
    assert primary_rhythm({"sinus_rhythm", "sinus_bradycardia"}) == "sinus_bradycardia"
    assert primary_rhythm({"sinus_rhythm", "atrial_flutter", "atrial_fibrillation"}) == (
        "atrial_flutter"
    )
    assert primary_rhythm({"lvh"}) is None


# ---------------------------------------------------------------------------- protocol drift


def test_statements_exist_and_names_follow_the_protocol_labels() -> None:
    criteria = load_table()
    table = load_label_table()
    for c in table.concepts.values():
        missing = c.statements - set(criteria.statements)
        assert not missing, f"{c.id}: statements {sorted(missing)} not in criteria.yaml"
        if len(c.statements) == 1:
            (sid,) = c.statements
            assert c.name == criteria.statements[sid].label, c.id


def test_every_coded_protocol_statement_reaches_a_concept_with_its_codes() -> None:
    table = load_label_table()
    for sid, spec in load_table().statements.items():
        if not spec.code:
            continue
        concepts = concepts_of_statements({sid})
        assert concepts, f"statement {sid} supports no concept"
        codes = {code for cid in concepts for code in table.concepts[cid].codes}
        for code in [spec.code, *spec.equivalent_codes]:
            assert code in codes, f"{sid}: code {code} not among its concepts' codes"


@pytest.mark.parametrize(
    ("pattern", "concept"),
    [
        ("rbbb", "complete_rbbb"),
        ("lbbb", "complete_lbbb"),
        ("atrial_fibrillation", "atrial_fibrillation"),
        ("sinus_bradycardia", "sinus_bradycardia"),
    ],
)
def test_concepts_of_real_interpretations(pattern, concept) -> None:
    res = ecgr1.interpret_record(ecgr1.simulate(pattern, seconds=10, seed=0).record)
    ids = {s.id for s in res.interpretation.statements}
    assert concept in concepts_of_statements(ids)


# ---------------------------------------------------------------------------- table validation


def _broken(tmp_path: Path, edit) -> Path:
    data = yaml.safe_load(DEFAULT_LABEL_TABLE.read_text(encoding="utf-8"))
    edit(data)
    path = tmp_path / "labels.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def _concept(data: dict, cid: str) -> dict:
    return next(c for c in data["concepts"] if c["id"] == cid)


def test_a_dropped_equivalence_is_rejected(tmp_path) -> None:
    def edit(data):
        _concept(data, "complete_rbbb")["codes"].remove("59118001")
        data["concepts"].append({"id": "rbbb_code", "name": "rbbb code", "codes": ["59118001"]})

    with pytest.raises(InvalidInputError, match="713427006\\|59118001 is scored as one diagnosis"):
        load_label_table(_broken(tmp_path, edit))


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: _concept(d, "lvh")["codes"].clear(), "164873001 .* belongs to no concept"),
        (lambda d: _concept(d, "lvh").update(broader=["nope"]), "broader concept 'nope'"),
        (lambda d: _concept(d, "lvh").update(name="sinus rhythm"), "already used"),
        (lambda d: _concept(d, "lvh").update(statment=["lvh"]), "unknown key"),
        (
            lambda d: d["vocabularies"]["cpsc"]["labels"].update(AF="atrial_fib"),
            "concept 'atrial_fib' is not defined",
        ),
        (
            lambda d: d["mimic"]["patterns"].insert(0, {"match": "(unclosed", "concept": "lvh"}),
            "bad regular expression",
        ),
        (
            lambda d: _concept(d, "bradycardia").update(broader=["sinus_bradycardia"]),
            "cycle",
        ),
    ],
)
def test_table_problems_are_reported(tmp_path, edit, message) -> None:
    with pytest.raises(InvalidInputError, match=message):
        load_label_table(_broken(tmp_path, edit))


def test_markdown_lists_every_concept_and_pattern() -> None:
    table = load_label_table()
    text = label_table_markdown()
    for cid in table.concepts:
        assert f"| {cid} |" in text
    assert text.count("\n| ") > len(table.concepts) + 71 + len(table.mimic.patterns)


def test_docstring_examples() -> None:
    result = doctest.testmod(labels, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 10 and result.failed == 0


def test_translate_labels_into_another_vocabulary() -> None:
    from ecgr1.corpus.labels import translate_labels

    # the Challenge codes CPSC "Normal" as sinus rhythm and "PVC" as ventricular ectopics
    assert translate_labels("snomed", ["426783006"], "cpsc") == ["normal ECG"]
    assert translate_labels("snomed", ["164884008"], "cpsc") == [
        "premature ventricular contractions"
    ]
    # a narrower concept counts for the broader class; "Normal" only without another class
    assert translate_labels("snomed", ["426783006", "713427006"], "cpsc") == [
        "right bundle branch block"
    ]
    assert translate_labels("cpsc", ["AF", "I-AVB"], "cpsc") == [
        "atrial fibrillation", "first degree AV block"
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("labels", "supported", "extra"),
    [
        (["Sinus bradycardia"], [], []),  # the source's finding, at a borderline rate
        (["Sinus rhythm"], ["sinus rhythm"], []),
        (["Left atrial hypertrophy"], [], ["sinus rhythm"]),
    ],
)
def test_a_rhythm_made_from_a_borderline_rate_is_not_an_extra_finding(
    labels, supported, extra
) -> None:
    # A sinus bradycardia at 57 bpm is borderline, so "sinus rhythm" is stated from it
    # (criteria row if_borderline). Beside a source label of sinus bradycardia that is the
    # same finding's rhythm, not something the source left out.
    from protocol_builders import normal_result

    from ecgr1.corpus.text import agreement_of
    from ecgr1.protocol import interpret

    m = normal_result()
    m.global_.heart_rate_bpm = 57.0
    interp = interpret(m)
    assert interp.statement("sinus_rhythm").reduced_from == "sinus_bradycardia"
    got = agreement_of(interp, map_labels("ludb", labels), "ludb")
    assert got.supported == supported
    assert [x for x in got.extra if x == "sinus rhythm"] == extra
