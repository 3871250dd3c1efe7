"""The layering rules of the house: tracking never imports bot, and imports no LLM SDK at load."""

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[1]


def test_tracking_never_imports_bot():
    for path in (ROOT / "tracking").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module or ""]
            assert not any(n == "bot" or n.startswith("bot.") for n in names), path


def test_importing_tracking_loads_no_sdk():
    code = (
        "import sys, tracking, tracking.hooks\n"
        "sdks = ('openai', 'anthropic', 'litellm', 'langchain_core', 'agno', 'nio')\n"
        "loaded = [m for m in sdks if m in sys.modules]\n"
        "print(','.join(loaded))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == ""
