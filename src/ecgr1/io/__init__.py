"""Reading, writing and standardising ECG records (stage 1 of the pipeline).

Every reader returns an :class:`ECGRecord` in millivolts with explicit sampling rate and
canonical lead names; :func:`read_record` detects the format, :func:`find_records` expands
files, folders and globs, :func:`standardize` / :func:`to_model_tensor` give the model input
(12 x 5000 at 500 Hz), :func:`write_wfdb` / :func:`write_npy` write records. See ``docs/io.md``.
"""

from ecgr1.io.leads import STANDARD_LEADS, canonical_lead_name
from ecgr1.io.record import ECGRecord

__all__ = ["STANDARD_LEADS", "ECGRecord", "canonical_lead_name"]

from ecgr1.io.arrays import array_record, read_array, read_mat  # noqa: E402
from ecgr1.io.code15 import iter_code15, read_code15  # noqa: E402
from ecgr1.io.finalize import finalize_record  # noqa: E402
from ecgr1.io.readers import as_record, find_records, read_record  # noqa: E402
from ecgr1.io.standardize import first_seconds, standardize, to_model_tensor  # noqa: E402
from ecgr1.io.wfdb_reader import read_wfdb  # noqa: E402
from ecgr1.io.writers import write_npy, write_wfdb  # noqa: E402

__all__ += [
    "array_record",
    "as_record",
    "finalize_record",
    "find_records",
    "iter_code15",
    "read_array",
    "read_code15",
    "read_mat",
    "read_record",
    "read_wfdb",
    "first_seconds",
    "standardize",
    "to_model_tensor",
    "write_npy",
    "write_wfdb",
]
