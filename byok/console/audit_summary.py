"""An audit event in one sentence, for the console's audit trail: who did what, to which key or member.

"olivia rotated “EU key” (AKIA…7XQ2)". Built from the event's own columns and details, plus the key's name (the
page annotates it in the same query, `key_name`; a deleted key's name comes from the event's details when they
kept it). Never anything the event does not already hold: no secret can appear.
"""

from audit.models import AuditAction, AuditEvent

from ..providers.registry import PROVIDERS


def _who(event: AuditEvent) -> str:
    return "byok" if event.actor_label.startswith("system:") else event.actor_label


def _key(event: AuditEvent) -> str:
    name = getattr(event, "key_name", None) or event.details.get("name")
    hint = event.target_hint
    if name and hint:
        return f"“{name}” ({hint})"
    return f"“{name}”" if name else (hint or "a key")


def _provider_key(event: AuditEvent) -> str:
    """ "an AWS Bedrock (API key) key": the key's provider by its display name, never its id."""
    provider = PROVIDERS.get(event.details.get("provider", ""))
    if provider is None:
        return "a key"
    return f"{'an' if provider.name[:1] in 'AEIOU' else 'a'} {provider.name} key"


def _rotated(event: AuditEvent) -> str:
    d = event.details
    sentence = f"{_who(event)} rotated {_key(event)}"
    if isinstance(d.get("hint"), dict):
        sentence += f", replacing {d['hint']['from']}"
    sets = d.get("regional_sets") or {}
    for word in ("kept", "removed", "added"):
        if sets.get(word):
            sentence += f"; regional sets {word}: {'; '.join(sets[word])}"
    return sentence


def _change(value) -> str:
    if isinstance(value, dict) and {"from", "to"} <= set(value):
        before, after = value["from"], value["to"]
        if isinstance(before, list) or isinstance(after, list):
            before, after = ", ".join(before or []) or "none", ", ".join(after or []) or "none"
        return f"{before or '—'} → {after or '—'}"
    return str(value)


def _key_update(event: AuditEvent) -> str:
    parts = [f"{field.replace('_', ' ')} {_change(value)}" if field != "credentials" else "credentials"
             for field, value in event.details.items()]
    return f"{_who(event)} changed {_key(event)}: {'; '.join(parts) or 'nothing'}"


def _test(event: AuditEvent) -> str:
    d = event.details
    verdict = "passed" if d.get("ok") else f"failed ({d.get('category') or 'error'})"
    return f"{_who(event)} tested {_key(event)}: {verdict}"


def _member_added(event: AuditEvent) -> str:
    d = event.details
    if d.get("workspace_created"):
        return f"{_who(event)} created the workspace {event.workspace.name if event.workspace_id else ''}".strip()
    return f"{_who(event)} added {d.get('user')} as {d.get('role')}"


def _reverted(event: AuditEvent) -> str:
    keys = event.details.get("deleted_keys", [])
    hints = ", ".join(k.get("hint", "") for k in keys)
    return f"{_who(event)} reverted to platform keys, deleting {len(keys)} key{'s' if len(keys) != 1 else ''}" + (
        f" ({hints})" if hints else "")


_SENTENCES = {
    AuditAction.KEY_CREATED: lambda e: f"{_who(e)} added {_key(e)}, {_provider_key(e)}",
    AuditAction.KEY_UPDATED: _key_update,
    AuditAction.KEY_ROTATED: _rotated,
    AuditAction.KEY_ENABLED: lambda e: f"{_who(e)} enabled {_key(e)}",
    AuditAction.KEY_DISABLED: lambda e: f"{_who(e)} disabled {_key(e)}",
    AuditAction.KEY_DELETED: lambda e: f"{_who(e)} deleted {_key(e)}, {_provider_key(e)}",
    AuditAction.BYOK_REVERTED: _reverted,
    AuditAction.CONNECTION_TESTED: _test,
    AuditAction.SESSION_REFRESHED: lambda e: f"{_who(e)} refreshed the AWS session of {_key(e)}",
    AuditAction.SESSION_REFRESH_FAILED: lambda e: f"byok could not refresh the AWS session of {_key(e)} "
                                                  f"({e.details.get('category', 'error')})",
    AuditAction.KEY_EXPIRED: lambda e: f"{_key(e)} expired",
    AuditAction.FALLBACK_ACTIVATED: lambda e: f"{_key(e)} failed ({e.details.get('category', 'error')}); calls went "
                                              f"to {e.details.get('now_serving', 'platform credentials')}",
    AuditAction.BYOK_RECOVERED: lambda e: f"{_key(e)} works again" + (
        f" for {e.details['model']}" if e.details.get("model") else "") + "; calls are back on it",
    AuditAction.PLAN_CHANGED: lambda e: f"{_who(e)} changed the plan {_change(e.details.get('plan'))}",
    AuditAction.PLAN_UPGRADE_REQUESTED: lambda e: f"{_who(e)} asked staff for the plan change "
                                                  f"{_change(e.details.get('plan'))}",
    AuditAction.MEMBER_ADDED: _member_added,
    AuditAction.MEMBER_REMOVED: lambda e: f"{_who(e)} removed {e.details.get('user')} ({e.details.get('role')})",
    AuditAction.MEMBER_ROLE_CHANGED: lambda e: f"{_who(e)} changed the role of {e.details.get('user')}: "
                                               f"{_change(e.details.get('role'))}",
    AuditAction.OWNERSHIP_TRANSFERRED: lambda e: f"{_who(e)} handed the workspace over from "
                                                 f"{e.details.get('from')} to {e.details.get('to')}",
    AuditAction.ENCRYPTION_KEY_ROTATED: lambda e: f"{_who(e)} re-encrypted the stored credentials with a new "
                                                  f"encryption key",
    AuditAction.API_KEY_CREATED: lambda e: f"{_who(e)} created the API key “{e.details.get('name')}” "
                                           f"({e.details.get('key_hint')}) for {e.details.get('user')}",
    AuditAction.API_KEY_REVOKED: lambda e: f"{_who(e)} revoked the API key “{e.details.get('name')}” "
                                           f"({e.details.get('key_hint')}) of {e.details.get('user')}",
    AuditAction.INVITATION_SENT: lambda e: f"{_who(e)} invited {e.details.get('email')} as {e.details.get('role')}",
    AuditAction.INVITATION_ACCEPTED: lambda e: f"{_who(e)} " + (
        "created an account, " if e.details.get("account_created") else "") + "accepted the invitation and joined as "
        f"{e.details.get('role')}",
    AuditAction.INVITATION_REVOKED: lambda e: f"{_who(e)} revoked the invitation to {e.details.get('email')}",
}


def audit_summary(event: AuditEvent) -> str:
    sentence = _SENTENCES.get(event.action)
    if sentence is None:
        return f"{_who(event)}: {event.get_action_display()}"
    try:
        return sentence(event)
    except (AttributeError, KeyError, TypeError):  # details of an older shape: say at least what happened
        return f"{_who(event)}: {event.get_action_display()}"
