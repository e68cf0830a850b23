"""Usage off the request path: calls are queued in this process and written in batches (one multi-row INSERT plus
the platform-credit debits and last_used_at stamps) every FLUSH_INTERVAL and on clean shutdown, in a worker thread.

Nothing is lost and nothing is counted twice. Every call has an id (`call_id`, unique in the table) and rows are
inserted with ON CONFLICT DO NOTHING; a platform-credit debit follows only the rows actually inserted, so a batch
written again (a replay, a retry after an outage) changes nothing. What a failed batch does:
- the database is unreachable (OperationalError, InterfaceError): everything is kept, up to MAX_QUEUED calls in
  memory, beyond that spilled to JSON lines under BYOK_VAR_DIR/usage-spool, replayed once the database answers
  again (and at the next start of any process on the host). A clean shutdown (SIGTERM, the ASGI lifespan's shutdown)
  writes everything, or spills what it cannot write;
- anything else: each row is written alone, and a row that cannot be written (its workspace was deleted while the
  call was in flight) is parked in UsageDeadLetter with the reason, counted and logged: the rest of the batch lands.
  A member account deleted meanwhile (with its workspace API keys) costs no row: the row lands without them.

What a crash loses: the calls of the last FLUSH_INTERVAL (≤ 1 s) of this process, usage records and their credit
debits alike.

Platform credits are enforced before a call from the owner's count in the database (re-read at most every
CREDITS_TTL) plus what this process has charged and not yet written.
"""

import asyncio
import dataclasses
import json
import logging
import math
import os
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from accounts.models import ApiKey, User
from accounts.services import api_key_mark_used
from core.errors import DATABASE_UNAVAILABLE
from core.metrics import USAGE_DEAD_LETTERS

from ..catalog.pricing import TokenCounts, usage_cost
from ..errors import PlatformCreditsExhausted
from ..models import TOKENS_PER_CREDIT, PlatformCreditUsage, ProviderKey, UsageDeadLetter, UsageRecord
from ..selectors import month_start, platform_credits_used
from .dbthread import db
from .resolve import Resolution, Source

FLUSH_INTERVAL = 1.0
LAST_USED_GRANULARITY = timedelta(minutes=1)  # last_used_at is written at most this often per key
CREDITS_TTL = 1.0
MAX_QUEUED = 50_000  # calls kept in memory while the database is unreachable; beyond, spilled to disk
REPLAY_CHUNK = 5_000  # spilled calls written per transaction when replayed
logger = logging.getLogger(__name__)


@dataclass
class UsageEntry:
    at: datetime
    workspace_id: int
    user_id: int | None
    owner_id: int
    provider: str
    model: str
    source: str
    task: str
    key_id: int | None
    key_hint: str
    input_tokens: int
    output_tokens: int
    latency_ms: int
    fallback_reason: str
    credits_charged: int
    cache_write_5m_tokens: int = 0
    cache_write_1h_tokens: int = 0
    cache_read_tokens: int = 0
    reasoning_tokens: int = 0
    api_key_id: int | None = None  # the workspace API key that made the call (None in files spilled before it)

    def tokens(self) -> TokenCounts:
        return TokenCounts(input=self.input_tokens, output=self.output_tokens,
                           cache_write_5m=self.cache_write_5m_tokens, cache_write_1h=self.cache_write_1h_tokens,
                           cache_read=self.cache_read_tokens, reasoning=self.reasoning_tokens)
    call_id: uuid.UUID = dataclasses.field(default_factory=uuid.uuid4)

    def as_json(self) -> dict:
        return {**dataclasses.asdict(self), "at": self.at.isoformat(), "call_id": self.call_id.hex}

    @classmethod
    def from_json(cls, data: dict) -> "UsageEntry":
        return cls(**{**data, "at": datetime.fromisoformat(data["at"]), "call_id": uuid.UUID(data["call_id"])})


def credits_for(resolution: Resolution, tokens: TokenCounts) -> int:
    return 0 if resolution.source == Source.BYOK else math.ceil((tokens.prompt + tokens.output) / TOKENS_PER_CREDIT)


def chat_tokens(usage: dict) -> TokenCounts:
    """The token kinds of a Chat Completions `usage` (byok's translations add Anthropic's cache-write names, as
    LiteLLM does; OpenAI's prompt_tokens count cached tokens too)."""
    split = usage.get("cache_creation") or {}
    write_1h = split.get("ephemeral_1h_input_tokens") or 0
    write = usage.get("cache_creation_input_tokens") or 0
    read = (usage.get("prompt_tokens_details") or {}).get("cached_tokens") or 0
    return TokenCounts(input=max(0, (usage.get("prompt_tokens") or 0) - read - write),
                       output=usage.get("completion_tokens") or 0, cache_write_5m=write - write_1h,
                       cache_write_1h=write_1h, cache_read=read,
                       reasoning=(usage.get("completion_tokens_details") or {}).get("reasoning_tokens") or 0)


