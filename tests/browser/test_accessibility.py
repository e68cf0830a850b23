"""Every console page through axe-core (vendored: tests/fixtures/axe) at 1280 px and 390 px: no serious or critical
violation; and no horizontal scroll at 390 px on the home page, the key list and the add forms."""

import json
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core import mail

from accounts.models import User, Workspace
from byok.services.keys import provider_key_create
from byok.services.limits import usage_limit_set
from tests.byok.routing_helpers import regional_set

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

AXE = Path(__file__).resolve().parent.parent / "fixtures" / "axe" / "axe.min.js"
WIDTHS = (1280, 390)
KEYS = "/manage/byok/providerkey/"
LIMITS = "/manage/byok/usagelimit/"


def axe_violations(page) -> list[str]:
    """The serious and critical violations axe finds on the page, one line each (rule, impact, first targets)."""
    page.add_script_tag(path=str(AXE))
    results = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    return [f"{v['id']} ({v['impact']}): {json.dumps([n['target'] for n in v['nodes'][:3]])}"
            for v in results["violations"] if v["impact"] in ("serious", "critical")]


def horizontal_overflow(page) -> int:
    return page.evaluate("() => document.documentElement.scrollWidth - document.documentElement.clientWidth")


@pytest.fixture
def olivias_keys(sandbox):
    olivia = User.objects.get(username="olivia")
    main, eu = sandbox.account("demo-bedrock"), sandbox.add_account("bedrock")
    key = provider_key_create(owner=olivia, provider="bedrock", name="Production", inference_profile="eu",
                              regional_credentials=[regional_set(eu, "eu-west-1")],
                              credentials={"access_key_id": main.access_key_id,
                                           "secret_access_key": main.secret_access_key})
    return key


def owner_pages(key) -> list[str]:
    acme = Workspace.objects.get(slug="acme")
    olivia = User.objects.get(username="olivia")
    budget = usage_limit_set(owner=olivia, actor=olivia, subject="workspace", workspace=acme,
                             metric="money_per_month", value=5000, thresholds=[80])
    return [LIMITS, f"{LIMITS}add/", f"{LIMITS}{budget.pk}/change/", f"{LIMITS}{budget.pk}/delete/", "/manage/", KEYS, f"{KEYS}add/", f"{KEYS}add/?provider=bedrock", f"{KEYS}add/?provider=bedrock_role",
            f"{KEYS}add/?provider=vertex", f"{KEYS}add/?provider=openai", f"{KEYS}{key.pk}/change/",
            f"{KEYS}{key.pk}/rotate/", f"{KEYS}revert/", f"{KEYS}{key.pk}/delete/",
            "/manage/accounts/workspace/", f"/manage/accounts/workspace/{acme.pk}/change/",
            "/manage/accounts/apikey/", "/manage/audit/auditevent/", "/manage/usage/", "/manage/me/"]


@pytest.mark.parametrize("width", WIDTHS)
def test_every_owner_console_page_has_no_serious_axe_violation(open_as, olivias_keys, width):
    page = open_as("olivia")
    page.set_viewport_size({"width": width, "height": 900})
    found = {}
    for url in owner_pages(olivias_keys):
        page.goto(url)
        violations = axe_violations(page)
        if violations:
            found[url] = violations
    assert found == {}


@pytest.mark.parametrize("width", WIDTHS)
def test_sign_in_free_owner_member_and_invitation_pages_have_no_serious_axe_violation(browser, live_server, open_as,
                                                                                     width):
    found = {}
    context = browser.new_context(viewport={"width": width, "height": 900}, base_url=live_server.url)
    anonymous = context.new_page()
    for url in ("/manage/login/", "/manage/invitations/sign-in/", "/manage/invitations/not-a-token/"):
        anonymous.goto(url)
        found[url] = axe_violations(anonymous)
    olivia = open_as("olivia")
    olivia.goto(f"/manage/accounts/workspace/{Workspace.objects.get(slug='acme').pk}/change/")
    olivia.fill("#invite input[name=email]", "axe@example.com")
    olivia.get_by_role("button", name="Send invitation").click()
    olivia.wait_for_load_state()
    link = next(line for line in mail.outbox[-1].body.split() if "/manage/invitations/" in line)
    path = link[link.index("/manage/"):]
    for url in (path, path + "sign-up/"):
        anonymous.goto(url)
        found[url] = axe_violations(anonymous)
    frank = open_as("frank")
    frank.set_viewport_size({"width": width, "height": 900})
    for url in ("/manage/", KEYS, f"{KEYS}add/?provider=bedrock"):
        frank.goto(url)
        found[f"frank {url}"] = axe_violations(frank)
    # A member signs in where members may (the console's own sign-in is for owners and admins).
    anonymous.goto("/manage/me/")
    anonymous.fill("#id_username", "mark")
    anonymous.fill("#id_password", django_settings.BYOK_DEMO_PASSWORD)
    anonymous.click("input[type=submit]")
    anonymous.wait_for_load_state()
    assert anonymous.url.endswith("/manage/me/")
    found["mark /manage/me/"] = axe_violations(anonymous)
    context.close()
    assert {url: v for url, v in found.items() if v} == {}


def test_no_horizontal_scroll_at_390_px_on_home_key_list_and_add_forms(open_as, olivias_keys):
    page = open_as("olivia")
    page.set_viewport_size({"width": 390, "height": 844})
    overflow = {}
    for url in ("/manage/", KEYS, f"{KEYS}add/?provider=bedrock", f"{KEYS}add/?provider=bedrock_role",
                f"{KEYS}add/?provider=vertex", f"{KEYS}add/?provider=openai", f"{KEYS}{olivias_keys.pk}/rotate/"):
        page.goto(url)
        overflow[url] = horizontal_overflow(page)
    assert {url: px for url, px in overflow.items() if px > 0} == {}
