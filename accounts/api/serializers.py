from django.contrib.auth import authenticate
from django.utils import timezone
from drf_spectacular.utils import extend_schema_serializer
from rest_framework import serializers

from core.serializers import StrictInput

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


API_TOKEN_MAX_DAYS = 3650


@extend_schema_serializer(component_name="AuthToken")
class AuthTokenInput(StrictInput):
    """A username and password (checked through every authentication backend, the lockout one first), and what to
    call the new token and how long it lives."""

    username = serializers.CharField(max_length=150, write_only=True)
    password = serializers.CharField(max_length=4096, write_only=True, trim_whitespace=False,
                                     style={"input_type": "password"})
    name = serializers.CharField(max_length=100, required=False, default="",
                                 help_text="What the token is for (shown in the token list).")
    expires_in_days = serializers.IntegerField(min_value=1, max_value=API_TOKEN_MAX_DAYS, required=False,
                                               help_text="Days until the token expires (default BYOK_API_TOKEN_DAYS).")

    def validate(self, attrs):
        user = authenticate(request=self.context.get("request"), username=attrs["username"],
                            password=attrs["password"])
        if user is None:  # wrong credentials, an inactive user, or a lockout (the view tells them apart)
            raise serializers.ValidationError("Unable to sign in with the credentials given.", code="authorization")
        return {**attrs, "user": user}


class TokenOutput(serializers.Serializer):
    token = serializers.CharField(help_text="The token itself (byok_…): shown this once, never again. Send it as "
                                            "`Authorization: Token <token>` or `Authorization: Bearer <token>`.")
    id = serializers.IntegerField(help_text="The token's id in GET /api/v1/auth/tokens/.")
    expires_at = serializers.DateTimeField()


class ApiTokenOutput(serializers.ModelSerializer):
    hint = serializers.CharField(source="key_hint", read_only=True, help_text="byok_… and the token's last 4.")

    class Meta:
        model = ApiKey
        fields = ["id", "name", "hint", "created_at", "expires_at", "last_used_at", "revoked_at"]


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
