"""The docs: a README read in minutes, and a site that builds offline in strict mode (a broken
link or a page outside the nav fails), whose reference pages are generated from the code."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_the_readme_is_short():
    assert len((ROOT / "README.md").read_text().splitlines()) <= 150


def test_every_local_link_of_the_readme_resolves():
    import re

    for target in re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", (ROOT / "README.md").read_text()):
        if not target.startswith("http"):
            assert (ROOT / target).exists(), target


@pytest.mark.slow
def test_the_site_builds_offline_in_strict_mode_with_the_generated_reference(tmp_path):
    env = {**os.environ, "DISABLE_MKDOCS_2_WARNING": "true", "NO_MKDOCS_2_WARNING": "1"}
    built = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
                           cwd=ROOT, capture_output=True, text=True, env=env, timeout=300)
    said = built.stdout + built.stderr
    assert built.returncode == 0, said
    assert "WARNING" not in said, said
    settings = (tmp_path / "site" / "reference" / "settings" / "index.html").read_text()
    cli = (tmp_path / "site" / "reference" / "cli" / "index.html").read_text()
    from dataeff.config import SECTIONS

    for section, keys in SECTIONS.items():
        assert f"[{section}]" in settings
        for key in keys:
            assert f"<code>{key}</code>" in settings, (section, key)
    for flag in ("--llm-backend", "--score-target", "--test-rows", "--engine"):
        assert flag in cli
    for page in ("guide/llms", "results/validity", "statistics", "getting-started"):
        assert (tmp_path / "site" / page / "index.html").is_file()
