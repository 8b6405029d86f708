"""Where real data live: one setting, read from ``ECGR1_DATA`` and defaulting to ``../shared/data``.

Tests and benchmarks use :func:`shared_data_dir`; nothing here downloads anything.
"""

from __future__ import annotations

import os
from pathlib import Path

_REPO_ROOT = Path(__file__).resolve().parents[2]


def shared_data_dir() -> Path:
    """Return the folder of real annotated ECGs (may not exist).

    ``ECGR1_DATA`` wins; otherwise ``<repo>/../shared/data`` next to a source checkout,
    else ``./../shared/data`` relative to the working directory.
    """
    env = os.environ.get("ECGR1_DATA")
    if env:
        return Path(env).expanduser()
    candidate = _REPO_ROOT.parent / "shared" / "data"
    if candidate.exists():
        return candidate
    return Path.cwd().parent / "shared" / "data"
