"""Bad input, table-driven: every case is a 400 naming the exact field with a reason, and nothing is stored."""

import json
from dataclasses import dataclass, field

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from audit.models import AuditEvent
from byok.models import ProviderKey
from byok.providers.registry import get_provider
from byok.services.keys import provider_key_create
from tests.byok.keys_data import (
    ANTHROPIC,
    BEDROCK_AKIA,
    BEDROCK_API_KEY,
    BEDROCK_ASIA,
    DEEPSEEK,
    GROQ,
    MISTRAL,
    OPENAI,
    VALID,
    VERTEX_INFO,
    XAI,
    ZAI,
)
from tests.factories import BusinessUserFactory, WorkspaceFactory

pytestmark = pytest.mark.django_db

AKIA, SECRET = BEDROCK_AKIA["access_key_id"], BEDROCK_AKIA["secret_access_key"]
CYRILLIC_A = "\u0410"  # looks like "A"
REGIONAL_OK = {"regions": ["eu-west-1"], **BEDROCK_AKIA}


@dataclass
class Bad:
    why: str
    field: str
    provider: str = "bedrock"
    credentials: dict | None = None  # merged over the provider's valid credentials; a None value drops the field
    body: dict = field(default_factory=dict)  # merged over the whole request body
    existing: str = ""  # "name" or "owner_wide": a key the owner already has
    says: str = ""  # words the reason must contain
    def request(self, workspace_slug: str) -> dict:
        credentials = {**VALID[self.provider], **(self.credentials or {})}
        body = {"provider": self.provider, "name": "New key", "skip_test": True,
                "credentials": {k: v for k, v in credentials.items() if v is not None}, **self.body}
        if body.get("workspaces") == ["<mine>"]:
            body["workspaces"] = [workspace_slug]
        return body


def creds(**values) -> dict:
    return values


def key_file(**overrides) -> dict:
    """Vertex credentials whose service-account file has `overrides` (a None value drops the field)."""
    info = {k: v for k, v in {**VERTEX_INFO, **overrides}.items() if v is not None}
    return {"service_account_json": json.dumps(info, indent=2)}


def _pem(key, encryption=None) -> str:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             encryption or serialization.NoEncryption()).decode()


_RSA = rsa.generate_private_key(public_exponent=65537, key_size=2048)
ENCRYPTED_PEM = _pem(_RSA, serialization.BestAvailableEncryption(b"passphrase"))
EC_PEM = _pem(ec.generate_private_key(ec.SECP256R1()))
PUBLIC_PEM = _RSA.public_key().public_bytes(serialization.Encoding.PEM,
                                            serialization.PublicFormat.SubjectPublicKeyInfo).decode()
PEM = VERTEX_INFO["private_key"]
SA = "credentials.service_account_json"


