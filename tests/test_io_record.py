import numpy as np
import pytest

from ecgr1.errors import InvalidInputError
from ecgr1.io import ECGRecord


def test_record_canonicalises_lead_names_and_dtype():
    rec = ECGRecord(np.zeros((3, 1000)), 500, ["i", "MLII", "v1"], record_id="r")
    assert rec.leads == ["I", "II", "V1"]
    assert rec.signal.dtype == np.float32
    assert rec.duration_s == 2.0
    assert rec.lead("ii") is not None and rec.has_lead("V1") and not rec.has_lead("V2")


def test_record_rejects_inconsistent_inputs():
    with pytest.raises(InvalidInputError):
        ECGRecord(np.zeros((2, 10)), 500, ["I"])
    with pytest.raises(InvalidInputError):
        ECGRecord(np.zeros((2, 10)), 0, ["I", "II"])
    with pytest.raises(InvalidInputError):
        ECGRecord(np.zeros((2, 10)), 500, ["I", "i"])


def test_lead_aliases_in_the_docs_equal_the_code_table():
    """docs/io.md lists every accepted alias: the block is what the code generates, and every
    spelling in it maps to its row's lead (and only with lead_map where the column says so)."""
    import re
    from pathlib import Path

    from ecgr1.io.leads import (
        ASSUMED_ALIASES,
        LEAD_ALIASES,
        STANDARD_LEADS,
        aliases_markdown,
        canonical_lead_name,
    )

    doc = (Path(__file__).parents[1] / "docs" / "io.md").read_text(encoding="utf-8")
    block = doc.split("<!-- lead-aliases:start -->\n", 1)[1].split("<!-- lead-aliases:end -->")[0]
    assert block == aliases_markdown()
    listed: dict[str, str] = {}
    for row in block.splitlines()[2:]:
        cells = [c.strip() for c in row.strip("|").split("|")]
        lead = cells[0].split()[0]
        for col, cell in enumerate(cells[1:]):
            for spelling in re.findall(r"`([^`]+)`", cell):
                listed[spelling] = lead
                mapped = canonical_lead_name(spelling, lead_map="standard-order")
                assert mapped == lead, (spelling, mapped, lead)
                plain = canonical_lead_name(spelling)
                assert (plain == lead) == (col < 2), (spelling, plain)  # numbered: only with map
                shouted = spelling.upper().replace(" ", "_")
                assert canonical_lead_name(shouted, lead_map="standard-order") == lead
    numbered = {f"lead_{k}" for k in range(1, 13)}
    assert set(listed) == set(LEAD_ALIASES) | set(ASSUMED_ALIASES) | numbered
    assert {listed[f"lead_{k}"] for k in range(1, 13)} == set(STANDARD_LEADS)


def test_d_numbered_names_and_numbered_names():
    from ecgr1.io.leads import canonical_lead_name, map_lead_names

    assert [canonical_lead_name(x) for x in ("D1", "d2", "D3", "D4", "DIII")] == [
        "I", "II", "III", "D4", "III",
    ]  # fmt: skip
    names, warnings = map_lead_names(["D3", "DII", "V4", "mv2"])
    assert names == ["III", "II", "V4", "V2"]
    assert len(warnings) == 1 and warnings[0].startswith("lead name(s) mapped by assumption: D3")
    assert "MLII" not in warnings[0] and "DII" not in warnings[0] and "mv2 -> V2" in warnings[0]
    names, warnings = map_lead_names([f"lead_{k}" for k in range(1, 14)])
    assert names[:12] == [f"lead_{k}" for k in range(1, 13)] and names[12] == "lead_13"
    assert len(warnings) == 1 and "read with lead_map='standard-order'" in warnings[0]
    names, warnings = map_lead_names(["Lead_1", "lead 12", "lead_13"], lead_map="standard-order")
    assert names == ["I", "V6", "lead_13"]
    assert warnings == [
        "numbered lead name(s) mapped to the standard order I, II, III, aVR, aVL, aVF, V1-V6 as "
        "asked (lead_map='standard-order'): Lead_1 -> I, lead 12 -> V6"
    ]
    assert map_lead_names(["I", "II", "V1"]) == (["I", "II", "V1"], [])
    with pytest.raises(ValueError, match="lead_map must be one of"):
        map_lead_names(["lead_1"], lead_map="by-position")


def test_record_signal_is_lead_contiguous_whatever_the_input_layout():
    # wfdb's p_signal is samples x leads; the natural p_signal.T is a column-major view. The
    # record keeps each lead contiguous, so the measurement neither strides through memory nor
    # depends on how the caller laid the array out.
    from synthetic_ecg import synthetic_ecg

    from ecgr1.measure import measure

    base, _ = synthetic_ecg(seed=3, noise_mv=0.02)
    column_major = np.asfortranarray(base.signal.astype(np.float64))
    rec = ECGRecord(column_major, base.fs, base.leads, record_id="f")
    assert rec.signal.flags.c_contiguous and rec.signal.dtype == np.float32
    same = ECGRecord(base.signal, base.fs, base.leads, record_id="f")
    assert same.signal is base.signal  # already float32 and row-contiguous: no copy
    assert measure(rec).to_dict() == measure(same).to_dict()
