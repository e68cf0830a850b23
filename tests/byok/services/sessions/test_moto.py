"""A second opinion on the STS wire format: moto's server issues the session, and the Bedrock client signs with it."""

import asyncio
from datetime import timedelta

import pytest
from django.utils import timezone

from byok.gateway.clients import client_for
from byok.gateway.resolve import credentials_resolve
from byok.models import ProviderKey
from byok.services.keys import provider_key_create
from byok.services.sessions import session_refresh
from tests.byok.keys_data import BEDROCK_AKIA
from tests.byok.routing_helpers import team

pytestmark = pytest.mark.django_db


@pytest.fixture
def moto(moto_sts, settings):
    settings.BYOK_ENDPOINTS = {"BYOK_STS_ENDPOINT_URL": moto_sts, "BYOK_BEDROCK_ENDPOINT_URL": moto_sts}
    return moto_sts


def test_refresh_against_moto_stores_its_session_and_expiry_and_calls_sign_with_it(moto):
    owner, workspace, member = team()
    key = provider_key_create(owner=owner, provider="bedrock", name="k", credentials=BEDROCK_AKIA, skip_test=True)
    assert session_refresh(key_id=key.pk).status == "refreshed"
    key.refresh_from_db()
    session = key.get_session()
    assert session["session_token"] and session["access_key_id"] != BEDROCK_AKIA["access_key_id"]
    assert abs(key.session_token_expires_at - (timezone.now() + timedelta(hours=12))) < timedelta(minutes=1)

    _, client, _ = asyncio.run(client_for(credentials_resolve(user=member, workspace_slug=workspace.slug)))
    signing = client._credentials.get_frozen_credentials()
    assert (signing.access_key, signing.secret_key, signing.token) == (
        session["access_key_id"], session["secret_access_key"], session["session_token"])
    assert ProviderKey.objects.get(pk=key.pk).session_secret == key.session_secret  # no second refresh
