"""The suite itself survives a test that kills its process (a native model's segfault in the
test process took the whole run down before its summary line): run through the project's own
pytest settings, such a test fails alone and the summary line is printed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

PLANTED = '''
import ctypes

def test_segfaults():
    ctypes.string_at(0)

def test_after_it():
    assert True
'''


def test_a_test_that_segfaults_fails_alone_and_the_summary_line_is_printed(tmp_path):
    (tmp_path / "test_planted.py").write_text(PLANTED)
    result = subprocess.run([sys.executable, "-m", "pytest", "-c", str(ROOT / "pyproject.toml"),
                             "--rootdir", str(tmp_path), "-p", "no:cacheprovider", str(tmp_path)],
                            capture_output=True, text=True, timeout=300, cwd=tmp_path)
    said = result.stdout + result.stderr
    assert result.returncode == 1, said
    assert "1 failed, 1 passed" in result.stdout.splitlines()[-1], said
    assert "crashed while running" in said and "test_segfaults" in said, said
