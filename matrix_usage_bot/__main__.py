"""`python -m matrix_usage_bot ...` is `usage-bot ...`, with whichever Python runs it."""

import sys

from .bot.cli import main

sys.exit(main())