BAD_INPUTS = [
    # --- bedrock: Access Key ID
    Bad("access key id with a wrong prefix", "credentials.access_key_id",
        credentials=creds(access_key_id="AKIB" + AKIA[4:])),
    Bad("access key id too short", "credentials.access_key_id", credentials=creds(access_key_id=AKIA[:-1])),
    Bad("access key id too long", "credentials.access_key_id", credentials=creds(access_key_id=AKIA + "Q")),
    Bad("access key id in lower case", "credentials.access_key_id", credentials=creds(access_key_id=AKIA.lower())),
    Bad("access key id with a space inside", "credentials.access_key_id",
        credentials=creds(access_key_id=AKIA[:8] + " " + AKIA[8:])),
    Bad("access key id with a Cyrillic look-alike", "credentials.access_key_id",
        credentials=creds(access_key_id=CYRILLIC_A + AKIA[1:])),
    Bad("access key id with a control character", "credentials.access_key_id",
        credentials=creds(access_key_id=AKIA[:10] + "\x07" + AKIA[11:])),
    Bad("access key id missing", "credentials.access_key_id", credentials=creds(access_key_id=None)),
    # --- bedrock: Secret Access Key
    Bad("secret one character short", "credentials.secret_access_key",
        credentials=creds(secret_access_key=SECRET[:-1])),
    Bad("secret one character long", "credentials.secret_access_key",
        credentials=creds(secret_access_key=SECRET + "A")),
    Bad("secret with a line break inside", "credentials.secret_access_key",
        credentials=creds(secret_access_key=SECRET[:20] + "\n" + SECRET[20:39])),
    Bad("secret with a smart quote", "credentials.secret_access_key",
        credentials=creds(secret_access_key=SECRET[:39] + "\u2019")),
    Bad("secret with a zero-width space", "credentials.secret_access_key",
        credentials=creds(secret_access_key=SECRET[:20] + "\u200b" + SECRET[21:])),
    Bad("secret with a character AWS never uses", "credentials.secret_access_key",
        credentials=creds(secret_access_key=SECRET[:39] + "!")),
    Bad("secret missing", "credentials.secret_access_key", credentials=creds(secret_access_key=None)),
    Bad("secret blank", "credentials.secret_access_key", credentials=creds(secret_access_key="   ")),
    Bad("secret as a number", "credentials.secret_access_key", credentials=creds(secret_access_key=12345)),
    Bad("secret as a list", "credentials.secret_access_key", credentials=creds(secret_access_key=[SECRET])),
    Bad("secret as null", "credentials.secret_access_key", body={"credentials": {"access_key_id": AKIA,
                                                                                 "secret_access_key": None}}),
    Bad("oversized secret", "credentials.secret_access_key", credentials=creds(secret_access_key="A" * 5000)),
    Bad("secret larger than any request field", "credentials.secret_access_key",
        credentials=creds(secret_access_key="A" * 9000)),
    # --- bedrock: how the fields fit together
    Bad("ASIA without its session token", "credentials.session_token",
        credentials={**BEDROCK_ASIA, "session_token": None}),
    Bad("session token with an AKIA key", "credentials.session_token",
        credentials=creds(session_token=BEDROCK_ASIA["session_token"])),
    Bad("expiry for a long-term AKIA key", "credentials.expires_at", credentials=creds(expires_at="2099-01-01")),
    Bad("expiry in the past", "credentials.expires_at", credentials={**BEDROCK_ASIA, "expires_at": "2001-01-01"}),
    Bad("expiry that is not a date", "credentials.expires_at", credentials={**BEDROCK_ASIA, "expires_at": "next week"}),
    Bad("expiry with month 13", "credentials.expires_at", credentials={**BEDROCK_ASIA, "expires_at": "2099-13-01"}),
    Bad("session token with invalid characters", "credentials.session_token",
        credentials={**BEDROCK_ASIA, "session_token": "FwoGZXIvYXdz!@#$%^&*()EBYaDH"}),
    Bad("unknown credential field", "credentials.password", credentials=creds(password="hunter2")),
    Bad("credentials not an object", "credentials", body={"credentials": "AKIA…"}),
    Bad("credentials missing", "credentials", body={"credentials": None}),
    # --- bedrock: profile and regional credential sets
    Bad("unknown inference profile", "inference_profile", body={"inference_profile": "mars"}),
    Bad("inference profile far too long", "inference_profile", body={"inference_profile": "x" * 40}),
    Bad("regional set with an unknown region", "regional_credentials.0.regions",
        body={"regional_credentials": [{**REGIONAL_OK, "regions": ["eu-west-9"]}]}),
    Bad("regional set outside the profile", "regional_credentials.0.regions",
        body={"inference_profile": "eu", "regional_credentials": [{**REGIONAL_OK, "regions": ["us-east-1"]}]}),
    Bad("regional set with no regions", "regional_credentials.0.regions",
        body={"regional_credentials": [{**REGIONAL_OK, "regions": []}]}),
    Bad("regional set with a non-string region", "regional_credentials.0.regions",
        body={"regional_credentials": [{**REGIONAL_OK, "regions": [1]}]}),
    Bad("two regional sets for one region", "regional_credentials.1.regions",
        body={"regional_credentials": [REGIONAL_OK, REGIONAL_OK]}),
    Bad("regional set without its secret", "regional_credentials.0.secret_access_key",
        body={"regional_credentials": [{"regions": ["eu-west-1"], "access_key_id": AKIA}]}),
    Bad("regional ASIA set without its session token", "regional_credentials.0.session_token",
        body={"regional_credentials": [{"regions": ["eu-west-1"], "access_key_id": BEDROCK_ASIA["access_key_id"],
                                        "secret_access_key": SECRET}]}),
    Bad("long-term regional set on a temporary main key (it would sign calls with its long-term secret)",
        "regional_credentials.0.access_key_id", credentials=BEDROCK_ASIA,
        body={"regional_credentials": [REGIONAL_OK]}, says="long-term AKIA main key"),
    Bad("regional set with an unknown field", "regional_credentials.0.region",
        body={"regional_credentials": [{**REGIONAL_OK, "region": "eu-west-1"}]}),
    Bad("regional set not an object", "regional_credentials.0", body={"regional_credentials": ["eu-west-1"]}),
    Bad("regional credentials not a list", "regional_credentials", body={"regional_credentials": REGIONAL_OK}),
    # --- bedrock API key
    Bad("Bedrock API key with a wrong prefix", "credentials.api_key", "bedrock_api_key",
        credentials=creds(api_key="ABSX" + BEDROCK_API_KEY["api_key"][4:])),
    Bad("Bedrock API key too short", "credentials.api_key", "bedrock_api_key", credentials=creds(api_key="ABSK1234")),
    Bad("Bedrock API key with an unknown region", "credentials.region", "bedrock_api_key",
        credentials=creds(region="us-east-9")),
    Bad("Bedrock API key region outside the profile", "credentials.region", "bedrock_api_key",
        body={"inference_profile": "eu"}),
    Bad("Bedrock API key with an unknown profile", "inference_profile", "bedrock_api_key",
        body={"inference_profile": "moon"}),
    Bad("Bedrock API key expired", "credentials.expires_at", "bedrock_api_key",
        credentials=creds(expires_at="2020-02-02")),
    Bad("Bedrock API key without a region", "credentials.region", "bedrock_api_key", credentials=creds(region=None)),
    # --- bedrock_role: the role ARN
    *[Bad(f"role ARN: {why}", "credentials.role_arn", "bedrock_role", credentials=creds(role_arn=arn)) for why, arn in [
        ("missing", None),
        ("not an ARN", "byok-bedrock"),
        ("a user, not a role", "arn:aws:iam::123456789012:user/byok"),
        ("a role session (sts)", "arn:aws:sts::123456789012:assumed-role/byok-bedrock/session"),
        ("another service", "arn:aws:s3:::byok-bucket/role/x"),
        ("China partition", "arn:aws-cn:iam::123456789012:role/byok-bedrock"),
        ("with a region", "arn:aws:iam:us-east-1:123456789012:role/byok-bedrock"),
        ("11-digit account", "arn:aws:iam::12345678901:role/byok-bedrock"),
        ("account with letters", "arn:aws:iam::12345678901X:role/byok-bedrock"),
        ("no role name", "arn:aws:iam::123456789012:role/"),
        ("no role part", "arn:aws:iam::123456789012:role"),
        ("role name too long", "arn:aws:iam::123456789012:role/" + "r" * 65),
        ("role name with a star", "arn:aws:iam::123456789012:role/byok*"),
        ("double slash in the path", "arn:aws:iam::123456789012:role/service//byok"),
        ("a space inside", "arn:aws:iam::123456789012:role/byok bedrock"),
        ("smart quote", "arn:aws:iam::123456789012:role/byok\u2019s"),
    ]],
    Bad("role key with regional credential sets", "regional_credentials", "bedrock_role",
        body={"regional_credentials": [REGIONAL_OK]}),
    Bad("role key with an unknown profile", "inference_profile", "bedrock_role", body={"inference_profile": "moon"}),
    Bad("role key with a secret field", "credentials.secret_access_key", "bedrock_role",
        credentials=creds(secret_access_key=SECRET)),
    # --- anthropic
    Bad("OpenAI key pasted as an Anthropic key", "credentials.api_key", "anthropic", credentials=OPENAI),
    Bad("Anthropic key too short", "credentials.api_key", "anthropic", credentials=creds(api_key="sk-ant-api03-abc")),
    Bad("Anthropic key with a tab inside", "credentials.api_key", "anthropic",
        credentials=creds(api_key=ANTHROPIC["api_key"][:15] + "\t" + ANTHROPIC["api_key"][15:])),
    Bad("Anthropic key with a NUL byte", "credentials.api_key", "anthropic",
        credentials=creds(api_key=ANTHROPIC["api_key"] + "\x00")),
    Bad("profile for a non-Bedrock provider", "inference_profile", "anthropic", body={"inference_profile": "us"}),
    # --- OpenAI and compatible providers
    Bad("OpenAI admin key", "credentials.api_key", "openai",
        credentials=creds(api_key="sk-admin-" + OPENAI["api_key"][8:])),
    Bad("Anthropic key pasted as an OpenAI key", "credentials.api_key", "openai", credentials=ANTHROPIC),
    Bad("OpenAI key without the sk- prefix", "credentials.api_key", "openai",
        credentials=creds(api_key=OPENAI["api_key"][3:])),
    Bad("OpenAI key with non-ASCII", "credentials.api_key", "openai",
        credentials=creds(api_key=OPENAI["api_key"] + "é")),
    Bad("Mistral key one character short", "credentials.api_key", "mistral",
        credentials=creds(api_key=MISTRAL["api_key"][:-1])),
    Bad("DeepSeek key without sk-", "credentials.api_key", "deepseek",
        credentials=creds(api_key=DEEPSEEK["api_key"][3:])),
    Bad("xAI key with an underscore prefix", "credentials.api_key", "xai",
        credentials=creds(api_key="xai_" + XAI["api_key"][4:])),
    Bad("Z.ai key without its dot", "credentials.api_key", "zai",
        credentials=creds(api_key=ZAI["api_key"].replace(".", ""))),
    Bad("Groq key with an OpenAI prefix", "credentials.api_key", "groq",
        credentials=creds(api_key="sk-" + GROQ["api_key"][4:])),
    Bad("Groq key one character short", "credentials.api_key", "groq",
        credentials=creds(api_key=GROQ["api_key"][:-1])),
    # --- vertex: the service-account key file, pasted whole
    Bad("key file that is not JSON", SA, "vertex", creds(service_account_json="type: service_account"),
        says="Not JSON"),
    Bad("key file cut short", SA, "vertex", creds(service_account_json=json.dumps(VERTEX_INFO)[:-40]),
        says="Not JSON"),
    Bad("key file that is a JSON list", SA, "vertex", creds(service_account_json=json.dumps([VERTEX_INFO])),
        says="JSON object"),
    Bad("key file that is a JSON string", SA, "vertex", creds(service_account_json='"service_account"'),
        says="JSON object"),
    Bad("key file that is an empty object", SA, "vertex", creds(service_account_json="{}"), says="type"),
    Bad("key file without a type", SA, "vertex", key_file(type=None), says='"service_account"'),
    Bad("user credentials instead of a service account", SA, "vertex", key_file(type="authorized_user"),
        says="gcloud auth application-default login"),
    Bad("workload identity federation file", SA, "vertex", key_file(type="external_account"),
        says="workload identity federation"),
    Bad("key file without project_id", SA, "vertex", key_file(project_id=None), says="project_id"),
    Bad("key file with a blank project_id", SA, "vertex", key_file(project_id="   "), says="project_id in the key file is blank"),
    Bad("key file with a numeric project_id", SA, "vertex", key_file(project_id=123456), says="must be a string"),
    Bad("key file with a malformed project_id", SA, "vertex", key_file(project_id="My Project!"), says="project id"),
    Bad("key file without client_email", SA, "vertex", key_file(client_email=None), says="client_email"),
    Bad("client_email of a person", SA, "vertex", key_file(client_email="olivia@gmail.com"),
        says="iam.gserviceaccount.com"),
    Bad("client_email that is not an e-mail", SA, "vertex", key_file(client_email="byok-caller"),
        says="client_email"),
    Bad("client_email of the default compute account", SA, "vertex",
        key_file(client_email="123456789-compute@developer.gserviceaccount.com"), says="client_email"),
    Bad("key file without private_key", SA, "vertex", key_file(private_key=None), says="private_key"),
    Bad("private_key without its PEM armour", SA, "vertex", key_file(private_key="".join(PEM.splitlines()[1:-1])),
        says="not a PEM private key"),
    Bad("private_key cut in the middle", SA, "vertex", key_file(private_key=PEM[:400] + "\n-----END PRIVATE KEY-----\n"),
        says="damaged or truncated"),
    Bad("private_key that is encrypted", SA, "vertex", key_file(private_key=ENCRYPTED_PEM), says="encrypted"),
    Bad("private_key that is an EC key", SA, "vertex", key_file(private_key=EC_PEM), says="RSA"),
    Bad("a public key where the private key belongs", SA, "vertex", key_file(private_key=PUBLIC_PEM),
        says="not a PEM private key"),
    Bad("key file without private_key_id", SA, "vertex", key_file(private_key_id=None), says="private_key_id"),
    Bad("private_key_id that is not hexadecimal", SA, "vertex", key_file(private_key_id="not-a-key-id!"),
        says="private_key_id"),
    Bad("token_uri over plain http", SA, "vertex", key_file(token_uri="http://oauth2.googleapis.com/token"),
        says="https://"),
    Bad("token_uri on another host", SA, "vertex", key_file(token_uri="https://tokens.example.com/token"),
        says="Google's token endpoint"),
    Bad("loopback token_uri outside sandbox mode", SA, "vertex",
        key_file(token_uri="http://127.0.0.1:8100/vertex/token"), says="https://"),
    Bad("key file without token_uri", SA, "vertex", key_file(token_uri=None), says="token_uri"),
    Bad("key file larger than any key file", SA, "vertex", key_file(padding="x" * 9000)),
    Bad("key file missing", SA, "vertex", creds(service_account_json=None), says="required"),
    Bad("unknown Vertex location", "credentials.location", "vertex", creds(location="mars-central1"),
        says="Unknown Vertex AI location"),
    Bad("Vertex location missing", "credentials.location", "vertex", creds(location=None)),
    Bad("Vertex key with an inference profile", "inference_profile", "vertex", body={"inference_profile": "us"}),
    Bad("unknown provider", "provider", body={"provider": "gemini"}),
    # --- the key's own fields
    Bad("empty name", "name", body={"name": ""}),
    Bad("blank name", "name", body={"name": "    "}),
    Bad("name too long", "name", body={"name": "n" * 101}),
    Bad("name with a NUL byte", "name", body={"name": "a\x00b"}),
    Bad("name already used", "name", "anthropic", existing="name"),
    Bad("a negative priority", "priority", body={"priority": -1}),
    Bad("a zero weight", "weight", body={"weight": 0}),
    Bad("bad fallback mode", "fallback_mode", body={"fallback_mode": "sometimes"}),
    Bad("bad scope", "scope", body={"scope": "everyone"}),
    Bad("selected scope without workspaces", "workspaces", body={"scope": "selected"}),
    Bad("workspaces with an owner-wide scope", "workspaces", body={"workspaces": ["<mine>"]}),
    Bad("a workspace that is not the owner's", "workspaces.0", body={"scope": "selected", "workspaces": ["nope"]}),
    Bad("skip_test not a boolean", "skip_test", body={"skip_test": "perhaps"}),
]


