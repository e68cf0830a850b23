"""export_audit_log for staff, and the canary: no secret reaches a record, an export or a shipped line."""

import csv
import io
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from accounts.services import user_plan_change
from audit.models import AuditEvent
from audit.services.sinks import audit_pending_sweep
from byok.models import ProviderKey
from byok.services import keys as key_services
from tests.byok.keys_data import BEDROCK_AKIA, BEDROCK_ASIA, OPENAI, VALID
from tests.factories import BusinessUserFactory

pytestmark = pytest.mark.django_db

NOT_SECRET = {"access_key_id", "region", "expires_at"}
SECRETS = sorted({value for credentials in VALID.values() for name, value in credentials.items()
                  if name not in NOT_SECRET} | {BEDROCK_ASIA["secret_access_key"], BEDROCK_ASIA["session_token"]})


def export(*args) -> str:
    out = io.StringIO()
    call_command("export_audit_log", *args, stdout=out)
    return out.getvalue()


def test_export_jsonl_filters_by_owner_and_time_oldest_first(owner, bedrock_key):
    key_services.provider_key_disable(key=bedrock_key, actor=owner)
    user_plan_change(user=BusinessUserFactory(), plan_code="enterprise", actor=None)
    created, disabled = AuditEvent.objects.filter(owner=owner).order_by("id")

    lines = [json.loads(line) for line in export("--owner", owner.username, "--format", "jsonl").splitlines()]
    assert [(r["id"], r["action"], r["target_hint"]) for r in lines] == [
        (created.pk, "KEY_CREATED", "AKIA…7XQ2"), (disabled.pk, "KEY_DISABLED", "AKIA…7XQ2")]
    assert {"chain", "chain_sequence", "content_hash", "chain_hash", "previous_hash"} <= set(lines[0])

    since = disabled.created_at.isoformat()
    assert [json.loads(x)["id"] for x in export("--owner", owner.username, "--since", since,
                                                 "--format", "jsonl").splitlines()] == [disabled.pk]
    assert export("--owner", owner.username, "--until", created.created_at.isoformat(), "--format", "jsonl") == ""
    assert len(export("--format", "jsonl").splitlines()) == 3


def test_export_csv_to_a_file(owner, bedrock_key, tmp_path):
    target = tmp_path / "audit.csv"
    message = export("--format", "csv", "--output", str(target))
    assert message.strip() == f"1 events written to {target}."
    [row] = list(csv.DictReader(target.open(newline="", encoding="utf-8")))
    assert (row["action"], row["actor_label"], row["target_hint"]) == ("KEY_CREATED", owner.username, "AKIA…7XQ2")
    assert json.loads(row["details"])["provider"] == "bedrock"


def test_export_refuses_a_time_without_zone_and_an_unknown_owner():
    with pytest.raises(CommandError, match="ISO 8601"):
        export("--since", "2026-01-01", "--format", "jsonl")
    with pytest.raises(CommandError, match="No user named"):
        export("--owner", "nobody", "--format", "csv")


def test_no_secret_appears_in_records_exports_or_shipped_lines(owner, settings, audit_lines):
    key = key_services.provider_key_create(owner=owner, provider="bedrock", name="AWS", credentials=BEDROCK_AKIA,
                                           skip_test=True)
    ciphertexts = [key.secret]
    key = key_services.provider_key_update(key=key, actor=owner, credentials={"secret_access_key": "Q" * 40},
                                           skip_test=True)
    key = key_services.provider_key_rotate(key=key, actor=owner, credentials=BEDROCK_ASIA, skip_test=True)
    ciphertexts += [ProviderKey.objects.get(pk=key.pk).secret, ProviderKey.objects.get(pk=key.pk).session_secret]
    key_services.byok_revert_to_platform(owner=owner, actor=owner, confirm=True)
    for provider in sorted(VALID):
        if provider not in ("bedrock", "bedrock_role"):  # one owner-wide key per family: bedrock_api_key's
            key_services.provider_key_create(owner=owner, provider=provider, name=provider,
                                             credentials=VALID[provider], skip_test=True)
    key_services.provider_key_update(key=ProviderKey.objects.get(owner=owner, provider="openai"), actor=owner,
                                     credentials={"api_key": OPENAI["api_key"][:-4] + "zzzz"}, skip_test=True)
    settings.BYOK_AUDIT_SWEEP_GRACE_SECONDS = 0
    audit_pending_sweep()

    records = json.dumps(list(AuditEvent.objects.values()), default=str)
    shipped = "\n".join(audit_lines.lines)
    exported = export("--format", "jsonl") + export("--format", "csv")
    assert AuditEvent.objects.count() == len(VALID) + 3 and len(audit_lines.lines) == AuditEvent.objects.count()
    assert "credentials changed" in records and "credentials changed" in shipped
    forbidden = SECRETS + ["Q" * 40, OPENAI["api_key"][:-4] + "zzzz"] + [c for c in ciphertexts if c]
    for where, text in {"audit records": records, "shipped lines": shipped, "export": exported}.items():
        leaked = [secret[:6] + "…" for secret in forbidden if secret in text]
        assert leaked == [], f"secret material in {where}"
