"""suite.html in a real browser (Debian's headless Chromium, offline): the table first, one
small chart per finished dataset in the suite's learner colours and shared axes, each linking
to its dataset's report; the failed dataset listed; no script, no request beyond the file."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.suite.conftest import DATASETS

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def test_suite_html_is_self_contained(small_suite):
    _, out, _ = small_suite
    html = (out / "suite.html").read_text()
    assert "<script" not in html.lower()
    assert "http://" not in html.replace("http://www.w3.org/2000/svg", "") and "https://" not in html


def test_suite_html_in_headless_chromium(small_suite, tmp_path):
    sync_playwright = pytest.importorskip("playwright.sync_api").sync_playwright
    assert Path(CHROMIUM).exists(), "chromium is missing: `make test` installs Debian's chromium package"
    _, out, _ = small_suite
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync"])
        page = browser.new_context(viewport={"width": 1280, "height": 900}, offline=True).new_page()
        problems, requests = [], []
        page.on("console", lambda m: problems.append(m.text) if m.type in ("error", "warning") else None)
        page.on("pageerror", lambda e: problems.append(str(e)))
        page.on("request", lambda r: requests.append(r.url))
        page.goto((out / "suite.html").resolve().as_uri())
        assert problems == []
        assert [r for r in requests if not r.startswith("file://") and not r.startswith("data:")] == []
        # the table comes first: one row per learner (the baseline is the floor, not a row)
        first = page.locator("main > table").first
        assert first.get_attribute("id") == "table-0"
        assert first.locator("tbody tr").evaluate_all("rows => rows.map(r => r.dataset.learner)") == ["logreg", "tree"]
        assert page.locator("#table-1 tbody tr").count() == 2  # the fixed score's table
        # one small chart per finished dataset, each linking to its report
        figures = page.locator("#charts figure")
        assert figures.evaluate_all("fs => fs.map(f => f.dataset.dataset)") == DATASETS
        for name in DATASETS:
            link = page.locator(f"#charts figure[data-dataset='{name}'] h3 a")
            assert link.get_attribute("href") == f"{name}/report.html"
            assert (out / name / "report.html").is_file()
            box = page.locator(f"#chart-{name}").bounding_box()
            assert box["width"] > 250 and box["height"] > 120
        # the same learner has one colour, and every chart the same axes
        colours = page.eval_on_selector_all("#charts g.series",
                                            "gs => gs.map(g => [g.dataset.learner, g.style.cssText])")
        by_learner = {}
        for learner, style in colours:
            by_learner.setdefault(learner, set()).add(style)
        assert set(by_learner) == {"majority", "logreg", "tree"} and all(len(s) == 1 for s in by_learner.values())
        axes = page.eval_on_selector_all("#charts svg.chart", "ss => ss.map(s => [s.dataset.xMax, s.dataset.yMin, "
                                                           "s.dataset.yMax])")
        assert len(axes) == 3 and len({tuple(a) for a in axes}) == 1
        # the failed dataset is listed with its error; no horizontal scrolling at 1280 px
        assert "Label column 'label'" in page.locator("#failed").inner_text()
        assert page.locator("#datasets-table tbody tr").count() == 4
        assert page.evaluate("document.documentElement.scrollWidth") <= 1280
        page.screenshot(path=str(tmp_path / "suite.png"), full_page=True)
        page.emulate_media(color_scheme="dark")
        assert page.evaluate("getComputedStyle(document.body).backgroundColor") != "rgb(255, 255, 255)"
        browser.close()
    assert (tmp_path / "suite.png").stat().st_size > 10_000
