"""Reading, writing and standardising ECG records (stage 1 of the pipeline).

Every reader returns an :class:`ECGRecord` in millivolts with explicit sampling rate and
canonical lead names; :func:`read_record` detects the format.
"""

from ecgr1.io.leads import STANDARD_LEADS, canonical_lead_name
from ecgr1.io.record import ECGRecord

__all__ = ["STANDARD_LEADS", "ECGRecord", "canonical_lead_name"]

from ecgr1.io.readers import read_record  # noqa: E402

__all__ += ["read_record"]
