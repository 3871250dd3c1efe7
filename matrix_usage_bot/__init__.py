"""matrix-usage-bot: `matrix_usage_bot.tracking`, the library agent runtimes import (hooks, attribution,
pricing, storage), and `matrix_usage_bot.bot`, the Matrix bot, its HTTP API and the `usage-bot` command
line. Everything lives under this one name, so nothing here can collide with a project's own modules."""
