"""The command line as tests run it in a process of its own: `usage-bot` with this interpreter."""

import sys

USAGE_BOT = (sys.executable, "-m", "matrix_usage_bot")
