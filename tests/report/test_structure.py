"""Library code leaves its caller's world alone: no matplotlib backend chosen anywhere (import
cycles are checked for the whole package in tests/test_architecture.py)."""

from __future__ import annotations

from pathlib import Path

import dataeff

SRC = Path(dataeff.__file__).parent


def test_library_code_never_chooses_a_matplotlib_backend():
    sources = list(SRC.rglob("*.py"))
    assert len(sources) > 40
    for path in sources:
        assert "matplotlib.use(" not in path.read_text(), path
