"""Workspaces in the owner console: the list, the members page, and its buttons (invite by e-mail, revoke an
invitation, change a role, remove a member, hand the workspace over).

Who may press what is the membership services' rule (accounts.services): the owner does everything; an admin
invites members (not admins) and revokes member invitations, and changes or removes nobody. The page offers each
viewer only the buttons their role allows.
"""

from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from accounts.services import (
    invitation_create,
    invitation_revoke,
    membership_remove,
    membership_role_change,
    workspace_ownership_transfer,
)

from .forms import InvitationForm, MemberRoleForm
from .scope import console_workspaces
from .site import ConsoleModelAdmin, object_action


class WorkspaceConsoleAdmin(ConsoleModelAdmin):
    list_display = ["name", "slug", "owner", "your_role", "member_count"]
    search_fields = ["name", "slug"]

    def get_queryset(self, request):
        return console_workspaces(self.access(request))

    @admin.display(description="members", ordering="member_count")
    def member_count(self, workspace) -> int:
        return workspace.member_count

    @admin.display(description="your role")
    def your_role(self, workspace) -> str:
        return "Owner" if workspace.owned_by_viewer else "Admin"

    def get_urls(self):
        return [
            self.view_path("<path:object_id>/invitations/", self.invite_view, "invite"),
            self.view_path("<path:object_id>/invitations/<int:invitation_id>/revoke/", self.invitation_revoke_view,
                           "invitation_revoke"),
            self.view_path("<path:object_id>/members/<int:user_id>/role/", self.member_role_view, "member_role"),
            self.view_path("<path:object_id>/members/<int:user_id>/remove/", self.member_remove_view,
                           "member_remove"),
            self.view_path("<path:object_id>/members/<int:user_id>/make-owner/", self.ownership_transfer_view,
                           "ownership_transfer"),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        workspace = self.get_object(request, object_id)
        if request.method == "POST":
            raise PermissionDenied  # each change is its own POST view below
        is_owner = workspace.owner_id == request.user.pk
        return self.render(request, "byok_console/workspace_change.html", {
            "title": workspace.name, "workspace": workspace,
            "memberships": workspace.memberships.all(),
            "invite_form": InvitationForm(may_invite_admins=is_owner),
            "invitations": pending_invitations(workspace),
            "invitation_days": _invitation_days(),
            "roles": MemberRoleForm.base_fields["role"].choices,
            "is_owner": is_owner})

    def _member_of(self, workspace, user_id) -> User:
        membership = next((m for m in workspace.memberships.all() if m.user_id == user_id), None)
        if membership is None:
            raise Http404("Not a member of this workspace.")
        return membership.user

    # Each button below is one service; `run_and_redirect` turns its domain error (role rules, already a
    # member …) into a message.

    @object_action
    def invite_view(self, request, workspace):
        form = InvitationForm(request.POST, may_invite_admins=workspace.owner_id == request.user.pk)
        if not form.is_valid():
            for errors in form.errors.values():
                messages.error(request, " ".join(errors))
            return self.redirect_to_change(request, workspace)
        email, role = form.cleaned_data["email"], form.cleaned_data["role"]

        def invite():
            invitation_create(workspace=workspace, email=email, role=role, actor=request.user,
                              link_for=lambda token: request.build_absolute_uri(
                                  reverse(f"{self.admin_site.name}:invitation_accept", args=[token])))
            # The same words whether or not someone has an account with this address.
            return (f"Invitation sent to {email} to join {workspace.name} as {role}. The link works for "
                    f"{_invitation_days()} days, for whoever signs in with that address.")

        return self.run_and_redirect(request, workspace, invite)

    @object_action
    def invitation_revoke_view(self, request, workspace, invitation_id):
        invitation = workspace.invitations.filter(pk=invitation_id).first()
        if invitation is None:
            raise Http404("No such invitation in this workspace.")

        def revoke():
            invitation_revoke(invitation=invitation, actor=request.user)
            return f"The invitation to {invitation.email} was revoked; its link no longer works."

        return self.run_and_redirect(request, workspace, revoke)

    @object_action
    def member_role_view(self, request, workspace, user_id):
        user = self._member_of(workspace, user_id)
        form = MemberRoleForm(request.POST)
        if not form.is_valid():
            return self.redirect_to_change(request, workspace, "Choose member or admin.", level=messages.ERROR)

        def change():
            membership_role_change(workspace=workspace, user=user, role=form.cleaned_data["role"], actor=request.user)
            return f"{user.username} is now {form.cleaned_data['role']} of {workspace.name}."

        return self.run_and_redirect(request, workspace, change)

    @object_action
    def member_remove_view(self, request, workspace, user_id):
        user = self._member_of(workspace, user_id)

        def remove():
            membership_remove(workspace=workspace, user=user, actor=request.user)
            return f"{user.username} was removed from {workspace.name}."

        return self.run_and_redirect(request, workspace, remove)

    @object_action
    def ownership_transfer_view(self, request, workspace, user_id):
        if workspace.owner_id != request.user.pk:
            raise PermissionDenied  # only the owner hands over the workspace
        user = self._member_of(workspace, user_id)

        def transfer():
            workspace_ownership_transfer(workspace=workspace, new_owner=user, actor=request.user)
            return f"{user.username} now owns {workspace.name}; you stay on as an admin."

        return self.run_and_redirect(request, workspace, transfer)


def pending_invitations(workspace):
    return (workspace.invitations.filter(accepted_at__isnull=True, revoked_at__isnull=True,
                                         expires_at__gt=timezone.now())
            .select_related("invited_by").order_by("email"))


def _invitation_days() -> int:
    return settings.BYOK_INVITATION_DAYS
