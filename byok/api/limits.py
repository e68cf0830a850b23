"""Owner API for rate limits. Thin: serializers check shapes, services do the work."""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import User
from core.serializers import StrictInput

from ..gateway.limits import used_now
from ..models import PlanCeiling, UsageLimit
from ..selectors import limit_history, plan_ceilings
from ..services.limits import usage_limit_remove, usage_limit_set
from .keys import OwnedApiKeysField, OwnedWorkspacesField


@extend_schema_field({"type": "string", "description": "The username of a member of one of your workspaces."})
class MemberOfOwnedWorkspacesField(serializers.SlugRelatedField):
    """A username among the members of the caller's own workspaces (others look unknown)."""

    def __init__(self, **kwargs):
        super().__init__(slug_field="username", **kwargs)

    def get_queryset(self):
        return User.objects.filter(memberships__workspace__owner=self.context["request"].user).distinct()


class UsageLimitOutput(serializers.ModelSerializer):
    workspace = serializers.SlugRelatedField(slug_field="slug", read_only=True, allow_null=True)
    member = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    used_now = serializers.SerializerMethodField(help_text="Counted in the current period (minute, UTC day or month; "
                                                           "money in US cents), across processes (requests include "
                                                           "units processes have leased).")
    plan_ceiling = serializers.SerializerMethodField(help_text="The most your plan allows for this metric (null: no "
                                                               "ceiling); a value above it is held to it.")

    class Meta:
        model = UsageLimit
        fields = ["id", "subject", "workspace", "member", "api_key", "metric", "value", "plan_ceiling", "fail_mode",
                  "on_exceed", "thresholds", "used_now", "created_at", "updated_at"]

    def get_used_now(self, limit) -> int:
        return used_now(limit)

    def get_plan_ceiling(self, limit) -> int | None:
        ceilings = self.context.get("ceilings")
        if ceilings is None:
            ceilings = plan_ceilings(limit.owner.plan_id)
        ceiling = ceilings.get(limit.metric)
        return ceiling.value if ceiling else None


class LimitDayOutput(serializers.Serializer):
    day = serializers.DateField(help_text="A UTC day.")
    used = serializers.FloatField(help_text="What the calls the limit counts used that day (usage records: calls "
                                            "served), in the limit's unit: calls, tokens or US cents.")
    peak = serializers.FloatField(help_text="What the limit counted at its highest that day: the busiest minute "
                                            "(per-minute limits), the day, or the month so far (money budgets).")
    past_limit = serializers.IntegerField(help_text="Calls past the limit that day: refused, or served on platform "
                                                    "credits.")


class UsageLimitDetailOutput(UsageLimitOutput):
    history = serializers.SerializerMethodField(help_text="The last 30 UTC days, oldest first.")

    class Meta(UsageLimitOutput.Meta):
        fields = [*UsageLimitOutput.Meta.fields, "history"]

    @extend_schema_field(LimitDayOutput(many=True))
    def get_history(self, limit) -> list:
        return LimitDayOutput(limit_history(limit), many=True).data


class PlanCeilingOutput(serializers.ModelSerializer):
    plan = serializers.SlugRelatedField(slug_field="code", read_only=True)
    in_force = serializers.SerializerMethodField(help_text="Whether the ceiling counts calls on your whole account "
                                                           "itself: you set no limit of this metric on it (one you "
                                                           "set above the ceiling is held to it).")
    used_now = serializers.SerializerMethodField(help_text="What the ceiling counted in the current period, when in "
                                                           "force (money in US cents).")

    class Meta:
        model = PlanCeiling
        fields = ["plan", "metric", "value", "in_force", "used_now"]

    def get_in_force(self, ceiling) -> bool:
        return ceiling.metric not in self.context["account_wide"]

    def get_used_now(self, ceiling) -> int | None:
        return used_now(ceiling, self.context["request"].user.pk) if self.get_in_force(ceiling) else None


class UsageLimitListApi(APIView):
    class UsageLimitInput(StrictInput):
        subject = serializers.ChoiceField(choices=UsageLimit.Subject.choices)
        metric = serializers.ChoiceField(choices=UsageLimit.Metric.choices)
        value = serializers.IntegerField(min_value=1, max_value=2_000_000_000,
                                         help_text="Requests, tokens, or US cents for money budgets.")
        fail_mode = serializers.ChoiceField(choices=UsageLimit.FailMode.choices, required=False)
        on_exceed = serializers.ChoiceField(choices=UsageLimit.OnExceed.choices, required=False)
        thresholds = serializers.ListField(
            child=serializers.IntegerField(min_value=1, max_value=99), required=False, max_length=10,
            help_text="Percentages of the limit at which you hear once per period (e-mail, audit, webhook), e.g. [80].")
        workspace = OwnedWorkspacesField(required=False)
        member = MemberOfOwnedWorkspacesField(required=False)
        api_key = OwnedApiKeysField(required=False)

    @extend_schema(responses=UsageLimitOutput(many=True), summary="Your rate limits and their use this minute")
    def get(self, request):
        limits = UsageLimit.objects.filter(owner=request.user).select_related("workspace", "member")
        return Response(UsageLimitOutput(limits, many=True,
                                         context={"ceilings": plan_ceilings(request.user.plan_id)}).data)

    @extend_schema(request=UsageLimitInput, responses={201: UsageLimitOutput},
                   summary="Set a rate limit (requests or tokens per minute) on your account, a workspace, a member "
                           "or an API key")
    def post(self, request):
        data = self.UsageLimitInput(data=request.data, context={"request": request})
        data.is_valid(raise_exception=True)
        limit = usage_limit_set(owner=request.user, actor=request.user, **data.validated_data)
        return Response(UsageLimitOutput(limit).data, status=status.HTTP_201_CREATED)


class UsageLimitDetailApi(APIView):
    @extend_schema(responses=UsageLimitDetailOutput, summary="One of your limits, its use now and its history")
    def get(self, request, pk):
        limit = get_object_or_404(UsageLimit.objects.filter(owner=request.user).select_related("workspace", "member"),
                                  pk=pk)
        return Response(UsageLimitDetailOutput(limit).data)

    @extend_schema(responses={204: None}, summary="Remove a rate limit")
    def delete(self, request, pk):
        usage_limit_remove(limit=get_object_or_404(UsageLimit.objects.filter(owner=request.user), pk=pk),
                           actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class PlanCeilingListApi(APIView):
    @extend_schema(responses=PlanCeilingOutput(many=True), summary="The ceilings your plan sets on your limits")
    def get(self, request):
        ceilings = plan_ceilings(request.user.plan_id)
        account_wide = set(UsageLimit.objects.filter(owner=request.user, subject=UsageLimit.Subject.OWNER)
                           .values_list("metric", flat=True))
        return Response(PlanCeilingOutput(ceilings.values(), many=True,
                                          context={"request": request, "account_wide": account_wide}).data)
