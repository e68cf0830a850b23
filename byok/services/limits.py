"""Rate limits an owner sets on calls made on their account, and the ceilings staff set per plan
(byok.gateway.limits counts both)."""

from django.db import transaction

from accounts.models import ApiKey, Membership, Plan, User, Workspace
from audit.models import AuditAction
from audit.services.record import audit_record
from core.invalidation import generation_bump

from ..errors import KeyInvalid, LimitAboveCeiling
from ..models import PlanCeiling, UsageLimit
from ..models.limits import limit_words

Subject = UsageLimit.Subject


def _check_subject(*, owner: User, subject: str, workspace: Workspace | None, member: User | None,
                   api_key: ApiKey | None) -> None:
    needs = {Subject.OWNER: set(), Subject.WORKSPACE: {"workspace"}, Subject.MEMBER: {"workspace", "member"},
             Subject.API_KEY: {"api_key"}}[subject]
    given = {name for name, value in (("workspace", workspace), ("member", member), ("api_key", api_key)) if value}
    for name in needs - given:
        raise KeyInvalid(f"A {subject} limit names its {name}.", fields={name: [f"Required for subject {subject}."]})
    for name in given - needs:
        raise KeyInvalid(f"A {subject} limit names no {name}.", fields={name: [f"Leave empty for subject {subject}."]})
    if workspace is not None and workspace.owner_id != owner.pk:
        raise KeyInvalid("Not your workspace.", fields={"workspace": ["Choose one of your workspaces."]})
    if member is not None and not Membership.objects.filter(workspace=workspace, user=member).exists():
        raise KeyInvalid("Not a member of that workspace.", fields={"member": ["Choose a member of the workspace."]})
    if api_key is not None and (api_key.workspace_id is None or api_key.workspace.owner_id != owner.pk):
        raise KeyInvalid("Not an API key of your workspaces.", fields={"api_key": ["Choose one of your API keys."]})


def usage_limit_set(*, owner: User, actor: User, subject: str, metric: str, value: int,
                    workspace: Workspace | None = None, member: User | None = None, api_key: ApiKey | None = None,
                    fail_mode: str = UsageLimit.FailMode.OPEN, thresholds: list[int] = (),
                    on_exceed: str = UsageLimit.OnExceed.REFUSE) -> UsageLimit:
    """Set (create or change) the owner's limit of `metric` on the subject; every process counts it at once."""
    _check_subject(owner=owner, subject=subject, workspace=workspace, member=member, api_key=api_key)
    if not isinstance(value, int) or value < 1:
        raise KeyInvalid("Bad limit.", fields={"value": ["A whole number of at least 1."]})
    ceiling = PlanCeiling.objects.filter(plan__code=owner.plan_id, metric=metric).select_related("plan").first()
    if ceiling is not None and value > ceiling.value:
        words = limit_words(metric, ceiling.value)
        raise LimitAboveCeiling(f"Your {ceiling.plan.name} plan allows at most {words}.",
                                fields={"value": [f"At most {ceiling.value}: the {ceiling.plan.name} plan's ceiling "
                                                  f"of {words}."]},
                                details={"plan": ceiling.plan.code, "metric": metric, "ceiling": ceiling.value})
    thresholds = sorted(set(thresholds))
    if any(not isinstance(p, int) or not 1 <= p <= 99 for p in thresholds):
        raise KeyInvalid("Bad thresholds.", fields={"thresholds": ["Whole percentages from 1 to 99."]})
    with transaction.atomic():
        limit, created = UsageLimit.objects.select_for_update().get_or_create(
            owner=owner, subject=subject, workspace=workspace, member=member, api_key=api_key, metric=metric,
            defaults={"value": value, "fail_mode": fail_mode, "thresholds": thresholds, "on_exceed": on_exceed})
        before = {"value": limit.value, "fail_mode": limit.fail_mode, "thresholds": limit.thresholds,
                  "on_exceed": limit.on_exceed}
        if not created:
            limit.value, limit.fail_mode, limit.thresholds, limit.on_exceed = value, fail_mode, thresholds, on_exceed
            limit.save(update_fields=["value", "fail_mode", "thresholds", "on_exceed", "updated_at"])
        generation_bump("gateway")  # data-plane processes drop the limits they keep
        audit_record(action=AuditAction.USAGE_LIMIT_SET, actor=actor, owner=owner, workspace=workspace,
                     details={"limit_id": limit.pk, "subject": subject, "metric": metric, "value": value,
                              "fail_mode": fail_mode, "thresholds": thresholds, "on_exceed": on_exceed, "member_id": member.pk if member else None,
                              "api_key_id": api_key.pk if api_key else None}
                     | ({} if created else {"from": before}))
    return limit


def usage_limit_remove(*, limit: UsageLimit, actor: User) -> None:
    with transaction.atomic():
        generation_bump("gateway")
        audit_record(action=AuditAction.USAGE_LIMIT_REMOVED, actor=actor, owner=limit.owner, workspace=limit.workspace,
                     details={"limit_id": limit.pk, "subject": limit.subject, "metric": limit.metric,
                              "value": limit.value})
        limit.delete()


def plan_ceiling_set(*, plan: Plan, metric: str, value: int | None, actor: User | None) -> PlanCeiling | None:
    """Set the plan's ceiling of `metric` (None removes it): owners on the plan may set no limit above it, and one
    without a limit of that metric on their whole account is held to it. Every process applies it at once."""
    if metric not in UsageLimit.Metric.values:
        raise KeyInvalid("Unknown metric.", fields={"metric": [f"One of: {', '.join(UsageLimit.Metric.values)}."]})
    if value is not None and (not isinstance(value, int) or value < 1):
        raise KeyInvalid("A ceiling is a whole number of at least 1.", fields={"value": ["A whole number of at least 1."]})
    with transaction.atomic():
        ceiling = PlanCeiling.objects.select_for_update().filter(plan=plan, metric=metric).first()
        before = ceiling.value if ceiling else None
        if value is None and ceiling is not None:
            ceiling.delete()
            ceiling = None
        elif value is not None and ceiling is None:
            ceiling = PlanCeiling.objects.create(plan=plan, metric=metric, value=value)
        elif value is not None:
            ceiling.value = value
            ceiling.save(update_fields=["value", "updated_at"])
        if before != value:
            generation_bump("gateway")  # data-plane processes drop the limits they keep
            audit_record(action=AuditAction.PLAN_CEILING_SET if value else AuditAction.PLAN_CEILING_REMOVED,
                         actor=actor, system_actor="staff command",
                         details={"plan": plan.code, "metric": metric, "value": value, "from": before})
    return ceiling

