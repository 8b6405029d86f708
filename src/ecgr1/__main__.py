"""``python -m ecgr1``."""

import sys

from ecgr1.cli import main

sys.exit(main())
