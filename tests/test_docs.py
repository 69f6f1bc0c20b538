"""README.md and docs/ stand on their own: every file they name is in the repository."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# A backticked or linked name that reads as a path of ours: under a top-level folder of the
# repository, or a file name with a source or document ending (`<area>` marks a placeholder).
TOP = ("gateway/", "forms/", "connectors/", "bench/", "tests/", "docs/", "templates/", ".ci/")
NAME = re.compile(r"`([^`\s]+)`|\]\(([^)\s#]+)\)")
FILE = re.compile(r"^[\w./-]+\.(?:py|md|toml|html|js|css|txt)$")


def named_paths(text: str) -> set[str]:
    """The repository paths a Markdown text names (code spans and relative links)."""
    found = set()
    for code, link in NAME.findall(text):
        name = (code or link).split("::")[0].rstrip(".,:")
        if "://" in name or "<" in name or name.startswith(("/", "$", "-")):
            continue
        if name.startswith(TOP) or FILE.match(name):
            found.add(name)
    return found


def test_every_file_the_docs_name_exists():
    docs = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    missing = []
    for doc in docs:
        base = doc.parent
        for name in named_paths(doc.read_text(encoding="utf-8")):
            path = name.split(":")[0]
            bare = "/" not in path  # a module named alone, e.g. `routes.py`: any area's
            if not ((ROOT / path).exists() or (base / path).exists()
                    or (bare and any(ROOT.glob(f"[!.]*/**/{path}")))):
                missing.append(f"{doc.name}: {name}")
    assert missing == []


def test_the_checker_sees_names():
    assert named_paths("see `gateway/merge.py` and [x](docs/architecture.md), not "
                       "`/api/contacts` or `https://a/b.md`") == {
        "gateway/merge.py", "docs/architecture.md"}