def test_the_table_is_large_and_every_case_is_distinct():
    assert len(BAD_INPUTS) >= 45
    assert len([case for case in BAD_INPUTS if case.provider == "vertex" and case.field == SA]) >= 20
    assert len({case.why for case in BAD_INPUTS}) == len(BAD_INPUTS)


@pytest.mark.parametrize("case", BAD_INPUTS, ids=[case.why for case in BAD_INPUTS])
def test_bad_input_is_refused_with_its_field_and_nothing_is_stored(client_for, case):
    owner = BusinessUserFactory()
    workspace = WorkspaceFactory(owner=owner)
    if case.existing:
        provider_key_create(owner=owner, provider=case.provider, name="New key", credentials=VALID[case.provider],
                            skip_test=True)
    keys_before = ProviderKey.objects.count()
    created_before = AuditEvent.objects.filter(action="KEY_CREATED").count()

    response = client_for(owner).post("/api/v1/provider-keys/", case.request(workspace.slug), format="json")

    conflict = bool(case.existing)  # a clash with a stored key: 409 key_conflict
    assert response.status_code == (409 if conflict else 400), response.content
    error = response.json()["error"]
    assert error["code"] == ("key_conflict" if conflict else "invalid")
    assert case.field in error["fields"], error["fields"]
    assert all(reason.strip() for reason in error["fields"][case.field])
    if case.says:
        assert case.says in " ".join(error["fields"][case.field]), error["fields"][case.field]
    if case.provider == "vertex":  # the reason names the problem, never the file or its key
        assert not any(line in response.content.decode() for line in PEM.splitlines()[1:-1])
        assert VERTEX_INFO["private_key_id"] not in response.content.decode()
    assert ProviderKey.objects.count() == keys_before
    assert AuditEvent.objects.filter(action="KEY_CREATED").count() == created_before


