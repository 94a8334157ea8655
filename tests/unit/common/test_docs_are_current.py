"""README's settings table and .env.example list exactly the settings the code reads."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def _generated(kind: str) -> str:
    return subprocess.run(
        [sys.executable, str(ROOT / "scripts/settings_doc.py"), kind], capture_output=True, text=True, check=True
    ).stdout


def test_readme_settings_table_matches_the_settings_object():
    assert _generated("table").strip() in (ROOT / "README.md").read_text(), (
        "README settings table is stale: run `python scripts/settings_doc.py table`"
    )


def test_env_example_matches_the_settings_object():
    assert (ROOT / ".env.example").read_text() == _generated("env")
