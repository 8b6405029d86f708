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
