"""Every clinical threshold lives in the criteria table: moving one across the measured value
changes the statement, through the whole pipeline (``interpret_record`` measures the simulated
record again with the table's numbers; nothing here builds a measurement result by hand)."""

from __future__ import annotations

import copy
from functools import cache, lru_cache

import pytest
import yaml

import ecgr1
from ecgr1.protocol.table import DEFAULT_TABLE, CriteriaTable, parse_table
from ecgr1.simulate import simulate


@lru_cache(maxsize=1)
def _packaged() -> dict:
    return yaml.safe_load(DEFAULT_TABLE.read_text(encoding="utf-8"))


def table_with(criterion_id: str, **changes) -> CriteriaTable:
    """The packaged table with one criterion's fields replaced."""
    data = copy.deepcopy(_packaged())
    rows = [row for row in data["criteria"] if row["id"] == criterion_id]
    assert rows, f"no criterion {criterion_id} in the packaged table"
    rows[0].update(changes)
    return parse_table(data, "moved")


@cache
def _record(pattern: str):
    return simulate(pattern, seconds=10, seed=0).record


def statements(pattern: str, table: CriteriaTable | None = None) -> set[str]:
    out = ecgr1.interpret_record(_record(pattern), table=table)
    return {s.id for s in out.interpretation.statements}


def measured(pattern: str, table: CriteriaTable | None = None):
    return ecgr1.interpret_record(_record(pattern), table=table).measurements


def test_flutter_rate_range_decides_flutter():
    rate = measured("atrial_flutter").global_.atrial_rate_bpm
    assert 240 <= rate <= 340
    assert "atrial_flutter" in statements("atrial_flutter")
    above = table_with("rhythm.atrial_rate_flutter", threshold=[rate + 10, 400])
    assert "atrial_flutter" not in statements("atrial_flutter", above)


def test_p_to_qrs_ratio_decides_second_degree_block():
    ratio = measured("av_block_2_mobitz2").global_.p_waves_per_qrs
    assert ratio > 1.2
    assert "av_block_mobitz_2" in statements("av_block_2_mobitz2")
    higher = table_with("av.non_conducted_p", threshold=round(ratio + 0.2, 2))
    found = statements("av_block_2_mobitz2", higher)
    assert not found & {"av_block_mobitz_2", "av_block_second_degree", "av_block_mobitz_1"}
    # The engine reports no P:QRS above 1 below the table's limit either.
    assert (measured("av_block_2_mobitz2", higher).global_.p_waves_per_qrs or 1.0) < ratio + 0.2


def test_pr_progression_rise_decides_wenckebach():
    assert measured("av_block_2_mobitz1").global_.pr_progression == "prolonging"
    assert "av_block_mobitz_1" in statements("av_block_2_mobitz1")
    steep = table_with(
        "av.pr_prolonging",
        measure_config={"atrial_waves.pr_prolonging_step_ms": 400},
    )
    assert measured("av_block_2_mobitz1", steep).global_.pr_progression != "prolonging"
    assert "av_block_mobitz_1" not in statements("av_block_2_mobitz1", steep)


def test_rr_irregularity_limits_decide_atrial_fibrillation():
    cv = measured("atrial_fibrillation").global_.rr_cv
    assert "atrial_fibrillation" in statements("atrial_fibrillation")
    tolerant = table_with(
        "rhythm.irregularly_irregular",
        measure_config={
            "beat.irregular_rr_cv": round(cv + 0.1, 2),
            "beat.irregular_succ_diff": 0.1,
        },
    )
    assert "atrial_fibrillation" not in statements("atrial_fibrillation", tolerant)


def test_flat_t_limit_decides_nonspecific_t_abnormality():
    lm = measured("normal").leads
    t_abs = sorted(abs(lm[name].t_amplitude_mv) for name in ("I", "II", "V4", "V5", "V6"))
    assert "nonspecific_t_abnormality" not in statements("normal")
    # Above the second-smallest |T| of the five leads: two leads are now "flat".
    wide_limit = table_with("t.flat", threshold=round(t_abs[1] + 0.05, 2))
    assert "nonspecific_t_abnormality" in statements("normal", wide_limit)


def test_wide_qrs_limit_decides_premature_ventricular_contractions():
    beats = measured("pvc").beats
    pvc_qrs = [b.qrs_duration_ms for b in beats if b.beat_class == "premature_ventricular"]
    assert pvc_qrs and min(pvc_qrs) >= 120
    assert "premature_ventricular_contractions" in statements("pvc")
    wider = table_with("ectopy.pvc_wide_qrs", threshold=max(pvc_qrs) + 10)
    assert "premature_ventricular_contractions" not in statements("pvc", wider)


def test_st_slope_limit_decides_st_depression_shape():
    lm = measured("st_depression").leads
    slopes = [lm[name].st_slope_mv_per_s for name in ("II", "III", "aVF", "V4", "V5", "V6")]
    assert all(0 < s < 0.5 for s in slopes)  # horizontal depression, slightly rising
    found = statements("st_depression")
    assert {"std_inferior", "std_lateral"} <= found
    strict = table_with("st.upsloping", threshold=round(min(slopes) / 2, 3))
    moved = statements("st_depression", strict)
    assert not moved & {"std_inferior", "std_lateral", "std_anterior"}