def responses_tokens(usage: dict) -> TokenCounts:
    """The token kinds of a Responses API `usage` (input_tokens count cached tokens too)."""
    return chat_tokens({"prompt_tokens": usage.get("input_tokens"), "completion_tokens": usage.get("output_tokens"),
                        "prompt_tokens_details": usage.get("input_tokens_details"),
                        "completion_tokens_details": usage.get("output_tokens_details"),
                        **{name: usage[name] for name in ("cache_creation_input_tokens", "cache_creation")
                           if name in usage}})


def messages_tokens(usage: dict) -> TokenCounts:
    """The token kinds of an Anthropic Messages `usage` (input_tokens exclude cache reads and writes)."""
    split = usage.get("cache_creation") or {}
    write_1h = split.get("ephemeral_1h_input_tokens") or 0
    return TokenCounts(input=usage.get("input_tokens") or 0, output=usage.get("output_tokens") or 0,
                       cache_write_5m=(usage.get("cache_creation_input_tokens") or 0) - write_1h,
                       cache_write_1h=write_1h, cache_read=usage.get("cache_read_input_tokens") or 0)


class UsageBatch:
    def __init__(self) -> None:
        self.pending: list[UsageEntry] = []
        self.unwritten_credits: dict[int, int] = defaultdict(int)
        self.credits_read: dict[int, tuple[float, int]] = {}
        self.last_used: dict[int, float] = {}
        self.api_keys_used: set[int] = set()
        self._flushing = asyncio.Lock()
        self.spool = Spool(Path(settings.VAR_DIR) / "usage-spool")
        self.replay_due = True  # what an earlier process (or this one) spilled: replayed once the database answers
        self.unreachable = False

    def add(self, entry: UsageEntry) -> None:
        self.pending.append(entry)
        if entry.credits_charged:
            self.unwritten_credits[entry.owner_id] += entry.credits_charged

    async def require_credits(self, resolution: Resolution) -> None:
        """402 before a platform call when the owner's monthly credits are used up."""
        owner = resolution.owner_id
        read = self.credits_read.get(owner)
        if read is None or read[0] < time.monotonic():
            used = await db(platform_credits_used, owner_id=owner)
            read = self.credits_read[owner] = (time.monotonic() + CREDITS_TTL, used)
        used = read[1] + self.unwritten_credits.get(owner, 0)
        if used >= resolution.platform_credits:
            raise PlatformCreditsExhausted(
                f"The workspace owner's platform credits for this month are used up ({used} of "
                f"{resolution.platform_credits}). Calls on the owner's own key are not affected.",
                details={"used": used, "allowance": resolution.platform_credits})

    def note_api_key(self, api_key_id: int) -> None:
        """A workspace API key authenticated a call: its last_used_at is written with the next batch."""
        self.api_keys_used.add(api_key_id)

    async def flush(self) -> None:
        async with self._flushing:
            entries, self.pending = self.pending, []
            api_keys, self.api_keys_used = self.api_keys_used, set()
            if entries or api_keys:
                stamp = [e.key_id for e in entries if e.key_id and self._stamp_due(e.key_id)]
                if not await self._land(entries, sorted(set(stamp)), api_keys):
                    self.pending = entries + self.pending
                    self.api_keys_used |= api_keys
                    if len(self.pending) > MAX_QUEUED:
                        await self._spill()
                    return
                self._settled(entries)
            if self.replay_due:
                await self._replay()

    async def close(self) -> None:
        """At shutdown: write everything, or spill to disk what the database cannot take now."""
        await self.flush()
        async with self._flushing:
            if self.pending:
                await self._spill()

    async def _land(self, entries: list[UsageEntry], stamp_keys: list[int], api_keys: set[int]) -> bool:
        """Write the entries (each once, whatever was written before); False when the database is unreachable."""
        try:
            try:
                await db(_write, entries, stamp_keys, api_keys)
            except DATABASE_UNAVAILABLE:
                raise
            except Exception:  # noqa: BLE001 -- a row the database refuses: each alone, the refused ones parked
                await db(_write_each, entries, stamp_keys, api_keys)
        except DATABASE_UNAVAILABLE as exc:
            if not self.unreachable:
                logger.warning("usage not written: the database is unreachable (%s); %d records kept until it is "
                               "back", type(exc).__name__, len(entries))
            self.unreachable = True
            return False
        except Exception:  # noqa: BLE001 -- not even alone (the dead-letter table is away?): keep them, say so
            logger.exception("usage flush failed; %d records kept for the next try", len(entries))
            return False
        if self.unreachable:
            logger.info("usage written again: the database is back")
            self.unreachable = False
        return True

    def _settled(self, entries: list[UsageEntry]) -> None:
        """The entries left this process (written, parked or spilled): the database's count is the truth again."""
        for entry in entries:
            if entry.credits_charged:
                self.unwritten_credits[entry.owner_id] -= entry.credits_charged
                self.credits_read.pop(entry.owner_id, None)

    async def _spill(self) -> None:
        """Move the queue to disk (the caller holds the flush lock): memory stays bounded, a restart keeps it."""
        entries, self.pending = self.pending, []
        try:
            await asyncio.to_thread(self.spool.write, entries)
        except OSError:
            logger.exception("usage could not be spilled to %s; %d records kept in memory", self.spool.directory,
                             len(entries))
            self.pending = entries + self.pending
            return
        self._settled(entries)  # credits are checked against the database, which cannot answer before the replay
        logger.warning("usage spilled to %s: %d records, replayed once the database is back", self.spool.directory,
                       len(entries))
        self.replay_due = True

    async def _replay(self) -> None:
        files = await asyncio.to_thread(self.spool.files)
        if files:
            try:
                await db(_database_answers)  # not read while the database is still away
            except DATABASE_UNAVAILABLE:
                return
        for path in files:
            entries = await asyncio.to_thread(self.spool.read, path)
            for start in range(0, len(entries), REPLAY_CHUNK):
                if not await self._land(entries[start:start + REPLAY_CHUNK], [], set()):
                    return  # unreachable again: the file stays for the next try
            for owner_id in {entry.owner_id for entry in entries if entry.credits_charged}:
                self.credits_read.pop(owner_id, None)
            await asyncio.to_thread(path.unlink, missing_ok=True)
            logger.info("usage replayed from %s: %d records", path, len(entries))
        self.replay_due = False

    def _stamp_due(self, key_id: int) -> bool:
        now = time.monotonic()
        if now - self.last_used.get(key_id, -1e9) < LAST_USED_GRANULARITY.total_seconds():
            return False
        self.last_used[key_id] = now
        return True

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), FLUSH_INTERVAL)
            except TimeoutError:
                pass
            await self.flush()


