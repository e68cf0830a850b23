"""The owner console in a real browser, against the live server and the provider simulator."""

from pathlib import Path

import pytest
from django.conf import settings as django_settings

from accounts.models import User
from accounts.services import user_plan_change
from byok.models import ProviderKey
from byok.providers.bedrock.profiles import SONNET_4_5
from byok.services.keys import provider_key_create

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

KEYS = "/manage/byok/providerkey/"
SCREENSHOT = Path(django_settings.BASE_DIR) / "docs" / "owner-console.png"


def add_bedrock_key(page, account, name="Production") -> None:
    """Through the two add steps: the provider first, then only its fields; submit runs Test and save."""
    page.goto(f"{KEYS}add/")
    page.get_by_role("link", name="AWS Bedrock (IAM credentials)").click()
    page.fill('input[name="name"]', name)
    page.fill('input[name="access_key_id"]', account.access_key_id)
    page.fill('input[name="secret_access_key"]', account.secret_access_key)
    page.get_by_role("button", name="Test and save").click()
    page.wait_for_load_state()


def check_rows(page) -> dict[str, str]:
    """{check target: its whole row's text} of the test result on the page."""
    rows = page.locator("#test-result tr.byok-check")
    return {rows.nth(i).locator("code").inner_text(): rows.nth(i).inner_text() for i in range(rows.count())}


def test_owner_adds_tests_rotates_and_reverts_a_bedrock_key(open_as, sandbox):
    page = open_as("olivia")
    add_bedrock_key(page, sandbox.account("demo-bedrock"))
    assert "The connection test passed" in page.locator("ul.messagelist").inner_text()

    page.get_by_role("button", name="Test connection").click()
    page.wait_for_load_state()
    rows = check_rows(page)
    assert [row.startswith("✓") for target, row in rows.items() if "claude" in target] == [True, True]
    assert "111122223333" in page.locator("#test-result").inner_text()
    page.screenshot(path=str(SCREENSHOT), full_page=True)

    page.goto(KEYS)
    assert page.locator(".byok-badge-active").inner_text() == "Active"

    page.get_by_role("link", name="Production").click()
    page.get_by_role("link", name="Rotate").click()
    fresh = sandbox.add_account("bedrock")
    page.fill('input[name="access_key_id"]', fresh.access_key_id)
    page.fill('input[name="secret_access_key"]', fresh.secret_access_key)
    page.get_by_role("button", name="Test and rotate").click()
    page.wait_for_load_state()
    assert "is rotated" in page.locator("ul.messagelist").inner_text()
    assert ProviderKey.objects.get().get_credentials()["access_key_id"] == fresh.access_key_id

    page.goto(KEYS)
    page.get_by_role("link", name="Revert to platform keys").click()
    page.get_by_label("I understand this deletes my stored credentials").check()
    page.get_by_role("button", name="Revert to platform keys").click()
    page.wait_for_load_state()
    assert "Reverted to platform keys: 1 stored key(s) deleted" in page.locator("ul.messagelist").inner_text()
    assert not ProviderKey.objects.exists()


def test_account_without_opus_shows_sonnet_passing_opus_failing_and_stores_nothing(open_as, sandbox):
    page = open_as("olivia")
    add_bedrock_key(page, sandbox.add_account("bedrock", models=[SONNET_4_5]))
    rows = check_rows(page)
    sonnet = next(row for target, row in rows.items() if "sonnet" in target)
    opus = next(row for target, row in rows.items() if "opus" in target)
    assert sonnet.startswith("✓")
    assert opus.startswith("✗") and "model_access" in opus and "Model access" in opus
    assert "nothing was saved" in page.locator("#test-result").inner_text()
    assert not ProviderKey.objects.exists()


def test_free_plan_owner_sees_the_plan_needed_and_cannot_add(open_as):
    page = open_as("frank")
    page.goto(KEYS)
    assert "upgrade to Business or Enterprise" in page.locator("#plan-required").inner_text()
    assert page.get_by_role("link", name="Add provider key").count() == 0
    page.goto(f"{KEYS}add/?provider=bedrock")
    assert page.locator("#plan-required").is_visible()
    assert page.locator('input[name="secret_access_key"]').count() == 0


def test_member_cannot_open_the_console(open_as):
    page = open_as("mark")
    assert "This console is for workspace owners and admins" in page.locator(".errornote").inner_text()
    page.goto("/manage/")
    assert "/manage/login/" in page.url


def test_owner_gets_404_on_another_owners_key(open_as, sim):
    frank = user_plan_change(user=User.objects.get(username="frank"), plan_code="business", actor=None)
    account = sim.account("demo-bedrock")
    key = provider_key_create(owner=frank, provider="bedrock", name="Frank's", skip_test=True,
                              credentials={"access_key_id": account.access_key_id,
                                           "secret_access_key": account.secret_access_key})
    page = open_as("olivia")
    response = page.goto(f"{KEYS}{key.pk}/change/")
    assert response.status == 404
    assert key.key_hint not in page.content()
