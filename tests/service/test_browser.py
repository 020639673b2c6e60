"""The web page in headless Chromium (Debian's, driven by Playwright): upload a frame and
see the labels, the probability bars and the heatmap overlay."""

import os
import shutil

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
pytestmark = pytest.mark.skipif(not os.path.exists(CHROMIUM),
                                reason="Debian's chromium is not installed (apt-get install "
                                       "chromium; .ci/run does)")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def test_upload_shows_labels_bars_and_overlay(live_server, frames_dir, tmp_path):
    from playwright.sync_api import sync_playwright

    frame = next(frames_dir.glob("cbf/*.cbf"))
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        page.goto(live_server + "/")
        page.set_input_files("#file", str(frame))
        page.wait_for_selector("#bars .bar", timeout=120_000)
        status = page.inner_text("#status")
        assert frame.name in status
        assert page.locator("#bars .bar").count() == 7
        assert "beam centre" in page.inner_text("#centre")
        assert page.eval_on_selector("#image", "img => img.naturalWidth") > 0
        flagged = page.locator("#bars .bar.on").count()
        assert page.locator("#bars .evidence").count() == flagged  # a reason under each
        if flagged:  # the first flagged class's heatmap is overlaid
            page.wait_for_function("document.getElementById('overlay').naturalWidth > 0")
        page.screenshot(path=str(tmp_path / "page.png"), full_page=True)
        browser.close()
    assert (tmp_path / "page.png").stat().st_size > 10_000
