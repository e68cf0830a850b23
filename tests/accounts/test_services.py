import pytest

from accounts.errors import AlreadyMember, NotAMember, OwnershipTransferRequired, SlugTaken, UnknownPlan
from accounts.models import Membership, Plan, User
from accounts.services import (
    membership_add,
    membership_remove,
    membership_role_change,
    user_plan_change,
    workspace_create,
    workspace_ownership_transfer,
)
from tests.factories import UserFactory, WorkspaceFactory, add_member

pytestmark = pytest.mark.django_db


def test_new_user_is_on_free_plan_without_byok():
    user = User.objects.create_user("newcomer", password="x")
    user.refresh_from_db()
    assert user.plan.code == "free"
    assert user.plan.byok_allowed is False


def test_only_business_and_enterprise_plans_allow_byok():
    allowed = set(Plan.objects.filter(byok_allowed=True).values_list("code", flat=True))
    assert allowed == {"business", "enterprise"}
    assert list(Plan.objects.values_list("code", flat=True)) == ["free", "pro", "business", "enterprise"]


def test_workspace_create_makes_owner_an_owner_member():
    owner = UserFactory()
    workspace = workspace_create(owner=owner, name="Acme Labs")
    assert workspace.slug == "acme-labs"
    assert Membership.objects.get(workspace=workspace, user=owner).role == Membership.Role.OWNER


def test_workspace_slug_must_be_unique():
    WorkspaceFactory(slug="taken")
    with pytest.raises(SlugTaken):
        workspace_create(owner=UserFactory(), name="Other", slug="taken")


def test_owner_cannot_be_removed():
    workspace = WorkspaceFactory()
    with pytest.raises(OwnershipTransferRequired):
        membership_remove(workspace=workspace, user=workspace.owner, actor=workspace.owner)
    assert Membership.objects.filter(workspace=workspace, user=workspace.owner, role="owner").exists()


def test_owner_cannot_be_demoted():
    workspace = WorkspaceFactory()
    with pytest.raises(OwnershipTransferRequired):
        membership_role_change(workspace=workspace, user=workspace.owner, role="member", actor=workspace.owner)


def test_member_cannot_be_promoted_to_owner_by_role_change():
    workspace = WorkspaceFactory()
    member = add_member(workspace)
    with pytest.raises(OwnershipTransferRequired):
        membership_role_change(workspace=workspace, user=member, role="owner", actor=workspace.owner)


def test_member_can_be_added_once_and_removed():
    workspace = WorkspaceFactory()
    member = add_member(workspace)
    with pytest.raises(AlreadyMember):
        membership_add(workspace=workspace, user=member, actor=workspace.owner)
    membership_remove(workspace=workspace, user=member, actor=workspace.owner)
    assert not Membership.objects.filter(workspace=workspace, user=member).exists()
    with pytest.raises(NotAMember):
        membership_remove(workspace=workspace, user=member, actor=workspace.owner)


def test_ownership_transfer_swaps_roles_and_then_former_owner_may_leave():
    workspace = WorkspaceFactory()
    previous_owner = workspace.owner
    admin = add_member(workspace, role="admin")
    workspace_ownership_transfer(workspace=workspace, new_owner=admin, actor=previous_owner)
    workspace.refresh_from_db()
    assert workspace.owner == admin
    roles = dict(Membership.objects.filter(workspace=workspace).values_list("user__username", "role"))
    assert roles == {admin.username: "owner", previous_owner.username: "admin"}
    membership_remove(workspace=workspace, user=previous_owner, actor=previous_owner)
    assert not Membership.objects.filter(workspace=workspace, user=previous_owner).exists()


def test_ownership_transfer_requires_a_member():
    workspace = WorkspaceFactory()
    with pytest.raises(NotAMember):
        workspace_ownership_transfer(workspace=workspace, new_owner=UserFactory(), actor=workspace.owner)


def test_plan_change_moves_user_and_rejects_unknown_plan():
    user = UserFactory()
    user_plan_change(user=user, plan_code="business", actor=None)
    user.refresh_from_db()
    assert user.plan.byok_allowed is True
    with pytest.raises(UnknownPlan):
        user_plan_change(user=user, plan_code="platinum", actor=None)
