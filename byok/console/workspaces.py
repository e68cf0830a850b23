"""Workspaces in the owner console: the list, the members page, and its buttons (add a member, change a role,
remove a member, hand the workspace over)."""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404

from accounts.models import User
from accounts.services import (
    membership_add,
    membership_remove,
    membership_role_change,
    workspace_ownership_transfer,
)

from .forms import MemberAddForm, MemberRoleForm
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
            self.view_path("<path:object_id>/members/add/", self.member_add_view, "member_add"),
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
        return self.render(request, "byok_console/workspace_change.html", {
            "title": workspace.name, "workspace": workspace,
            "memberships": workspace.memberships.all(), "add_form": MemberAddForm(),
            "roles": MemberRoleForm.base_fields["role"].choices,
            "is_owner": workspace.owner_id == request.user.pk})

    def _member_of(self, workspace, user_id) -> User:
        membership = next((m for m in workspace.memberships.all() if m.user_id == user_id), None)
        if membership is None:
            raise Http404("Not a member of this workspace.")
        return membership.user

    # Each button below is one membership service; `run_and_redirect` turns its domain error (ownership rules,
    # already a member …) into a message.

    @object_action
    def member_add_view(self, request, workspace):
        form = MemberAddForm(request.POST)
        if not form.is_valid():
            for errors in form.errors.values():
                messages.error(request, " ".join(errors))
            return self.redirect_to_change(request, workspace)
        user, role = form.cleaned_data["user"], form.cleaned_data["role"]

        def add():
            membership_add(workspace=workspace, user=user, role=role, actor=request.user)
            return f"{user.username} joined {workspace.name} as {role}."

        return self.run_and_redirect(request, workspace, add)

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
