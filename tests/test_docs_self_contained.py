"""The README and docs/ stand alone: in a fresh clone every link and path they name is inside the clone, and the
example config passes `usage-bot check-config` with the environment variables it documents."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from tests.command import USAGE_BOT

ROOT = Path(__file__).parents[1]
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
CODE_PATH = re.compile(r"`([\w.-]+(?:/[\w.*-]+)+/?)`")
HEADING = re.compile(r"^#{1,6} +(.+?) *$", re.MULTILINE)


@pytest.fixture(scope="module")
def clone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    assert (ROOT / ".git").exists(), "the docs check clones the repository: run it from a git checkout"
    target = tmp_path_factory.mktemp("clone") / "matrix-usage-bot"
    subprocess.run(["git", "clone", "--quiet", "--no-hardlinks", str(ROOT), str(target)], check=True, timeout=120)
    return target


def documents(clone: Path) -> list[Path]:
    return [clone / "README.md", *sorted((clone / "docs").rglob("*.md"))]


def anchors(markdown: str) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped but hyphens and underscores, spaces as hyphens."""
    return {re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-") for heading in HEADING.findall(markdown)}


def test_every_link_of_the_readme_and_docs_lands_inside_the_clone(clone: Path) -> None:
    problems = []
    for doc in documents(clone):
        text = doc.read_text(encoding="utf-8")
        where = doc.relative_to(clone)
        if "../shared" in text or re.search(r"\bSPEC\b", text):
            problems.append(f"{where}: points at the contract outside the repository")
        for target in LINK.findall(text):
            if re.match(r"[a-z]+:", target):  # https:, mailto:
                continue
            path, _, anchor = target.partition("#")
            file = (doc.parent / path).resolve() if path else doc
            if not file.is_relative_to(clone.resolve()) or not file.exists():
                problems.append(f"{where}: link {target} leads to nothing in the repository")
            elif anchor and file.suffix == ".md" and anchor not in anchors(file.read_text(encoding="utf-8")):
                problems.append(f"{where}: link {target} names no heading of {file.name}")
    assert problems == []


def test_every_repository_path_the_docs_name_exists(clone: Path) -> None:
    """A path is from the repository's root, or, for the code's two packages, from the folder that holds them."""
    bases = [clone, *(p.parent for p in clone.glob("*/tracking/__init__.py"))]
    tops = {p.name for base in bases for p in base.iterdir() if p.is_dir() and not p.name.startswith(".")}
    missing = []
    for doc in documents(clone):
        for path in CODE_PATH.findall(doc.read_text(encoding="utf-8")):
            if ".." in path.split("/"):
                missing.append(f"{doc.name}: {path} (outside the repository)")
            elif path.split("/")[0] in tops and "*" not in path and not any((b / path).exists() for b in bases):
                missing.append(f"{doc.name}: {path}")
    assert missing == []


def test_the_example_config_passes_check_config_with_its_documented_variables(clone: Path) -> None:
    example = (clone / "config.example.yaml").read_text(encoding="utf-8")
    required = set(re.findall(r"\$\{(\w+)\}", example))  # ${VAR:-fallback} has a fallback
    env = {k: v for k, v in os.environ.items() if not k.startswith("USAGE_")}
    env |= {name: "a-long-enough-secret-value" for name in required} | {"USAGE_BOT_PASSWORD": "example-password"}
    assert "USAGE_BOT_PASSWORD" in example
    done = subprocess.run([*USAGE_BOT, "check-config", "-c", "config.example.yaml"], cwd=clone,
                          env=env, capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("config.example.yaml: OK")
    assert "example-password" not in done.stdout + done.stderr
