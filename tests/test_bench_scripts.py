"""README's benchmark commands run as written, from the repository root.

``python bench/<name>.py`` puts ``bench/`` first on the import path, so a script named like
one of the project's packages (once ``bench/forms.py``) broke every benchmark at its first
import. Each script's ``--help`` is run exactly that way.
"""

from __future__ import annotations

import keyword
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
COMMAND = re.compile(r"python (bench/[\w./-]+\.py)")


def readme_scripts() -> list[str]:
    """Every script a ``python bench/…`` command of README.md names, in order, once."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return list(dict.fromkeys(COMMAND.findall(text)))


def bench_scripts() -> list[str]:
    """The runnable scripts in bench/ (the shared modules have no ``__main__`` block)."""
    return sorted(f"bench/{path.name}" for path in (ROOT / "bench").glob("*.py")
                  if 'if __name__ == "__main__":' in path.read_text(encoding="utf-8"))


def test_readme_names_only_existing_scripts():
    scripts = readme_scripts()
    assert scripts, "README.md shows no `python bench/…` command"
    missing = [s for s in scripts if not (ROOT / s).is_file()]
    assert not missing, f"README.md runs scripts that do not exist: {missing}"


def test_readme_shows_every_bench_script():
    assert set(bench_scripts()) <= set(readme_scripts())


def test_no_bench_module_shadows_a_package():
    """What ``python bench/x.py`` would import from bench/ instead of the real thing."""
    names = {path.stem for path in (ROOT / "bench").glob("*.py")}
    packages = {path.parent.name for path in ROOT.glob("*/__init__.py")}
    assert not names & (packages | set(sys.stdlib_module_names))
    assert not [name for name in names if not name.isidentifier() or keyword.iskeyword(name)]


@pytest.mark.parametrize("script", readme_scripts())
def test_help_runs_from_the_repository_root(script):
    result = subprocess.run([sys.executable, script, "--help"], cwd=ROOT, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"usage: {Path(script).name} ")
