"""The dashboard in a real headless Chromium (Debian's, driven by Selenium).

One browser and one dashboard (served by waitress on loopback, as `filebridge
dashboard` serves it) for the module, over a journal made by a real demo run and a
live sandbox for re-exports (tests/dashboard_support.py). Each figure a page shows is
checked against the journal, read with plain SQL.

Skips, saying why, when Chromium or its driver is missing (`bash .ci/install-chromium`).
With FILEBRIDGE_SCREENSHOTS=docs/screenshots the main pages are saved as PNGs there.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from filebridge.dashboard import DashboardServer
from filebridge.log import close_logging, setup_logging
from tests.dashboard_support import (
    HOSTILE_FILE,
    HOSTILE_NAME,
    HOSTILE_STATE,
    DemoSite,
    demo_site,
)

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = "/usr/bin/chromedriver"
SCREENSHOTS = os.environ.get("FILEBRIDGE_SCREENSHOTS")  # read before _clean_env runs
WAIT_S = 10.0

pytestmark = pytest.mark.skipif(
    CHROMIUM is None or not Path(CHROMEDRIVER).is_file(),
    reason="Chromium or /usr/bin/chromedriver is not installed "
    "(bash .ci/install-chromium installs them): the dashboard's browser tests skip",
)

webdriver = pytest.importorskip("selenium.webdriver")
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.remote.webdriver import WebDriver  # noqa: E402


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoSite]:
    built = demo_site(tmp_path_factory.mktemp("browser"))
    setup_logging(log_file=built.settings.log_path, console=False)
    yield built
    close_logging()
    built.box.stop()


@pytest.fixture(scope="module")
def base(site: DemoSite) -> Iterator[str]:
    with DashboardServer(site.settings, port=0) as server:
        yield server.url.rstrip("/")


@pytest.fixture(scope="module")
def downloads(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("downloads")


@pytest.fixture(scope="module")
def browser(downloads: Path) -> Iterator[WebDriver]:
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (
        "--headless=new",
        "--no-sandbox",  # CI runs as root
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--window-size=1280,900",
        "--lang=en-US",
    ):
        options.add_argument(flag)
    options.add_experimental_option(
        "prefs",
        {
            "download.default_directory": str(downloads),
            "download.prompt_for_download": False,
            "safebrowsing.enabled": False,
        },
    )
    # An explicit driver path: Selenium Manager never looks for (or downloads) one.
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    driver.execute_cdp_cmd(
        "Page.setDownloadBehavior",
        {"behavior": "allow", "downloadPath": str(downloads)},
    )
    driver.implicitly_wait(0)
    yield driver
    driver.quit()


def text_of(browser: WebDriver, element_id: str) -> str:
    return str(browser.find_element(By.ID, element_id).text)


def shoot(browser: WebDriver, name: str) -> None:
    """Save the page for the README when FILEBRIDGE_SCREENSHOTS names a folder."""
    if not SCREENSHOTS:
        return
    folder = Path(SCREENSHOTS)
    folder.mkdir(parents=True, exist_ok=True)
    height = browser.execute_script("return document.documentElement.scrollHeight")
    browser.set_window_size(1280, min(max(int(height) + 40, 600), 1600))
    browser.save_screenshot(str(folder / f"{name}.png"))
    browser.set_window_size(1280, 900)


def wait_for(condition, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    pytest.fail(f"gave up after {WAIT_S} s waiting for {what}")


def test_health_page_shows_the_journals_figures(
    site: DemoSite, base: str, browser: WebDriver
) -> None:
    browser.get(base + "/")
    assert text_of(browser, "verdict") in {"OK", "WARNING", "CRITICAL"}
    assert int(text_of(browser, "orders-today")) == site.one(
        "SELECT count(*) FROM exported_orders"
    )
    assert int(text_of(browser, "rows-rejected")) == site.one(
        "SELECT count(*) FROM inbox_rows WHERE outcome = 'rejected'"
    )
    assert int(text_of(browser, "inbox-done")) == site.one(
        "SELECT count(*) FROM inbox_files WHERE state IN ('done', 'duplicate')"
    )
    calls = site.one("SELECT count(*) FROM api_calls")
    assert int(text_of(browser, "budget-total")) == calls
    assert int(text_of(browser, "api-hour")) == calls
    bars = browser.find_elements(By.CSS_SELECTOR, "#budget-chart rect.bar")
    assert len(bars) == 24
    assert sum(int(b.get_attribute("data-calls") or 0) for b in bars) == calls
    failed = [p for p in site.settings.folders.failed.iterdir() if p.is_file()]
    assert int(text_of(browser, "failed-waiting")) == len(failed)
    assert f"{len(failed)} file(s) in failed/ to fix" in text_of(browser, "reasons")
    runs = browser.find_elements(By.CSS_SELECTOR, "#runs tbody tr")
    assert len(runs) == min(10, site.one("SELECT count(*) FROM inbox_files") + 1)
    assert site.report.outbox_files[0].name in text_of(browser, "runs")
    shoot(browser, "health")


def test_exports_page_lists_each_file_with_its_orders(
    site: DemoSite, base: str, browser: WebDriver
) -> None:
    browser.get(base + "/exports")
    batches = site.sql("SELECT id, file_name, order_count FROM export_batches")
    rows = browser.find_elements(By.CSS_SELECTOR, "#exports tbody tr")
    shown = {
        int(r.get_attribute("data-batch") or 0): (
            r.find_element(By.CSS_SELECTOR, "a.download").text,
            int(r.find_element(By.CSS_SELECTOR, "td.orders").text),
        )
        for r in rows
    }
    assert shown == {b[0]: (b[1], b[2]) for b in batches}
    shoot(browser, "exports")


def test_inbox_page_shows_each_files_rows_and_the_rejections(
    site: DemoSite, base: str, browser: WebDriver
) -> None:
    browser.get(base + "/inbox")
    rejected = site.sql(
        "SELECT row_number, message FROM inbox_rows WHERE outcome = 'rejected'"
    )
    assert int(text_of(browser, "rejected-count")) == len(rejected)
    lines = browser.find_elements(By.CSS_SELECTOR, "#rejected tbody tr")
    assert len(lines) == len(rejected)
    columns = {line.find_elements(By.TAG_NAME, "td")[3].text for line in lines}
    assert {"order_id", "state", "tracking_url"} <= columns
    files = browser.find_elements(By.CSS_SELECTOR, "details.inbox-file")
    assert len(files) == site.one("SELECT count(*) FROM inbox_files")
    for details, (file_id, rows) in zip(
        files,
        site.sql(
            "SELECT f.id, count(r.row_number) FROM inbox_files f LEFT JOIN inbox_rows r "
            "ON r.file_id = f.id GROUP BY f.id ORDER BY f.id DESC"
        ),
        strict=True,
    ):
        assert details.get_attribute("id") == f"file-{file_id}"
        browser.execute_script("arguments[0].open = true", details)
        assert (
            len(details.find_elements(By.CSS_SELECTOR, "table.rows tbody tr")) == rows
        )
    shoot(browser, "inbox")


def test_a_hostile_file_name_and_cell_render_as_text(
    base: str, browser: WebDriver
) -> None:
    browser.get(base + "/inbox")
    page = browser.find_element(By.TAG_NAME, "main")
    assert HOSTILE_FILE in page.text
    assert HOSTILE_STATE in page.text
    assert page.find_elements(By.CSS_SELECTOR, "main i, main img") == []
    assert browser.execute_script("return window.pwned === undefined")


def test_search_an_order_shows_its_story(
    site: DemoSite, base: str, browser: WebDriver
) -> None:
    order = site.report.moves[0].order_id
    browser.get(base + "/")
    box = browser.find_element(By.CSS_SELECTOR, "header input[name=id]")
    box.send_keys(str(order))
    box.submit()
    wait_for(lambda: browser.find_elements(By.ID, "order-id"), "the order page")
    assert text_of(browser, "order-id") == str(order)
    state, tracking = site.sql(
        "SELECT delivery_state, tracking_code FROM order_states WHERE order_id = ?",
        (order,),
    )[0]
    assert text_of(browser, "delivery-state") == state
    assert text_of(browser, "tracking") == (tracking or "none")
    inbox_rows = browser.find_elements(By.CSS_SELECTOR, "#order-inbox tbody tr")
    assert len(inbox_rows) == site.one(
        "SELECT count(*) FROM inbox_rows WHERE order_id = ?", (order,)
    )
    steps = browser.find_elements(By.CSS_SELECTOR, "#order-steps tbody tr")
    assert [s.find_element(By.TAG_NAME, "td").text for s in steps] == [
        r[0]
        for r in site.sql(
            "SELECT action FROM steps WHERE order_id = ? ORDER BY id", (order,)
        )
    ]
    rows = browser.find_elements(By.CSS_SELECTOR, "#order-rows tbody tr")
    assert len(rows) == site.one(
        "SELECT count(*) FROM batch_orders WHERE order_id = ?", (order,)
    ) * len(site.box.get_order(order)["items"])
    shoot(browser, "order")


def test_download_a_failed_file_and_read_it_back(
    site: DemoSite, base: str, browser: WebDriver, downloads: Path
) -> None:
    failed = sorted(
        p for p in site.settings.folders.failed.iterdir() if p.name.startswith("with-")
    )[0]
    browser.get(base + "/inbox")
    browser.find_element(By.LINK_TEXT, failed.name).click()
    target = downloads / failed.name
    wait_for(target.is_file, f"{target.name} in the download folder")
    wait_for(lambda: target.read_bytes() == failed.read_bytes(), "the whole download")
    assert "scientific notation" in target.read_text(encoding="utf-8-sig")


def test_reexport_an_order_and_see_the_new_outbox_file(
    site: DemoSite, base: str, browser: WebDriver
) -> None:
    order = site.hostile_order
    outbox = site.settings.folders.outbox
    before = {p.name for p in outbox.iterdir()}
    browser.get(f"{base}/order?id={order}")
    browser.find_element(By.ID, "reexport").click()
    wait_for(lambda: browser.find_elements(By.CSS_SELECTOR, ".flash"), "the answer")
    (new,) = {p.name for p in outbox.iterdir()} - before
    assert (
        f"re-exported to {new}" in browser.find_element(By.CSS_SELECTOR, ".flash").text
    )
    assert str(order) in (outbox / new).read_text(encoding="utf-8-sig")
    links = [a.text for a in browser.find_elements(By.CSS_SELECTOR, "#order-exports a")]
    assert new in links
    browser.get(base + "/exports")
    assert new in text_of(browser, "exports")


def test_a_hostile_customer_name_renders_as_text(
    site: DemoSite, base: str, browser: WebDriver
) -> None:
    """The re-exported order's receiver is `<script>…</script>Eve =HYPERLINK(…)`."""
    browser.get(f"{base}/order?id={site.hostile_order}")
    rows = text_of(browser, "order-rows")
    assert "<script>window.pwned=1</script>Eve" in rows
    assert HOSTILE_NAME.split("Eve ")[1] in rows  # the formula, escaped by the writer
    assert browser.find_elements(By.CSS_SELECTOR, "main script") == []
    assert browser.execute_script("return window.pwned === undefined")


def test_mark_a_failed_file_as_dealt_with_and_see_it_in_the_log(
    site: DemoSite, base: str, browser: WebDriver
) -> None:
    failed = site.settings.folders.failed
    name = sorted(p.name for p in failed.iterdir() if p.is_file())[0]
    browser.get(base + "/inbox")
    row = next(
        r
        for r in browser.find_elements(By.CSS_SELECTOR, "tr.failed-file")
        if r.find_element(By.TAG_NAME, "a").text == name
    )
    row.find_element(By.CSS_SELECTOR, "button.dealt").click()
    wait_for(lambda: browser.find_elements(By.CSS_SELECTOR, ".flash"), "the answer")
    assert (failed / "dealt-with" / name).is_file()
    assert not (failed / name).exists()
    dealt = browser.find_element(By.ID, "dealt-with")  # inside a closed <details>
    assert name in str(dealt.get_attribute("textContent"))
    browser.get(base + "/log")
    assert f"dashboard: marked {name} as dealt with" in text_of(browser, "log")
    lines = site.settings.log_path.read_text(encoding="utf-8").splitlines()
    assert int(text_of(browser, "log-count")) == min(200, len(lines))
    shoot(browser, "log")
