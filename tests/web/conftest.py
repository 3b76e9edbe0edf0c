"""Browser fixtures shared by the web UI test modules: one Chromium and one page per module.

Each browser test module defines its own ``cluster`` fixture (the page is opened on it) and
its own autouse fixtures; the tests of a module share the page and run in file order.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.web.browserkit import CHROMIUM_FLAGS, TIMEOUT_MS, VIEWPORT, WireWatch, chromium_path


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    executable = chromium_path()
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=executable, headless=True,
                                              args=CHROMIUM_FLAGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def page(browser: Browser, cluster) -> Iterator[Page]:
    context = browser.new_context(viewport=VIEWPORT)
    context.set_default_timeout(TIMEOUT_MS)
    expect.set_options(timeout=TIMEOUT_MS)
    tab = context.new_page()
    yield tab
    context.close()


@pytest.fixture(scope="module")
def wire(page: Page) -> WireWatch:
    return WireWatch(page)