def test_packaged_table_and_default_config_agree():
    """``measure`` used alone applies the same numbers as ``interpret`` (whose source is the
    table): every table-linked default equals the packaged table."""
    from ecgr1.measure.config import DEFAULT_CONFIG, TABLE_LINKED_KEYS
    from ecgr1.protocol.table import load_table

    values = load_table().measure_config_values()
    assert set(values) == set(TABLE_LINKED_KEYS)
    for key, value in values.items():
        assert DEFAULT_CONFIG.get(key) == pytest.approx(value), key


def test_a_number_linked_twice_is_refused():
    data = copy.deepcopy(_packaged())
    row = next(r for r in data["criteria"] if r["id"] == "qrs.prolonged")
    row["measure_config"] = "beat.wide_qrs_ms"
    with pytest.raises(ecgr1.ECGR1Error, match="one number, one source"):
        parse_table(data, "twice")


def test_the_report_follows_the_given_table():
    """The pipeline hands its table to the report writer: a statement the table reviews in
    another step has its exclusion sentence in that step."""
    data = copy.deepcopy(_packaged())
    row = next(r for r in data["statements"] if r["id"] == "left_atrial_abnormality")
    row["step"] = 2
    steps = ecgr1.interpret_record(_record("normal"), table=parse_table(data, "moved")).report
    step2 = steps.split("**Step 2")[1].split("**Step 3")[0]
    step3 = steps.split("**Step 3")[1].split("**Step 4")[0]
    assert "left atrial abnormality" in step2 and "left atrial abnormality" not in step3


def test_flat_t_limit_names_the_t_polarity():
    lm = measured("normal").leads
    assert lm["I"].t_polarity == "positive" and abs(lm["I"].t_amplitude_mv) < 0.3
    moved = table_with("t.flat", threshold=0.3)
    assert measured("normal", moved).leads["I"].t_polarity == "flat"


def test_successive_rr_limit_decides_the_rr_pattern_atrial_fibrillation_rests_on():
    """Above the record's successive-difference ratio the RR reads "regularly irregular": AF
    is then no longer stated from an irregularly irregular RR, only from f waves that show on
    their own over a varying RR (in two or more leads, as the simulated ones do)."""
    succ = measured("atrial_fibrillation").global_.rr_successive_difference_ratio
    tolerant = table_with(
        "rhythm.irregularly_irregular",
        measure_config={
            "beat.irregular_rr_cv": 0.08,
            "beat.irregular_succ_diff": round(succ + 0.1, 2),
        },
    )
    out = ecgr1.interpret_record(_record("atrial_fibrillation"), table=tolerant)
    assert out.measurements.global_.rr_irregularity == "regularly_irregular"
    criteria = out.interpretation.criteria
    assert criteria["rhythm.irregularly_irregular"].met is False
    assert criteria["rhythm.rr_varies"].met and criteria["rhythm.fibrillatory_activity"].met
    assert "atrial_fibrillation" in {s.id for s in out.interpretation.statements}
    packaged = ecgr1.interpret_record(_record("atrial_fibrillation")).interpretation.criteria
    assert packaged["rhythm.irregularly_irregular"].met is True


def test_constant_pr_limit_decides_mobitz_type():
    """A Wenckebach record whose PR rise is not accepted as prolonging: with the constant-PR
    limit above its PR spread it reads as Mobitz II, below it as second degree unspecified."""
    data = copy.deepcopy(_packaged())
    rows = {r["id"]: r for r in data["criteria"]}
    rows["av.pr_prolonging"]["measure_config"] = {"atrial_waves.pr_prolonging_step_ms": 400}
    rows["av.pr_constant"]["measure_config"] = {"atrial_waves.pr_constant_sd_ms": 500}
    wide = statements("av_block_2_mobitz1", parse_table(copy.deepcopy(data), "wide"))
    rows["av.pr_constant"]["measure_config"] = {"atrial_waves.pr_constant_sd_ms": 1}
    narrow = statements("av_block_2_mobitz1", parse_table(data, "narrow"))
    assert "av_block_mobitz_2" in wide and "av_block_mobitz_2" not in narrow
    assert "av_block_second_degree" in narrow


def test_each_table_gets_the_configuration_of_its_own_numbers():
    # measure_config is built once per set of linked numbers and then reused: a table that
    # moves a number gets its own configuration, the packaged one its own again afterwards.
    from ecgr1.measure.config import DEFAULT_CONFIG
    from ecgr1.protocol.table import load_table

    packaged = load_table().measure_config()
    assert load_table().measure_config() is packaged
    assert packaged.beat["wide_qrs_ms"] == DEFAULT_CONFIG.beat["wide_qrs_ms"]
    moved = table_with("ectopy.pvc_wide_qrs", threshold=130).measure_config()
    assert moved.beat["wide_qrs_ms"] == 130
    assert table_with("ectopy.pvc_wide_qrs", threshold=130).measure_config() is moved
    assert load_table().measure_config() is packaged
    other_base = DEFAULT_CONFIG.replace({"beat.premature_ratio": 0.8})
    from_other = load_table().measure_config(other_base)
    assert from_other.beat["premature_ratio"] == 0.8
    assert from_other.beat["wide_qrs_ms"] == packaged.beat["wide_qrs_ms"]
