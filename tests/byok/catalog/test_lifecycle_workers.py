"""The lifecycle as production runs it: beat queues `model_lifecycle`, two worker processes take the runs. A model
whose retirement date has passed is retired once (its tier moves, every process sees the move), and each owner whose
traffic used it gets exactly one e-mail, however many ticks and workers run the task."""

import email
import re
from datetime import timedelta

import pytest
from django.utils import timezone

from audit.models import AuditAction, AuditEvent
from byok.catalog.selectors import tier_model
from byok.models import Model, ModelNotice, UsageRecord
from byok.providers.bedrock.profiles import SONNET_4_5
from tests.byok.catalog.test_catalog import edit
from tests.byok.routing_helpers import team
from tests.fixtures.workers import wait_until

HAIKU = "anthropic.claude-haiku-4-5-20251001-v1:0"
RUN = re.compile(r"Task byok\.tasks\.model_lifecycle\[[^\]]+\] succeeded")  # Celery's line for a finished run

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def sent_mail(folder) -> list[email.message.Message]:
    """What Django's file e-mail backend wrote: one message per block, each followed by a line of 79 dashes."""
    blocks = [block for path in sorted(folder.glob("*.log")) for block in path.read_text().split("-" * 79 + "\n")]
    return [email.message_from_string(block) for block in blocks if block.strip()]


def test_a_passed_retirement_moves_the_tier_and_each_owner_hears_once_under_beat_and_two_workers(worker_processes,
                                                                                                  tmp_path):
    today = timezone.localdate()
    users = []
    for _ in range(2):
        owner, workspace, member = team()
        UsageRecord.objects.create(workspace=workspace, user=member, owner=owner, provider="bedrock",
                                   model="us." + SONNET_4_5, source="byok", task="standard", input_tokens=10)
        users.append(owner)
    quiet_owner, quiet_workspace, _ = team()
    UsageRecord.objects.create(workspace=quiet_workspace, owner=quiet_owner, provider="bedrock", model="us." + HAIKU,
                               source="byok", task="standard", input_tokens=10)
    haiku = Model.objects.get(family="bedrock", model_id=HAIKU)
    edit(Model.objects.get(family="bedrock", model_id=SONNET_4_5), status="deprecated", replacement=haiku,
         deprecated_on=today - timedelta(days=60), retires_on=today - timedelta(days=1))
    assert tier_model("bedrock", "standard") == SONNET_4_5  # this process's snapshot, before any worker ran

    mailbox = tmp_path / "mail"
    env = {"BYOK_MODEL_LIFECYCLE_INTERVAL": "1", "EMAIL_FILE_PATH": str(mailbox),
           "EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend"}
    workers = [worker_processes("lifecycle-beat", beat=True, env=env, loglevel="INFO"),
               worker_processes("lifecycle", env=env, loglevel="INFO")]

    def runs() -> int:
        return sum(len(RUN.findall(worker.log())) for worker in workers)

    wait_until(lambda: tier_model("bedrock", "standard") == HAIKU)  # through the catalog generation, not a reload
    wait_until(lambda: len(sent_mail(mailbox)) >= 2)
    ticks = runs()
    wait_until(lambda: runs() >= ticks + 3)  # several more beat ticks, each run to its end

    mail = sent_mail(mailbox)
    assert sorted(message["To"] for message in mail) == sorted(owner.email for owner in users)
    assert all(message["Subject"].startswith("Claude Sonnet 4.5 was retired: Claude Haiku 4.5 replaces it")
               for message in mail)
    retired = AuditEvent.objects.get(action=AuditAction.MODEL_RETIRED)
    assert retired.details == {"model": "bedrock/" + SONNET_4_5, "tiers": ["standard"],
                               "replacement": "bedrock/" + HAIKU}
    assert sorted(ModelNotice.objects.values_list("owner_id", flat=True)) == sorted(owner.pk for owner in users)
    sonnet = Model.objects.get(family="bedrock", model_id=SONNET_4_5)
    assert (sonnet.status, sonnet.tiers) == ("retired", []) and Model.objects.get(pk=haiku.pk).tiers == ["standard"]
