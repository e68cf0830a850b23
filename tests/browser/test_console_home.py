"""The console's home page and the add form's Test button, in a real browser (as olivia, ada and frank)."""

from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.utils import timezone

from accounts.models import User
from byok.models import Model, ProviderKey, UsageRecord
from byok.providers.bedrock.profiles import SONNET_4_5
from byok.services.keys import provider_key_create

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

KEYS = "/manage/byok/providerkey/"
DOCS = Path(django_settings.BASE_DIR) / "docs"


def olivias_key(sandbox) -> ProviderKey:
    olivia = User.objects.get(username="olivia")
    account = sandbox.account("demo-bedrock")
    key = provider_key_create(owner=olivia, provider="bedrock", name="Production", credentials={
        "access_key_id": account.access_key_id, "secret_access_key": account.secret_access_key})
    workspace = olivia.owned_workspaces.get(slug="acme")
    UsageRecord.objects.bulk_create([
        UsageRecord(workspace=workspace, owner=olivia, user=olivia, provider="bedrock", model="m", task="standard",
                    source="byok" if i % 4 else "platform", key_id=key.pk) for i in range(24)])
    return key


def test_owner_home_shows_the_serving_key_usage_and_tests_it(open_as, sandbox, settings):
    from byok_project.stack import sandbox_platform_env

    # As under `make run`: platform credentials on the simulator's demo accounts.
    settings.BYOK_PLATFORM_ENV = {k: v for k, v in sandbox_platform_env().items() if k.startswith("PLATFORM_")}
    key = olivias_key(sandbox)
    page = open_as("olivia")
    assert page.url.endswith("/manage/")
    serving = page.locator("#workspace-acme .byok-serving-byok")
    assert "“Production”" in serving.inner_text() and key.key_hint in serving.inner_text()
    assert page.locator("svg.byok-chart rect").count() > 0
    assert "last 24 h 18 on own keys, 6 on platform credentials" in page.locator("#workspace-acme").inner_text()
    page.screenshot(path=str(DOCS / "console-home.png"), full_page=True)
    serving.get_by_role("button", name="Test Production").click()
    page.wait_for_load_state()
    assert "Connection test passed" in page.locator("ul.messagelist").inner_text()
    assert "tested=1" in page.url and "111122223333" in page.locator("#test-result").inner_text()
    page.reload()  # post-redirect-get: a reload shows the same page, not a blank 405
    assert "111122223333" in page.locator("#test-result").inner_text()


def test_owner_home_says_which_model_her_traffic_uses_retires_and_what_replaces_it(open_as, sandbox):
    olivias_key(sandbox)
    olivia = User.objects.get(username="olivia")
    UsageRecord.objects.create(workspace=olivia.owned_workspaces.get(slug="acme"), owner=olivia, provider="bedrock",
                               model="global." + SONNET_4_5, task="standard", source="byok")
    sonnet = Model.objects.get(family="bedrock", model_id=SONNET_4_5)
    sonnet.status, sonnet.deprecated_on = Model.Status.AVAILABLE, None  # retiring, not yet deprecated
    sonnet.retires_on = timezone.localdate() + timedelta(days=12)
    sonnet.replacement = Model.objects.get(family="bedrock", model_id="anthropic.claude-haiku-4-5-20251001-v1:0")
    sonnet.save()
    notice = open_as("olivia").locator("#model-notices")
    assert notice.is_visible()
    assert notice.locator("li").inner_text() == (
        f"Claude Sonnet 4.5 (used by your traffic in Acme) retires on {sonnet.retires_on:%Y-%m-%d}; byok will move "
        f"the standard tier to Claude Haiku 4.5 then.")


def test_admin_home_reads_the_owners_setup_without_owner_buttons(open_as, sandbox):
    olivias_key(sandbox)
    page = open_as("ada")
    text = page.locator("#workspace-acme").inner_text()
    assert "you administer it for olivia" in text and "“Production”" in text
    assert page.locator("#workspace-acme input[type=submit]").count() == 0
    assert "revert" not in page.locator("#content-main").inner_text().lower()


def test_free_owner_home_shows_platform_and_the_upgrade_path(open_as):
    page = open_as("frank")
    assert page.locator("#plan-required").is_visible() and page.locator("#upgrade-path").is_visible()
    row = page.locator(".byok-serving tbody tr").first.inner_text()
    assert "plan does not include bring-your-own-key" in row


def test_test_button_on_the_add_form_tests_without_saving(open_as, sandbox):
    page = open_as("olivia")
    page.goto(f"{KEYS}add/?provider=bedrock")
    account = sandbox.account("demo-bedrock")
    page.fill('input[name="access_key_id"]', account.access_key_id)
    page.fill('input[name="secret_access_key"]', account.secret_access_key)
    page.get_by_role("button", name="Test", exact=True).click()
    page.wait_for_load_state()
    result = page.locator("#test-result").inner_text()
    assert "passed" in result and "Claude Sonnet 4.5" in result and "Claude Opus 4.5" in result
    assert "nothing was saved" in page.locator(".byok-tested-only").inner_text()
    assert not ProviderKey.objects.exists()
    page.fill('input[name="name"]', "Production")
    page.screenshot(path=str(DOCS / "console-add-form.png"), full_page=True)
