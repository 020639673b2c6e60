"""Screenshots for docs/: the scan report, and the service page after an upload with the
dashboard of a watched run. Run after ``make demo`` (it uses demo-out/):

    .venv/bin/python scripts/screenshots.py

Needs Debian's chromium (apt-get install chromium).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

from mxqc.serve.local import serve_subprocess

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
DOCS = Path("docs")


def open_from_strip(page, fraction: float) -> None:
    """Click the first sweep's strip ``fraction`` of the way along its frames."""
    strip = page.locator(".strip img").first
    strip.scroll_into_view_if_needed()
    box, click = strip.bounding_box(), json.loads(strip.get_attribute("data-click"))
    x = box["width"] * (click["x0"] + fraction * (click["x1"] - click["x0"]))
    y = box["height"] * (click["y0"] + click["y1"]) / 2
    strip.click(position={"x": x, "y": y})
    page.wait_for_selector("#viewer", state="visible")


def main():
    report = Path("demo-out/scan/report.html").resolve()
    frame = sorted(Path("demo-out/run/series1").glob("sim_11_0000*.cbf"))[0]
    subprocess.run([sys.executable, "-m", "mxqc.cli", "watch", "demo-out/run/series2",
                    "--db", "demo-out/watch.sqlite", "--until-idle", "--no-verbose"],
                   check=True)
    with serve_subprocess("--db", "demo-out/watch.sqlite") as url:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=FLAGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(report.as_uri())
            page.screenshot(path=str(DOCS / "report-summary.png"))
            page.locator("#frames").scroll_into_view_if_needed()
            page.screenshot(path=str(DOCS / "report-frames.png"))
            open_from_strip(page, 0.3)
            page.screenshot(path=str(DOCS / "report-click.png"))
            page.goto(url + "/")
            page.set_input_files("#file", str(frame))
            page.wait_for_selector("#bars .bar", timeout=300_000)
            page.wait_for_timeout(1500)
            # one page: the upload result above, the dashboard of the watched run below
            page.screenshot(path=str(DOCS / "service-page.png"), full_page=True)
            browser.close()


if __name__ == "__main__":
    main()
