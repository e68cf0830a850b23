from django.utils import timezone
from drf_spectacular.utils import extend_schema_serializer
from rest_framework import serializers
from rest_framework.authtoken.serializers import AuthTokenSerializer

from core.serializers import StrictInput, StrictInputMixin

from ..models import ApiKey, Membership, Plan, User, Workspace


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


class ApiKeyInput(StrictInput):
    name = serializers.CharField(max_length=100)
    expires_at = serializers.DateTimeField(required=False, allow_null=True, default=None,
                                           help_text="When the key stops working (optional; in the future).")

    def validate_expires_at(self, value):
        if value is not None and value <= timezone.now():
            raise serializers.ValidationError("Must be in the future.")
        return value


class ApiKeyOutput(serializers.ModelSerializer):
    hint = serializers.CharField(source="key_hint", read_only=True, help_text="byok_… and the key's last 4.")
    user = UserSummaryOutput(read_only=True)

    class Meta:
        model = ApiKey
        fields = ["id", "name", "hint", "user", "created_at", "expires_at", "revoked_at", "last_used_at"]


class ApiKeyCreatedOutput(serializers.ModelSerializer):
    hint = serializers.CharField(source="key_hint", read_only=True)
    key = serializers.CharField(read_only=True, help_text="The key itself: shown this once, never again.")

    class Meta:
        model = ApiKey
        fields = ["id", "name", "key", "hint", "expires_at", "created_at"]
