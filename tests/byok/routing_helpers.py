"""Shared set-up for routing tests: an owner with a key on a simulated account, members, platform credentials."""

from datetime import timedelta

from django.utils import timezone

from byok.models import ProviderKey
from byok.services.keys import provider_key_create
from core.invalidation import generation_bump
from tests.factories import BusinessUserFactory, WorkspaceFactory, add_member

MESSAGES = [{"role": "user", "content": "Summarise the quarterly report in one line."}]


def key_for(owner, sim_account, provider="bedrock", **options):
    if provider == "bedrock":
        credentials = {"access_key_id": sim_account.access_key_id, "secret_access_key": sim_account.secret_access_key}
        if sim_account.session_token:
            credentials.update(session_token=sim_account.session_token, expires_at="2099-01-01")
    elif provider == "bedrock_api_key":
        credentials = {"api_key": sim_account.api_key, "region": sim_account.region}
    else:
        credentials = {"api_key": sim_account.api_key}
    return provider_key_create(owner=owner, provider=provider, name=options.pop("name", f"{provider} key"),
                               credentials=credentials, skip_test=True, **options)


def vertex_key_for(owner, sandbox, sim_account, **options):
    """The owner's Vertex key on a simulated account: its service-account file as an owner pastes it (the token URI
    is the simulator's), in us-east5 unless `location` says otherwise."""
    credentials = {"service_account_json": sandbox.server.vertex_service_account_json(sim_account.name),
                   "location": options.pop("location", "us-east5")}
    return provider_key_create(owner=owner, provider="vertex", name=options.pop("name", "Vertex"),
                               credentials=credentials, skip_test=True, **options)


def regional_set(sim_account, *regions):
    """A regional credential set on a simulated AWS account, for `regional_credentials`."""
    values = {"regions": list(regions), "access_key_id": sim_account.access_key_id,
              "secret_access_key": sim_account.secret_access_key}
    if sim_account.session_token:
        values["session_token"] = sim_account.session_token
    return values


def use_platform_account(settings, sim, provider="bedrock", profile="us", **fields):
    """Platform credentials on a simulated account of their own (so its calls can be counted); Bedrock's on the
    inference `profile` (the geography whose keys they may serve)."""
    account = sim.add_account("bedrock" if provider == "bedrock" else provider, **fields)
    if provider == "bedrock":
        variables = {"PLATFORM_AWS_ACCESS_KEY_ID": account.access_key_id,
                     "PLATFORM_AWS_SECRET_ACCESS_KEY": account.secret_access_key,
                     "PLATFORM_AWS_REGION": {"eu": "eu-central-1", "apac": "ap-northeast-1"}.get(profile, "us-east-1"),
                     "PLATFORM_BEDROCK_INFERENCE_PROFILE": profile}
    else:
        variables = {f"PLATFORM_{provider.upper()}_API_KEY": account.api_key}
    settings.BYOK_PLATFORM_ENV = {**settings.BYOK_PLATFORM_ENV, **variables}
    return account


def team(owner=None):
    owner = owner or BusinessUserFactory()
    workspace = WorkspaceFactory(owner=owner)
    member = add_member(workspace)
    return owner, workspace, member


def cooled_down(key) -> None:
    """The key's breaker cool-down is over (as if its time had passed): the next call may probe the key. The
    gateway generation moves, as it does when a breaker changes, so cached resolutions see it."""
    ProviderKey.objects.filter(pk=key.pk).update(breaker_open_until=timezone.now() - timedelta(seconds=1))
    generation_bump("gateway")
