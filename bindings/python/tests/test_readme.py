"""Runs the Python example of README.md as printed, against the emulator."""

from __future__ import annotations

import os
import subprocess
import sys

from conftest import BINDING_DIR, REPOSITORY

SECTION_HEADING = "## Using the library from Python"
# The README's example points at the emulator as README.md starts it; the test's
# emulator listens on a port that the system chose.
README_URL = "http://127.0.0.1:8808/bonus/"


def readme_example() -> str:
    """Return the first python code block of the README's Python section."""
    readme = (REPOSITORY / "README.md").read_text(encoding="utf-8")
    section_start = readme.index(f"\n{SECTION_HEADING}\n")
    section = readme[section_start + 1 :]
    next_section = section.find("\n## ", len(SECTION_HEADING))
    if next_section != -1:
        section = section[:next_section]
    block_start = section.index("```python\n") + len("```python\n")
    block_end = section.index("```", block_start)
    return section[block_start:block_end]


def test_readme_example_runs(emulator):
    example = readme_example()
    assert README_URL in example
    code = example.replace(README_URL, f"{emulator.url}bonus/")

    result = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, "PYTHONPATH": str(BINDING_DIR)},
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout == "balance 500\nspend_id 000000001\n"
    assert emulator.balance("2700009601205") == 490