@pytest.mark.parametrize("provider", sorted(VALID))
def test_surrounding_whitespace_on_secrets_and_key_ids_is_refused_not_trimmed(client_for, provider):
    # The rule (docs/providers.md, Validation): a secret or key id is stored exactly as given or refused, never
    # altered silently; dates, regions (choices) and pasted files (a service-account JSON: whitespace around JSON
    # means nothing) are trimmed; so is the key's name.
    fields = {spec.name: spec for spec in get_provider(provider).credential_fields}
    padded = {name: f"  {value}\n\t" for name, value in VALID[provider].items()}
    body = {"provider": provider, "name": "  Padded  ", "credentials": padded, "skip_test": True}
    refused = {name for name in padded if fields[name].kind not in ("date", "choice", "textarea")}
    assert refused or provider == "vertex"
    if refused:
        response = client_for(BusinessUserFactory()).post("/api/v1/provider-keys/", body, format="json")
        assert response.status_code == 400, response.json()
        assert set(response.json()["error"]["fields"]) == {f"credentials.{name}" for name in refused}
        for name in refused:
            assert "before or after" in response.json()["error"]["fields"][f"credentials.{name}"][0]
        assert not ProviderKey.objects.exists()

    trimmed = {name: value if name in refused else f"  {value}\n\t" for name, value in VALID[provider].items()}
    response = client_for(BusinessUserFactory()).post(
        "/api/v1/provider-keys/", {**body, "credentials": trimmed}, format="json")
    assert response.status_code == 201, response.json()
    key = ProviderKey.objects.get()
    assert key.name == "Padded"
    stored = key.get_credentials().to_json()
    if provider == "bedrock_api_key":  # a long-term API key without a date gets a reminder date (180 days)
        assert stored.pop("expires_at")
    assert stored == VALID[provider]


