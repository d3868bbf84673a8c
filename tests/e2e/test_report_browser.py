"""The HTML report in a real browser (Debian's headless Chromium, no network)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import make_messy_frame

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
LEARNERS = ["majority", "logreg", "tree", "xgboost"]


def _run(*args, timeout=600):
    return subprocess.run([sys.executable, "-m", "dataeff", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout)


@pytest.fixture(scope="module")
def hostile_run(tmp_path_factory):
    """A run whose column names and label values carry HTML, to prove they stay text."""
    root = tmp_path_factory.mktemp("report")
    frame = make_messy_frame(600)
    frame = frame.rename(columns={"plan": "<script>alert('col')</script>", "region": "<b>region</b>"})
    frame["churned"] = np.where(frame["churned"] == "churned", "<script>alert(1)</script>", "stayed & <i>ok</i>")
    frame.to_csv(root / "hostile.csv", index=False)
    out = root / "run"
    result = _run("run", "--data", root / "hostile.csv", "--label", "churned", "--learners", ",".join(LEARNERS),
                  "--seeds", 3, "--sizes", "8,16,32,64,128,256,480", "--out", out)
    assert result.returncode == 0, result.stderr
    return out


def test_report_is_self_contained_and_escapes_html_from_the_data(hostile_run):
    html = (hostile_run / "report.html").read_text()
    assert "<script" not in html.lower()  # neither the data nor the report brings scripts
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;script&gt;alert(&#39;col&#39;)&lt;/script&gt;" in html
    assert "http://" not in html.replace("http://www.w3.org/2000/svg", "") and "https://" not in html


def test_report_in_headless_chromium(hostile_run, tmp_path):
    sync_playwright = pytest.importorskip("playwright.sync_api").sync_playwright
    assert Path(CHROMIUM).exists(), "chromium is missing: `make test` installs Debian's chromium package"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync"])
        context = browser.new_context(viewport={"width": 1280, "height": 900}, offline=True)
        page = context.new_page()
        problems, requests = [], []
        page.on("console", lambda m: problems.append(m.text) if m.type in ("error", "warning") else None)
        page.on("pageerror", lambda e: problems.append(str(e)))
        page.on("request", lambda r: requests.append(r.url))
        page.goto((hostile_run / "report.html").resolve().as_uri())
        assert problems == []
        assert [r for r in requests if not r.startswith("file://") and not r.startswith("data:")] == []
        # the chart is drawn: one series per learner, each with a line and markers
        series = page.eval_on_selector_all("#chart-roc_auc g.series", "els => els.map(e => e.dataset.learner)")
        assert series == LEARNERS
        box = page.locator("#chart-roc_auc").bounding_box()
        assert box["width"] > 600 and box["height"] > 250
        points = page.eval_on_selector_all("#chart-roc_auc g.series circle.point", "els => els.length")
        assert points == len(LEARNERS) * 7
        # answers and tables are there; no horizontal scrolling at 1280 px
        assert page.locator("#answers li").count() >= 2
        assert "ceiling" in page.locator("#answers").inner_text()
        for table in ("#labels-table", "#cost-table", "#curve-table"):
            assert page.locator(f"{table} tbody tr").count() >= 1, table
        assert page.evaluate("document.documentElement.scrollWidth") <= 1280
        # the metric switch shows another chart
        page.click("label[for='m-accuracy']")
        assert page.locator("#chart-accuracy").is_visible() and not page.locator("#chart-roc_auc").is_visible()
        # hostile label values are text on the page
        assert "<script>alert(1)</script>" in page.locator("#facts").inner_text()
        page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
        # dark theme renders too
        page.emulate_media(color_scheme="dark")
        background = page.evaluate("getComputedStyle(document.body).backgroundColor")
        assert background != "rgb(255, 255, 255)"
        page.screenshot(path=str(tmp_path / "report-dark.png"), full_page=False)
        browser.close()
    assert (tmp_path / "report.png").stat().st_size > 10_000


def test_report_command_rebuilds_the_same_report_without_refitting(hostile_run):
    from tests.e2e.test_cli import _cells_with_timestamps

    before_cells = _cells_with_timestamps(hostile_run)
    original = (hostile_run / "report.html").read_text()
    start = time.perf_counter()
    result = _run("report", hostile_run)
    elapsed = time.perf_counter() - start
    assert result.returncode == 0, result.stderr
    assert (hostile_run / "report.html").read_text() == original
    assert _cells_with_timestamps(hostile_run) == before_cells
    assert elapsed < 30  # the speed target (< 5 s) is checked by benchmarks/, not here
