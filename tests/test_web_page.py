"""The web page in a real browser: Debian's chromium, headless, driven by selenium, against a
real `rag serve`."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.documents import write_two_page_pdf
from tests.servers import free_port, running_server

RAG_BIN = Path(sys.executable).parent / "rag"

pytestmark = pytest.mark.slow


def _browser(width: int, height: int) -> Any:
    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if not chromium or not driver:
        if os.environ.get("CI"):
            pytest.fail("chromium and chromium-driver must be installed (.ci/run installs them)")
        pytest.skip("no chromium/chromedriver here: apt-get install chromium chromium-driver")
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = chromium
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage"):
        options.add_argument(flag)
    options.add_argument(f"--window-size={width},{height}")
    return webdriver.Chrome(service=Service(driver), options=options)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        "RAG_HOME": str(tmp_path / "home"),
        "RAG_ANSWER_MODE": "generative",
        "RAG_MAX_ANSWER_TOKENS": "40",
        "SE_AVOID_STATS": "true",
    }
    with running_server([str(RAG_BIN), "serve", "--port", str(port)], f"{base}/healthz", env):
        yield base


def _wait(driver: Any, condition: Any, timeout: float = 240) -> Any:
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout, poll_frequency=0.2).until(condition)


def test_upload_ask_stream_and_open_the_cited_page(server: str, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    pdf = write_two_page_pdf(tmp_path / "report.pdf")
    note = tmp_path / "note.txt"
    note.write_text(
        "Script note.\n\nThe note about the script says: <script>window.pwned = 1</script> "
        "and <b>bold</b> must show as text.\n"
    )
    driver = _browser(1200, 900)
    try:
        driver.get(server + "/")
        upload = driver.find_element(By.ID, "files")
        upload.send_keys(f"{pdf}\n{note}")
        driver.find_element(By.CSS_SELECTOR, "#upload-form button[type=submit]").click()
        _wait(driver, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#documents tbody tr")) == 2)
        jobs = driver.find_element(By.ID, "job").text
        assert "report.pdf: ingested" in jobs and "note.txt: ingested" in jobs

        # Record every change of the answer's text while it streams.
        driver.execute_script(
            "window.seen = [];"
            "new MutationObserver(() => {"
            " const last = [...document.querySelectorAll('#conversation li.assistant')].pop();"
            " if (last && last.getAttribute('aria-busy'))"
            "  window.seen.push(last.textContent.length);"
            "}).observe(document.getElementById('conversation'),"
            " {childList: true, subtree: true, characterData: true});"
        )
        driver.find_element(By.ID, "question").send_keys("What is the launch code?")
        driver.find_element(By.ID, "ask-button").click()
        _wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#conversation .sources"))
        seen = [n for n in driver.execute_script("return window.seen") if n > 0]
        assert len(set(seen)) >= 2, seen  # the tokens arrived one after another

        driver.find_element(By.CSS_SELECTOR, "#conversation .sources button").click()
        _wait(driver, lambda d: d.find_element(By.ID, "citation").is_displayed())
        assert driver.find_element(By.ID, "citation-title").text == "[1] report.pdf"
        assert "page 2" in driver.find_element(By.ID, "citation-where").text
        assert "PURPLE-42" in driver.find_element(By.ID, "citation-text").text
        driver.find_element(By.ID, "citation-open").click()
        opened = _wait(
            driver,
            lambda d: d.find_element(By.ID, "citation-open").get_attribute("data-opened"),
        )
        assert opened.startswith("blob:") and opened.endswith("#page=2")
        url = driver.find_element(By.ID, "citation-open").get_attribute("data-url")
        original = httpx.get(server + url, timeout=30)
        assert original.headers["content-type"] == "application/pdf"
        assert original.content == pdf.read_bytes()

        # A follow-up in the same conversation, about the note whose text holds markup.
        driver.find_element(By.ID, "question").send_keys("What does the script note say?")
        driver.find_element(By.ID, "ask-button").click()
        _wait(
            driver, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#conversation .sources")) == 2
        )
        buttons = driver.find_elements(By.CSS_SELECTOR, "#conversation .sources")[-1]
        note_button = next(
            b for b in buttons.find_elements(By.TAG_NAME, "button") if "note.txt" in b.text
        )
        note_button.click()
        shown = driver.find_element(By.ID, "citation-text")
        assert "<script>window.pwned = 1</script>" in shown.text
        assert "<b>bold</b>" in shown.text
        assert not shown.find_elements(By.TAG_NAME, "b")
        assert driver.execute_script("return window.pwned === undefined")
        if os.environ.get("RAG_SCREENSHOT"):
            driver.save_screenshot(os.environ["RAG_SCREENSHOT"])
    finally:
        driver.quit()


def test_the_page_fits_a_phone_and_keeps_its_labels(server: str) -> None:
    from selenium.webdriver.common.by import By

    driver = _browser(390, 844)
    try:
        driver.get(server + "/")
        columns = driver.execute_script(
            "return getComputedStyle(document.querySelector('main')).gridTemplateColumns"
        )
        assert len(columns.split()) == 1  # one column on a phone
        page, screen = driver.execute_script(
            "return [document.documentElement.scrollWidth, window.innerWidth]"
        )
        assert screen <= 800 and page <= screen  # nothing scrolls sideways
        for field in ("collection", "question", "files", "api-key"):
            labels = driver.find_elements(By.CSS_SELECTOR, f"label[for='{field}']")
            assert labels, f"#{field} has no label"
    finally:
        driver.quit()


def test_with_keys_the_page_asks_for_one_then_uploads_refuses_and_deletes(
    tmp_path: Path,
) -> None:
    from selenium.webdriver.common.by import By

    home = tmp_path / "home"
    env = {"RAG_HOME": str(home), "SE_AVOID_STATS": "true"}
    made = subprocess.run(
        [str(RAG_BIN), "keys", "add", "browser", "--json"],
        capture_output=True, text=True, env={**os.environ, **env}, timeout=120, check=True,
    )  # fmt: skip
    key = json.loads(made.stdout)["key"]
    memo = tmp_path / "memo.txt"
    memo.write_text("The canteen closes at three on Fridays.\n")
    odd = tmp_path / "drawing.xyz"
    odd.write_bytes(b"\x00\x01 not a document")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with running_server([str(RAG_BIN), "serve", "--port", str(port)], f"{base}/healthz", env):
        driver = _browser(1200, 900)
        try:
            driver.get(base + "/")
            _wait(driver, lambda d: "API key" in d.find_element(By.ID, "status").text)
            driver.find_element(By.CSS_SELECTOR, "#key-box summary").click()
            driver.find_element(By.ID, "api-key").send_keys(key)
            driver.find_element(By.CSS_SELECTOR, "#key-form button").click()
            _wait(driver, lambda d: d.find_element(By.ID, "status").text == "")
            stored = driver.execute_script("return sessionStorage.getItem('localrag-api-key')")
            assert stored == key

            driver.find_element(By.ID, "files").send_keys(f"{memo}\n{odd}")
            driver.find_element(By.CSS_SELECTOR, "#upload-form button[type=submit]").click()
            rows = "#documents tbody tr"
            _wait(driver, lambda d: len(d.find_elements(By.CSS_SELECTOR, rows)) == 1)
            failed = driver.find_element(By.CSS_SELECTOR, "#job li.failed").text
            assert failed.startswith("drawing.xyz: failed (") and len(failed) > 30

            driver.find_element(By.CSS_SELECTOR, "#documents tbody button").click()
            driver.switch_to.alert.accept()
            _wait(driver, lambda d: not d.find_elements(By.CSS_SELECTOR, rows))
            listed = httpx.get(
                f"{base}/v1/documents", headers={"Authorization": f"Bearer {key}"}, timeout=30
            )
            assert listed.json()["documents"] == []
        finally:
            driver.quit()