def _database_answers() -> None:
    """Connect, or raise one of DATABASE_UNAVAILABLE. A function of its own, so that `connection` is the database
    thread's (which `db` closes after), not the event loop thread's: `db(connection.ensure_connection)` had bound the
    loop thread's and left its connection open, a PostgreSQL slot for the process's life."""
    connection.ensure_connection()


class Spool:
    """Spilled usage: JSON lines, one file per spill, written whole then renamed (a reader never sees half a file).
    Any process may replay any file: the call ids make a second replay a no-op."""

    SUFFIX = ".jsonl"

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.prefix = f"{os.getpid()}-{uuid.uuid4().hex[:8]}-"
        self.count = 0

    def write(self, entries: list[UsageEntry]) -> Path:
        self.directory.mkdir(parents=True, exist_ok=True)
        self.count += 1
        path = self.directory / f"{self.prefix}{self.count}{self.SUFFIX}"
        partial = path.with_suffix(".part")
        with partial.open("w", encoding="utf-8") as out:
            out.writelines(json.dumps(entry.as_json(), separators=(",", ":")) + "\n" for entry in entries)
            out.flush()
            os.fsync(out.fileno())
        partial.rename(path)
        return path

    def files(self) -> list[Path]:
        return sorted(self.directory.glob(f"*{self.SUFFIX}")) if self.directory.is_dir() else []

    @staticmethod
    def read(path: Path) -> list[UsageEntry]:
        with path.open(encoding="utf-8") as lines:
            return [UsageEntry.from_json(json.loads(line)) for line in lines if line.strip()]


_COLUMNS = ("created_at", "workspace_id", "user_id", "owner_id", "api_key_id", "provider", "model", "source", "task",
            "key_id", "key_hint", "input_tokens", "output_tokens", "cache_write_5m_tokens", "cache_write_1h_tokens",
            "cache_read_tokens", "reasoning_tokens", "latency_ms", "fallback_reason", "credits_charged",
            "estimated_cost", "call_id")


def _write(entries: list[UsageEntry], stamp_keys: list[int], api_keys: set[int]) -> None:
    now = timezone.now()
    credits: dict[int, int] = defaultdict(int)
    with transaction.atomic():
        _commit_without_waiting_for_disk()
        inserted = _insert_usage(entries) if entries else set()
        for e in entries:
            if e.credits_charged and e.call_id in inserted:  # a row written before was debited then
                credits[e.owner_id] += e.credits_charged
        for owner_id, amount in credits.items():
            _debit_platform_credits(owner_id=owner_id, credits=amount)
        if stamp_keys:
            ProviderKey.objects.filter(pk__in=stamp_keys).update(last_used_at=now)
        api_key_mark_used(api_keys, now=now)


