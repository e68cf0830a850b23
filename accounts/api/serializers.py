from drf_spectacular.utils import extend_schema_serializer
from rest_framework import serializers
from rest_framework.authtoken.serializers import AuthTokenSerializer

from core.serializers import StrictInputMixin

from ..models import Membership, Plan, User, Workspace


class PlanOutput(serializers.ModelSerializer):
    class Meta:
        model = Plan
        fields = ["code", "name", "byok_allowed", "monthly_platform_credits"]


class UserSummaryOutput(serializers.ModelSerializer):
    class Meta:
        model = User
        fields = ["id", "username", "first_name", "last_name"]


class MembershipOutput(serializers.ModelSerializer):
    workspace = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    workspace_name = serializers.CharField(source="workspace.name", read_only=True)

    class Meta:
        model = Membership
        fields = ["workspace", "workspace_name", "role", "created_at"]


class MeOutput(serializers.ModelSerializer):
    plan = PlanOutput(read_only=True)
    memberships = MembershipOutput(many=True, read_only=True)

    class Meta:
        model = User
        fields = ["id", "username", "email", "first_name", "last_name", "is_staff", "plan", "memberships"]


class WorkspaceMemberOutput(serializers.ModelSerializer):
    user = UserSummaryOutput(read_only=True)

    class Meta:
        model = Membership
        fields = ["user", "role", "created_at"]


class WorkspaceOutput(serializers.ModelSerializer):
    owner = UserSummaryOutput(read_only=True)
    owner_plan = PlanOutput(source="owner.plan", read_only=True)
    byok_allowed = serializers.BooleanField(source="owner.plan.byok_allowed", read_only=True)

    class Meta:
        model = Workspace
        fields = ["slug", "name", "owner", "owner_plan", "byok_allowed", "created_at"]


class WorkspaceDetailOutput(WorkspaceOutput):
    members = WorkspaceMemberOutput(source="memberships", many=True, read_only=True)

    class Meta(WorkspaceOutput.Meta):
        fields = WorkspaceOutput.Meta.fields + ["members"]


@extend_schema_serializer(component_name="AuthToken")
class AuthTokenInput(StrictInputMixin, AuthTokenSerializer):
    """DRF's username/password check, refusing unknown fields like every other API input."""


class TokenOutput(serializers.Serializer):
    token = serializers.CharField(help_text='Send it as `Authorization: Token <token>`.')
