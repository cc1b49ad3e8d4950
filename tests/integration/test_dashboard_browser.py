"""The dashboard in a real browser: Debian's chromium loads `/` from a running worker, runs its script,
and shows every arena's treasury exactly as the API gives it."""

from __future__ import annotations

from pathlib import Path

import pytest
from selenium.webdriver.chrome.webdriver import WebDriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from producers.publisher import CommandPublisher
from producers.simulation import SimulationConfig, simulate
from streams.kafka.lag import wait_for_worker
from streams.kafka.partitioning import partition_for
from streams.kafka.settings import Settings
from streams.report.money import format_money
from streams.worker.process import running_worker
from tests.support.browser import headless_chromium
from tests.support.web import free_port, get

pytestmark = pytest.mark.integration


def test_the_dashboard_shows_each_arena_s_treasury_as_the_api_gives_it(
    settings: Settings, prefix: str, tmp_path: Path
) -> None:
    app_id = f"{prefix}app"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    config = SimulationConfig(seed=5, arenas=4, agents_per_arena=12, days=4, partitions=settings.partitions)
    with running_worker(settings, app_id, tmp_path, env={"ARENA_WEB_PORT": str(port)}):
        with CommandPublisher(settings) as publisher:
            publisher.publish_many(simulate(config, partitioner=partition_for).commands())
            publisher.publish_raw("not-json", b"{this is not json")  # one dead letter to show
        wait_for_worker(settings, app_id, timeout_s=300)
        arenas = get(url, "/arenas")[1]["arenas"]
        driver = headless_chromium(tmp_path / "chromium-profile")
        try:
            driver.set_page_load_timeout(30)
            driver.get(url + "/")

            def rendered(d: WebDriver) -> bool:
                rows = d.find_elements(By.CSS_SELECTOR, "#arenas tbody tr[data-arena]")
                letters = d.find_elements(By.CSS_SELECTOR, "#dead-letters tbody td")
                return len(rows) == len(arenas) and bool(letters) and "INVALID_JSON" in letters[1].text

            WebDriverWait(driver, 30).until(rendered)
            shown = {
                row.get_attribute("data-arena"): row.find_element(By.CSS_SELECTOR, "td.treasury")
                for row in driver.find_elements(By.CSS_SELECTOR, "#arenas tbody tr[data-arena]")
            }
            cells = {
                arena: (cell.get_attribute("data-minor"), cell.get_attribute("data-currency"), cell.text)
                for arena, cell in shown.items()
            }
            ready = driver.find_element(By.ID, "ready").text
            dead_letter = driver.find_element(By.CSS_SELECTOR, "#dead-letters tbody tr").text
            origins = driver.execute_script(
                "return performance.getEntriesByType('resource').map(e => new URL(e.name).origin)"
            )
            driver.save_screenshot(str(tmp_path / "dashboard.png"))
        finally:
            driver.quit()

    assert len(arenas) == config.arenas
    for arena in arenas:
        treasury = arena["treasury"]
        minor, currency, text = cells[arena["arena_id"]]
        assert (int(minor or -1), currency) == (treasury["amount"], treasury["currency"]), arena["arena_id"]
        assert text == format_money(treasury["amount"], treasury["currency"])
    assert ready == "ready"
    assert "INVALID_JSON" in dead_letter
    assert set(origins) <= {url}, f"the page fetched from elsewhere: {set(origins)}"
