"""A real headless Chromium (Debian's `chromium` package) driven by Playwright against pytest-django's live server.

Without /usr/bin/chromium the browser tests skip with the reason, except in CI (BYOK_REQUIRE_SERVICES=1) where a
missing browser fails them. Nothing is downloaded at test time.
"""

import os
from pathlib import Path

import pytest

from tests.conftest import REQUIRE_SERVICES

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} not found: install Debian's chromium (`apt-get install -y chromium`, or `make test` as root)"
        if REQUIRE_SERVICES:
            pytest.fail(f"{message}; BYOK_REQUIRE_SERVICES=1 requires the browser tests.")
        pytest.skip(f"{message} to run the browser tests.")
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop in this thread; the test's own ORM calls are still synchronous.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            yield chromium
            chromium.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def demo(sandbox):
    """The demo users and workspaces (olivia owns acme on Business, mark is a member, frank is on Free).

    Tests using it are marked `django_db(transaction=True)`: the live server needs committed data.
    """
    from django.core.management import call_command

    call_command("seed_demo")


@pytest.fixture
def open_as(browser, live_server, demo, settings):
    """A signed-in page for a demo user: `page = open_as("olivia")`."""
    contexts = []

    def sign_in(username: str):
        context = browser.new_context(viewport={"width": 1280, "height": 900}, base_url=live_server.url)
        context.set_default_timeout(15_000)
        contexts.append(context)
        page = context.new_page()
        page.goto("/manage/login/")
        page.fill("#id_username", username)
        page.fill("#id_password", settings.BYOK_DEMO_PASSWORD)
        page.click("input[type=submit]")
        page.wait_for_load_state()
        return page

    yield sign_in
    for context in contexts:
        context.close()
