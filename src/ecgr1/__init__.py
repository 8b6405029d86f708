"""ecgr1: reliable, evidence-grounded 12-lead ECG interpretation.

The pipeline, one package per stage, data flowing one way::

    io -> signal -> measure -> protocol -> report -> verify
                                   \\-> render, corpus -> model/train -> evaluate -> serve

Example
-------
>>> from ecgr1.io import ECGRecord
>>> import numpy as np
>>> rec = ECGRecord(signal=np.zeros((2, 500), np.float32), fs=500.0, leads=["I", "II"])
>>> rec.duration_s
1.0
"""

from ecgr1.errors import ECGR1Error, InvalidInputError, UnsupportedFormatError

__version__ = "0.1.0"

__all__ = ["ECGR1Error", "InvalidInputError", "UnsupportedFormatError", "__version__"]