def test_a_validation_reason_never_echoes_the_value(client_for):
    almost = "sk-ant-api03-" + "Z" * 8 + "\u2019secretish"
    body = {"provider": "anthropic", "name": "k", "credentials": {"api_key": almost}, "skip_test": True}
    response = client_for(BusinessUserFactory()).post("/api/v1/provider-keys/", body, format="json")
    assert response.status_code == 400
    assert "secretish" not in response.content.decode()


# --- PATCH and rotate ---------------------------------------------------------------------------------------

@pytest.fixture
def bedrock_key():
    return provider_key_create(owner=BusinessUserFactory(), provider="bedrock", name="Main", credentials=BEDROCK_AKIA,
                               skip_test=True)


@pytest.fixture
def openai_key():
    return provider_key_create(owner=BusinessUserFactory(), provider="openai", name="Main", credentials=OPENAI,
                               skip_test=True)


BAD_UPDATES = [
    ("bedrock", {"name": ""}, "name"),
    ("bedrock", {"name": "n" * 101}, "name"),
    ("bedrock", {"inference_profile": "mars"}, "inference_profile"),
    ("bedrock", {"credentials": {"secret_access_key": SECRET[:-1]}}, "credentials.secret_access_key"),
    ("bedrock", {"credentials": {"session_token": BEDROCK_ASIA["session_token"]}}, "credentials.session_token"),
    ("bedrock", {"inference_profile": "eu", "regional_credentials": [{**REGIONAL_OK, "regions": ["us-west-2"]}]},
     "regional_credentials.0.regions"),
    ("bedrock", {"fallback_mode": "maybe"}, "fallback_mode"),
    ("openai", {"inference_profile": "us"}, "inference_profile"),
    ("openai", {"credentials": {"api_key": "sk-admin-" + "a" * 30}}, "credentials.api_key"),
    ("openai", {"scope": "selected"}, "workspaces"),
]


