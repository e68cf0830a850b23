"""What the console says about limits: on what, how much, used how much, what happens past them; the owner's limits
with their plan's ceilings, and a limit's last 30 days."""

from ..gateway.limits import used_now
from ..models import UsageLimit
from ..models.limits import MONEY_METRICS, limit_words
from ..selectors import limit_history, plan_ceilings


def subject_words(limit: UsageLimit) -> str:
    if limit.subject == UsageLimit.Subject.OWNER:
        return "all your workspaces"
    if limit.subject == UsageLimit.Subject.WORKSPACE:
        return f"workspace {limit.workspace.name}"
    if limit.subject == UsageLimit.Subject.MEMBER:
        return f"{limit.member.get_username()} in {limit.workspace.name}"
    return f"API key {limit.api_key.name} ({limit.api_key.key_hint})"


def amount_words(metric: str, amount: float) -> str:
    """An amount in the metric's unit as people read it: "$0.26" for money (counted in US cents), else a count."""
    return f"${amount / 100:,.2f}" if metric in MONEY_METRICS else f"{amount:,.0f}"


def past_limit_words(limit: UsageLimit) -> str:
    return "served on platform credits" if limit.on_exceed == UsageLimit.OnExceed.PLATFORM else "refused (429)"


def unreachable_words(limit: UsageLimit) -> str:
    return "calls are served" if limit.fail_mode == UsageLimit.FailMode.OPEN else "calls are refused (503)"


def limit_rows(owner) -> list[dict]:
    """The owner's limits with their use this period, then their plan's ceilings where no limit of theirs on the
    whole account takes the place (for the list and the home page)."""
    limits = list(UsageLimit.objects.filter(owner=owner).select_related("workspace", "member", "api_key"))
    ceilings = plan_ceilings(owner.plan_id)
    rows = [{"limit": limit, "on": subject_words(limit), "words": limit_words(limit.metric, limit.value),
             "used_now": amount_words(limit.metric, used_now(limit)), "past_limit": past_limit_words(limit),
             "unreachable": unreachable_words(limit), "ceiling": ceilings.get(limit.metric)} for limit in limits]
    account_wide = {limit.metric for limit in limits if limit.subject == UsageLimit.Subject.OWNER}
    rows += [{"limit": None, "on": "all your workspaces", "words": limit_words(metric, ceiling.value),
              "used_now": amount_words(metric, used_now(ceiling, owner.pk)), "past_limit": "refused (429)",
              "unreachable": "calls are served", "plan": ceiling.plan.name}
             for metric, ceiling in ceilings.items() if metric not in account_wide]
    return rows


def history_rows(limit: UsageLimit) -> list[dict]:
    """The last 30 days, newest first, each with how close the limit came (percent of it, for the meter)."""
    return [{"day": day.day, "used": amount_words(limit.metric, day.used), "peak": amount_words(limit.metric, day.peak),
             "percent": min(100, round(day.peak * 100 / limit.value)), "past_limit": day.past_limit}
            for day in reversed(limit_history(limit))]
