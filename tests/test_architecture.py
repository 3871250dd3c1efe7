"""The layering rules of the house: tracking never imports bot, and imports no LLM SDK at load."""

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[1]
PACKAGE = ROOT / "matrix_usage_bot"


def test_tracking_never_imports_bot():
    for path in (PACKAGE / "tracking").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module or ""]
            assert not any(n.startswith(("matrix_usage_bot.bot", "bot.")) or n == "bot" for n in names), path
        module = _module_of(path)
        assert not {t for t in _imports(path, module) if t.startswith("matrix_usage_bot.bot")}, path


def test_importing_tracking_loads_no_sdk():
    code = (
        "import sys, matrix_usage_bot.tracking, matrix_usage_bot.tracking.hooks\n"
        "sdks = ('openai', 'anthropic', 'litellm', 'langchain_core', 'agno', 'nio', 'psycopg')\n"
        "loaded = [m for m in sdks if m in sys.modules]\n"
        "print(','.join(loaded))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == ""


def _module_of(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, module: str) -> set[str]:
    """The project modules a file imports, relative imports resolved (``from . import x`` names ``pkg.x``)."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found.add(target)
            found.update(f"{target}.{a.name}" for a in node.names)
    return found


def import_graph() -> dict[str, set[str]]:
    files = {_module_of(p): p for d in ("bot", "tracking") for p in (PACKAGE / d).rglob("*.py")}
    return {m: {t for t in _imports(p, m) if t in files and t != m} for m, p in files.items()}


def test_no_import_cycles():
    graph = import_graph()
    done: set[str] = set()

    def visit(module: str, stack: list[str]) -> None:
        if module in stack:
            raise AssertionError("import cycle: " + " -> ".join([*stack[stack.index(module):], module]))
        if module in done:
            return
        for target in sorted(graph[module]):
            visit(target, [*stack, module])
        done.add(module)

    for module in sorted(graph):
        visit(module, [])


def test_no_file_over_300_lines():
    long = {str(p.relative_to(ROOT)): n for d in ("bot", "tracking") for p in (PACKAGE / d).rglob("*.py")
            if (n := len(p.read_text().splitlines())) > 300}  # fmt: skip
    assert not long, long
