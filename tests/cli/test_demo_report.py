"""`alsrec demo` end to end, and its report read in a real headless Chromium."""

from __future__ import annotations

import json
import os
import shutil

import pytest

from tests.cli.test_info import run_cli

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def demo_report(ml_dir, tmp_path_factory):
    folder = tmp_path_factory.mktemp("demo")
    result = run_cli(
        "demo", "--report", str(folder / "report"), "--json", env_dir=ml_dir, cwd=folder
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout), folder / "report" / "report.html"


@pytest.mark.slow
def test_demo_reproduces_the_blog_study(demo_report):
    payload, report = demo_report
    means = {row["model"]: row["mean"] for row in payload["summary"] if row["metric"] == "NDCG@20"}
    assert means["blog-zeros"] == pytest.approx(0.482, abs=0.01)
    assert means["popularity"] == pytest.approx(0.336, abs=0.01)
    assert means["zeros-tuned-on-ml-small"] > means["blog-zeros"]
    assert all(c["ci_low"] > 0 for c in payload["comparisons"])
    text = report.read_text()
    for needed in (
        "610 users x 9,724 items",
        "NDCG@20",
        "95% CI",
        "alsrec demo",
        '<th class="text">title</th>',
        "beats popularity by",
        "The models",
        "from <b>zeros-tuned-on-ml-small</b> fitted on all data",
        # every model's parameters, preset defaults filled in
        "preset=&#x27;zeros&#x27;, factors=64, regularization=0.05",
        "preset=&#x27;zeros&#x27;, factors=20, regularization=0.001",
        "random_state=0, factors=64",
        "one panel per model",
        "with its 95% bootstrap confidence interval",
        "Because you rated",  # the exact decomposition of the example scores
        "Accuracy and popularity",  # ARP@20 against NDCG@20
    ):
        assert needed in text
    assert "alsrec-report" not in payload["files"]["report"]  # --report was honoured


@pytest.mark.slow
def test_report_renders_in_headless_chromium(demo_report):
    if CHROMIUM is None:
        if os.environ.get("CI"):
            pytest.fail("CI must install Debian's chromium (see .ci/run)")
        pytest.skip("chromium is not installed")
    playwright = pytest.importorskip("playwright.sync_api")
    _, report = demo_report
    errors: list[str] = []
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        page = browser.new_page()
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(report.as_uri())
        images = page.evaluate(
            "Array.from(document.images).map(i => ({alt: i.alt, complete: i.complete,"
            " natural: i.naturalWidth, naturalHeight: i.naturalHeight,"
            " width: i.getBoundingClientRect().width, height: i.getBoundingClientRect().height}))"
        )
        titles = page.evaluate(
            "Array.from(document.querySelectorAll('h1, h2'))"
            ".map(h => getComputedStyle(h).textAlign)"
        )
        title = page.title()
        browser.close()
    assert errors == []
    assert [i["alt"] for i in images] == [
        "ratings per user",
        "mean NDCG@20 with confidence intervals",
        "per-user NDCG@20",
        "accuracy against popularity",
        "discount curve",
    ]
    for image in images:
        assert image["complete"]
        assert image["natural"] > 0
        assert image["width"] > 100
        assert image["height"] > 100
        assert image["width"] <= image["natural"] + 2  # never blown up (2: the 1px border)
    panels = images[2]
    assert panels["naturalHeight"] > 4 * 120  # four model panels stacked, each readable
    assert set(titles) == {"left"}
    assert "ml-latest-small" in title