@pytest.mark.parametrize("provider, body, field_path", BAD_UPDATES)
def test_bad_update_is_refused_and_changes_nothing(client_for, bedrock_key, openai_key, provider, body, field_path):
    key = bedrock_key if provider == "bedrock" else openai_key
    secret_before, updated_before = key.secret, key.updated_at
    response = client_for(key.owner).patch(f"/api/v1/provider-keys/{key.pk}/", body, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] == "invalid"
    assert field_path in response.json()["error"]["fields"]
    key.refresh_from_db()
    assert (key.secret, key.updated_at, key.name) == (secret_before, updated_before, "Main")
    assert not AuditEvent.objects.filter(action="KEY_UPDATED").exists()


BAD_ROTATIONS = [
    ("openai", {"api_key": "sk-admin-" + "a" * 30}, "credentials.api_key"),
    ("openai", {"api_key": OPENAI["api_key"][:-30]}, "credentials.api_key"),
    ("openai", {"api_key": "  "}, "credentials"),
    ("openai", {"api_key": OPENAI["api_key"], "organization": "org-1"}, "credentials.organization"),
    ("bedrock", {"secret_access_key": SECRET}, "credentials.access_key_id"),
    ("bedrock", {"access_key_id": BEDROCK_ASIA["access_key_id"], "secret_access_key": SECRET},
     "credentials.session_token"),
]


@pytest.mark.parametrize("provider, credentials, field_path", BAD_ROTATIONS)
def test_bad_rotation_is_refused_and_keeps_the_old_secret(client_for, bedrock_key, openai_key, provider, credentials,
                                                         field_path):
    key = bedrock_key if provider == "bedrock" else openai_key
    secret_before = key.secret
    response = client_for(key.owner).post(f"/api/v1/provider-keys/{key.pk}/rotate/",
                                          {"credentials": credentials, "skip_test": True}, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] == "invalid"
    assert field_path in response.json()["error"]["fields"]
    key.refresh_from_db()
    assert key.secret == secret_before and key.rotated_at is None
    assert not AuditEvent.objects.filter(action="KEY_ROTATED").exists()
