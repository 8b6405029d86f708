"""The ``ecgr1 serve`` page in a real browser: Playwright driving the system's Chromium
(Debian's ``chromium`` package; Playwright never downloads a browser here) against the real
server, uploading a shared CPSC 2018 record and reading the streamed interpretation."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from serve_helpers import ServeProcess

pytest.importorskip("fastapi")
sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect

CHROMIUM_PATHS = ("/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome")


def _chromium() -> str:
    given = os.environ.get("ECGR1_CHROMIUM")
    for path in ([given] if given else []) + list(CHROMIUM_PATHS):
        if path and Path(path).is_file() and os.access(path, os.X_OK):
            return path
    pytest.skip("Chromium is not installed (Debian: apt-get install -y chromium; .ci/run does it)")


def test_page_streams_the_interpretation_of_an_uploaded_record(tmp_path, cpsc2018_dir):
    executable = _chromium()
    with ServeProcess(tmp_path / "server", "--jobs", "1") as server:
        with sync_api.sync_playwright() as pw:
            browser = pw.chromium.launch(
                executable_path=executable, args=["--no-sandbox", "--disable-gpu"]
            )
            try:
                page = browser.new_page(viewport={"width": 1300, "height": 1000})
                messages: list[str] = []
                page.on("console", lambda m: messages.append(f"{m.type}: {m.text}"))
                page.on("pageerror", lambda e: messages.append(f"pageerror: {e}"))
                page.goto(server.url + "/")
                # The page's CSP (script-src 'self') forbids eval, so waiting goes through
                # locator assertions: page.wait_for_function compiles its predicate in the page
                # and fails with an EvalError whenever the condition is not already true.
                # No model engine here: the page says an image alone cannot be interpreted.
                expect(page.locator("#engine option")).not_to_have_count(0)
                assert "needs a model engine" in page.inner_text("#image-hint")
                page.set_input_files(
                    "#files", [str(cpsc2018_dir / "A0001.hea"), str(cpsc2018_dir / "A0001.mat")]
                )
                page.fill("#age", "74")
                page.click("#submit")
                page.wait_for_selector("#answer-box", state="visible", timeout=90_000)
                expect(page.locator("#status")).to_have_text("done", timeout=90_000)
                assert page.locator("#steps li").count() == 6
                assert page.inner_text("#steps li:first-child b").startswith("Step 1: Technical")
                assert "complete right bundle branch block" in page.inner_text("#answer")
                assert page.eval_on_selector("#ecg-image", "img => img.naturalWidth") > 500
                assert page.is_visible("#ecg-image")
                table = page.inner_text("#measurements")
                assert "Heart rate" in table and "QRS duration" in table
                assert page.locator("#lead-table tbody tr").count() == 12
                assert "713427006" in page.inner_text("#statements")  # RBBB's SNOMED CT code
                assert "protocol engine" in page.inner_text("#engine-label")
                with page.expect_download() as download:
                    page.click("#download-json")
                saved = json.loads(Path(download.value.path()).read_text())
                assert saved["id"] == "A0001" and "source_path" not in saved
                with page.expect_download() as download:
                    page.click("#download-report")
                assert "Six-step interpretation" in Path(download.value.path()).read_text()
                page.evaluate("window.scrollTo(0, 0)")
                shot = tmp_path / "serve.png"
                page.screenshot(path=str(shot), full_page=False)
                assert shot.stat().st_size > 10_000
                if os.environ.get("ECGR1_SERVE_SCREENSHOT"):
                    shutil.copy(shot, os.environ["ECGR1_SERVE_SCREENSHOT"])
                assert not [m for m in messages if m.startswith(("error", "pageerror"))], messages
            finally:
                browser.close()
