"""Canary secrets planted through the services never reach any owner-console page's HTML — including the pages
that redisplay a form after a failed test, where a careless widget would echo what was typed."""

import pytest
from django.test import Client

from audit.models import AuditEvent
from byok.providers.registry import PROVIDERS
from tests.byok.test_no_leaks import Planted, planted  # noqa: F401  (the fixture plants one key per provider)

pytestmark = pytest.mark.django_db

KEYS = "/manage/byok/providerkey/"


def console_pages(client: Client, canaries: Planted) -> dict[str, str]:
    """Every console page, fetched as the owner, by URL (POSTs that redisplay a form are included)."""
    pages = {}

    def get(url):
        response = client.get(url)
        assert response.status_code == 200, url
        pages[url] = response.content.decode()

    def post(url, data, *, follow=False):
        response = client.post(url, data, follow=follow)
        assert response.status_code == 200, url  # a redisplayed form: the test failed, nothing was saved
        pages[f"POST {url} {sorted(data)}"] = response.content.decode()

    for url in ("/manage/", KEYS, f"{KEYS}?status=active", f"{KEYS}add/", f"{KEYS}revert/",
                "/manage/accounts/workspace/", f"/manage/accounts/workspace/{canaries.workspace.pk}/change/",
                "/manage/usage/", "/manage/audit/auditevent/", "/manage/byok/usagelimit/",
                "/manage/byok/usagelimit/add/"):
        get(url)
    for provider in PROVIDERS:
        get(f"{KEYS}add/?provider={provider}")
    for key in canaries.keys.values():
        for suffix in ("change/", "rotate/", "delete/", "history/"):
            get(f"{KEYS}{key.pk}/{suffix}")
        post(f"{KEYS}{key.pk}/test/", {}, follow=True)  # post-redirect-get: the key's page with the result
    regional = {"regional-TOTAL_FORMS": "1", "regional-INITIAL_FORMS": "0"}
    for provider, key in canaries.keys.items():
        typed = canaries.fresh(provider)  # fresh canaries typed into forms whose test then fails
        post(f"{KEYS}add/?provider={provider}", {"name": f"{provider} retry", "fallback_mode": "platform",
                                                  "scope": "selected", "workspaces": [canaries.workspace.pk],
                                                  "inference_profile": "global", **typed, **regional})
        post(f"{KEYS}add/?provider={provider}", {"_test": "Test", "inference_profile": "global",
                                                  **canaries.fresh(provider), **regional})  # test only, no save
        post(f"{KEYS}{key.pk}/rotate/", {**canaries.fresh(provider), **regional})
    for event in AuditEvent.objects.filter(owner=canaries.owner):
        get(f"/manage/audit/auditevent/{event.pk}/change/")
    return pages


def test_canaries_appear_on_no_console_page(planted, settings):  # noqa: F811
    settings.BYOK_CONNECTION_TEST_RATE = "1000/min"
    client = Client()
    client.force_login(planted.owner)
    pages = console_pages(client, planted)
    assert len(pages) > 60
    leaks = [(url, canary[:6]) for url, html in pages.items() for canary in planted.canaries if canary in html]
    assert leaks == []


def test_the_canary_search_finds_a_secret_that_is_on_the_page(planted):  # noqa: F811
    """The search above is not vacuous: a page that did show a secret would be caught."""
    html = f"<td>{planted.keys['openai'].get_credentials()['api_key']}</td>"
    assert any(canary in html for canary in planted.canaries)
