"""Verification: recompute each chain from its first event and report the first link that does not hold."""

from dataclasses import asdict, dataclass

from django.contrib.auth import get_user_model

from ..models import GENESIS_HASH, AuditChainHead, AuditEvent, audit_chain_filter, audit_chain_name
from .chain import audit_chain_hash, audit_content_hash

User = get_user_model()


@dataclass(frozen=True)
class ChainBreak:
    event_id: int | None
    chain_sequence: int | None
    problem: str
    expected: str
    found: str


@dataclass(frozen=True)
class ChainReport:
    chain: str
    owner: str
    verified_events: int
    pending_events: int
    broken: ChainBreak | None

    @property
    def intact(self) -> bool:
        return self.broken is None

    def as_dict(self) -> dict:
        return {**asdict(self), "intact": self.intact}


def _owner_label(owner_id: int | None) -> str:
    if owner_id is None:
        return "(system)"
    username = User.objects.filter(pk=owner_id).values_list("username", flat=True).first()
    return username or f"(deleted user {owner_id})"


def audit_chain_verify(*, owner_id: int | None) -> ChainReport:
    """Recompute one chain from its first event and report the first link that does not hold."""
    chain = audit_chain_name(owner_id=owner_id)
    events = AuditEvent.objects.filter(audit_chain_filter(owner_id=owner_id))
    previous_hash, expected_sequence, broken = GENESIS_HASH, 1, None
    for event in events.filter(chained_at__isnull=False).order_by("chain_sequence").iterator(chunk_size=2000):
        broken = _first_broken_link(event=event, expected_sequence=expected_sequence, previous_hash=previous_hash)
        if broken:
            break
        previous_hash, expected_sequence = event.chain_hash, expected_sequence + 1
    verified = expected_sequence - 1
    head = AuditChainHead.objects.filter(chain=chain).first()
    if broken is None and head is not None and (head.sequence, head.last_hash) != (verified, previous_hash):
        broken = ChainBreak(event_id=None, chain_sequence=verified + 1,
                            problem="the chain ends early: its last events are missing",
                            expected=f"{head.sequence} events ending in {head.last_hash}",
                            found=f"{verified} events ending in {previous_hash}")
    elif broken is None and head is None and verified:
        broken = ChainBreak(event_id=None, chain_sequence=None, problem="the chain head is missing",
                            expected=f"a head at sequence {verified}", found="none")
    return ChainReport(chain=chain, owner=_owner_label(owner_id), verified_events=verified,
                       pending_events=events.filter(chained_at__isnull=True).count(), broken=broken)


def _first_broken_link(*, event: AuditEvent, expected_sequence: int, previous_hash: str) -> ChainBreak | None:
    def brk(problem: str, expected, found) -> ChainBreak:
        return ChainBreak(event_id=event.pk, chain_sequence=event.chain_sequence, problem=problem,
                          expected=str(expected), found=str(found))

    if event.chain_sequence != expected_sequence:
        return brk("an event is missing before this one (sequence gap)", expected_sequence, event.chain_sequence)
    if event.previous_hash != previous_hash:
        return brk("previous_hash does not match the event before it", previous_hash, event.previous_hash)
    content_hash = audit_content_hash(event)
    if content_hash != event.content_hash:
        return brk("the event's content was changed after it was chained", event.content_hash, content_hash)
    chain_hash = audit_chain_hash(previous_hash=previous_hash, chain_sequence=expected_sequence,
                                  content_hash=content_hash)
    if chain_hash != event.chain_hash:
        return brk("the event's chain hash was changed", chain_hash, event.chain_hash)
    return None
