"""``python -m aiokms.cli``: the ``aiokms`` command, where its script is not on PATH."""

import sys

from aiokms.cli import main

sys.exit(main())