def _write_each(entries: list[UsageEntry], stamp_keys: list[int], api_keys: set[int]) -> None:
    """Each row in a transaction of its own; a row the database refuses goes to the dead-letter table."""
    _forget_deleted_callers(entries)
    for entry in entries:
        try:
            _write([entry], [], set())
        except DATABASE_UNAVAILABLE:
            raise
        except Exception as exc:  # noqa: BLE001 -- whatever refuses this row must not hold back the others
            _dead_letter(entry, exc)
    _write([], stamp_keys, api_keys)


def _forget_deleted_callers(entries: list[UsageEntry]) -> None:
    """A member's account deleted since their call (their API keys go with it) must not cost the call its row: it
    lands without the member and the key, as their earlier rows do (SET_NULL). Revoking a key deletes nothing."""
    users = {entry.user_id for entry in entries if entry.user_id is not None}
    api_keys = {entry.api_key_id for entry in entries if entry.api_key_id is not None}
    gone_users = users - set(User.objects.filter(pk__in=users).values_list("pk", flat=True))
    gone_keys = api_keys - set(ApiKey.objects.filter(pk__in=api_keys).values_list("pk", flat=True))
    for entry in entries:
        if entry.user_id in gone_users:
            entry.user_id = None
        if entry.api_key_id in gone_keys:
            entry.api_key_id = None


def _dead_letter(entry: UsageEntry, exc: Exception) -> None:
    reason = f"{type(exc).__name__}: {exc}"[:2000]
    _, created = UsageDeadLetter.objects.get_or_create(call_id=entry.call_id,
                                                       defaults={"reason": reason, "entry": entry.as_json()})
    if created:
        USAGE_DEAD_LETTERS.labels(reason=type(exc).__name__).inc()
        logger.warning("usage record of call %s (workspace %s) not writable, parked in the dead-letter table: %s",
                       entry.call_id.hex, entry.workspace_id, reason)


def _insert_usage(entries: list[UsageEntry]) -> set[uuid.UUID]:
    """Multi-row INSERTs for the batch, priced at the catalog's prices; the call ids of the rows inserted (a call id
    already in the table is skipped). Plain SQL: bulk_create's per-field compilation cost about a third of the data
    plane's CPU under load (measured with py-spy at 16 clients)."""
    ops = connection.ops
    call_id = UsageRecord._meta.get_field("call_id")
    rows = [(ops.adapt_datetimefield_value(e.at), e.workspace_id, e.user_id, e.owner_id, e.api_key_id, e.provider,
             e.model, e.source, e.task, e.key_id, e.key_hint, e.input_tokens, e.output_tokens, e.cache_write_5m_tokens,
             e.cache_write_1h_tokens, e.cache_read_tokens, e.reasoning_tokens, e.latency_ms, e.fallback_reason,
             e.credits_charged, ops.adapt_decimalfield_value(
                 usage_cost(provider=e.provider, model=e.model, tokens=e.tokens()), 14, 8),
             call_id.get_db_prep_value(e.call_id, connection))
            for e in entries]
    table = ops.quote_name(UsageRecord._meta.db_table)
    columns = ", ".join(ops.quote_name(column) for column in _COLUMNS)
    row = f"({', '.join(['%s'] * len(_COLUMNS))})"
    per_statement = (connection.features.max_query_params or 65_535) // len(_COLUMNS)
    inserted: set[uuid.UUID] = set()
    with connection.cursor() as cursor:
        for start in range(0, len(rows), per_statement):
            chunk = rows[start:start + per_statement]
            cursor.execute(f"INSERT INTO {table} ({columns}) VALUES {', '.join([row] * len(chunk))} "
                           f"ON CONFLICT ({ops.quote_name('call_id')}) DO NOTHING RETURNING {ops.quote_name('call_id')}",
                           [value for values in chunk for value in values])
            inserted.update(call_id.to_python(value) for (value,) in cursor.fetchall())
    return inserted


def _commit_without_waiting_for_disk() -> None:
    """Usage counters are written on every call; waiting for PostgreSQL's fsync at commit doubled the gateway's
    added latency. An asynchronous commit is never corrupt or partial; a database crash may lose the last fraction
    of a second of usage, which is acceptable for usage and credit counters (never used for audit events)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit TO OFF")


def _debit_platform_credits(*, owner_id: int, credits: int) -> None:
    month = month_start()
    if not PlatformCreditUsage.objects.filter(owner_id=owner_id, month=month).update(used=F("used") + credits):
        usage, created = PlatformCreditUsage.objects.get_or_create(owner_id=owner_id, month=month,
                                                                  defaults={"used": credits})
        if not created:
            PlatformCreditUsage.objects.filter(pk=usage.pk).update(used=F("used") + credits)


batch = UsageBatch()
