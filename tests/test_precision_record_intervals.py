"""Record-level QRS and PR (issue 19): the mean of the across-lead percentile estimate and the
median beat's spatial-velocity boundaries scatters less around the cardiologists'
median-of-leads reference than the percentile estimate alone, without moving its definition.

The reference is built here from the LUDB marks (per lead the median over beats, then the
median over leads: the rule of the CSE measurement study), independently of the benchmark.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import wfdb

from ecgr1.io import read_record
from ecgr1.io.record import ECGRecord
from ecgr1.measure.config import DEFAULT_CONFIG, MeasureConfig
from ecgr1.measure.engine import measure
from ecgr1.measure.intervals import record_pr_ms, record_qrs_ms

LUDB_LEADS = ("i", "ii", "iii", "avr", "avl", "avf", "v1", "v2", "v3", "v4", "v5", "v6")
N_RECORDS = 20


def _waves(ann) -> list[tuple[int, str, int]]:
    """(onset, symbol, offset) of every complete wave: LUDB writes ``(``, peak, ``)``."""
    s, sym = list(ann.sample), list(ann.symbol)
    return [
        (s[i - 1], sym[i], s[i + 1])
        for i in range(1, len(sym) - 1)
        if sym[i - 1] == "(" and sym[i + 1] == ")" and sym[i] in "pNt"
    ]


def _reference_ms(base: str, fs: float) -> dict[str, float]:
    """Median over leads of each lead's median QRS duration and PR interval (ms)."""
    per_lead: dict[str, list[float]] = {"qrs": [], "pr": []}
    for ext in LUDB_LEADS:
        waves = _waves(wfdb.rdann(base, ext))
        qrs = [off - on for on, sym, off in waves if sym == "N"]
        pr = [b[0] - a[0] for a, b in zip(waves, waves[1:]) if a[1] == "p" and b[1] == "N"]
        for key, v in (("qrs", qrs), ("pr", pr)):
            if v:
                per_lead[key].append(float(np.median(v)) * 1000.0 / fs)
    return {k: float(np.median(v)) if v else math.nan for k, v in per_lead.items()}


def _errors(ludb_dir: Path, config: MeasureConfig) -> dict[str, np.ndarray]:
    """Measured - reference (ms) of the record QRS and PR on the first LUDB records."""
    ids = sorted((p.stem for p in (ludb_dir / "data").glob("*.hea")), key=int)[:N_RECORDS]
    err: dict[str, list[float]] = {"qrs": [], "pr": []}
    for rec_id in ids:
        base = str(ludb_dir / "data" / rec_id)
        rec = read_record(base + ".hea")
        ref = _reference_ms(base, rec.fs)
        g = measure(rec, config=config).global_
        for key, value in (("qrs", g.qrs_duration_ms), ("pr", g.pr_interval_ms)):
            if value is not None and math.isfinite(ref[key]):
                err[key].append(value - ref[key])
    return {k: np.asarray(v) for k, v in err.items()}


@pytest.fixture(scope="module")
def errors(ludb_dir: Path) -> dict[str, dict[str, np.ndarray]]:
    percentile_only = MeasureConfig(engine={"record_qrs_spatial_fraction": 0.0})
    return {"mean": _errors(ludb_dir, DEFAULT_CONFIG), "alone": _errors(ludb_dir, percentile_only)}


@pytest.mark.parametrize("key", ["qrs", "pr"])
def test_the_mean_of_the_two_estimates_scatters_less(errors, key):
    rms = {k: float(np.sqrt(np.mean(e[key] ** 2))) for k, e in errors.items()}
    assert errors["mean"][key].size >= 0.7 * N_RECORDS
    assert rms["mean"] < rms["alone"] - 0.5


@pytest.mark.parametrize("key", ["qrs", "pr"])
def test_the_definition_is_kept(errors, key):
    # The spatial boundaries are moved to the median-of-leads definition: the mean error
    # stays within the issue-19 limit of 5 ms, as the percentile estimate's does.
    assert abs(float(np.mean(errors["mean"][key]))) <= 5.0


def test_either_estimate_alone_where_the_other_is_missing():
    off = DEFAULT_CONFIG.engine["record_qrs_spatial_offset_ms"]
    assert record_qrs_ms(100.0, math.nan, DEFAULT_CONFIG) == 100.0
    assert record_qrs_ms(None, 80.0, DEFAULT_CONFIG) == 80.0 + off
    assert record_qrs_ms(None, math.nan, DEFAULT_CONFIG) is None
    assert record_pr_ms(150.0, math.nan, DEFAULT_CONFIG) == 150.0
    assert record_pr_ms(None, 4.0, DEFAULT_CONFIG) is None


def test_the_weight_sets_the_mix():
    only_spatial = MeasureConfig(engine={"record_qrs_spatial_fraction": 1.0})
    off = DEFAULT_CONFIG.engine["record_qrs_spatial_offset_ms"]
    assert record_qrs_ms(100.0, 80.0, only_spatial) == pytest.approx(80.0 + off)
    none = MeasureConfig(engine={"record_qrs_spatial_fraction": 0.0})
    assert record_qrs_ms(100.0, 80.0, none) == 100.0
    assert record_pr_ms(150.0, 20.0, none) == 150.0
    # A later spatial onset (beyond the definition shift) lengthens the PR interval.
    assert record_pr_ms(150.0, 20.0, only_spatial) > 150.0


def test_few_leads_keep_the_percentile_estimate(ludb_dir: Path):
    # With two leads the spatial velocity is those leads' own slope: no second estimate.
    rec = read_record(str(ludb_dir / "data" / "1.hea"))
    alone = MeasureConfig(engine={"record_qrs_spatial_fraction": 0.0})

    def qrs_pr(record, config):
        g = measure(record, config=config).global_
        return g.qrs_duration_ms, g.pr_interval_ms

    assert qrs_pr(rec, DEFAULT_CONFIG) != qrs_pr(rec, alone)  # 12 leads: the mean
    two = ECGRecord(rec.signal[[1, 7]], rec.fs, [rec.leads[1], rec.leads[7]], record_id="1")
    assert qrs_pr(two, DEFAULT_CONFIG) == qrs_pr(two, alone)
