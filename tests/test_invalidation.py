"""core.invalidation: every bump is a change for every watcher, whatever happened to the shared number."""

import uuid

import pytest
from django.core.cache import cache

from core import invalidation
from core.invalidation import generation_bump, generation_changed, on_invalidate

pytestmark = pytest.mark.django_db

@pytest.fixture
def topic():
    """A topic of this test's own: parallel test processes share the cache (Redis in CI)."""
    return f"test-{uuid.uuid4().hex}"


@pytest.fixture
def drops(topic):
    counter = {"n": 0}

    def drop():
        counter["n"] += 1

    on_invalidate(topic, drop)
    yield counter
    invalidation._listeners[topic].remove(drop)


def test_a_bump_drops_this_process_now_and_moves_the_shared_number_at_commit(topic, drops,
                                                                            django_capture_on_commit_callbacks):
    generation_changed(topic)
    assert not generation_changed(topic)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        generation_bump(topic)
    assert drops["n"] == 2  # the first check, then the bump at once
    before = cache.get(invalidation._KEY.format(topic))
    assert not generation_changed(topic)  # other processes see nothing before the commit…
    for callback in callbacks:
        callback()
    assert cache.get(invalidation._KEY.format(topic)) != before  # …and a new number after it
    assert drops["n"] == 3  # this process dropped again at commit, after publishing…
    assert not generation_changed(topic)  # …so its own next poll does not drop a third time


def test_a_number_evicted_then_restarted_is_still_a_change(topic, drops, django_capture_on_commit_callbacks):
    """With a counter, eviction restarted it at a value a watcher had already seen: that change was missed."""
    key = invalidation._KEY.format(topic)
    with django_capture_on_commit_callbacks(execute=True):
        generation_bump(topic)
    seen_by_a_watcher = cache.get(key)
    cache.delete(key)
    with django_capture_on_commit_callbacks(execute=True):
        generation_bump(topic)
    assert cache.get(key) not in (None, seen_by_a_watcher)


def test_a_missing_number_is_a_change_once_then_stable(topic, drops):
    cache.delete(invalidation._KEY.format(topic))
    assert generation_changed(topic)
    assert not generation_changed(topic)  # the poll started a new number instead of dropping caches every time


def test_an_unreadable_shared_cache_counts_as_a_change(topic, drops, monkeypatch):
    generation_changed(topic)

    def broken(*args, **kwargs):
        raise ConnectionError("cache down")

    monkeypatch.setattr(invalidation.cache, "get", broken)
    before = drops["n"]
    assert generation_changed(topic)
    assert drops["n"] == before + 1
