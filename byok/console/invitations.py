"""The page an invitation's link opens, /manage/invitations/<token>/, and the sign-in it may need.

Open to anyone who holds the link (members too: they never enter the rest of the console). The page says what the
link does, or why it no longer works (expired, revoked, used, not valid); a signed-in user whose e-mail address
matches the invitation's accepts it with one POST. Nothing here says whether an account exists for an address.
"""

from django.contrib import messages
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.views import LoginView
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_variables

from accounts.errors import AlreadyMember, InvitationNotForYou, InvitationUnusable
from accounts.models import Membership
from accounts.services import invitation_accept, invitation_by_token, invitation_is_for


@never_cache
@sensitive_variables("token")
def invitation_view(request: HttpRequest, token: str, *, console_site) -> HttpResponse:
    """`console_site` (the site whose URLs route here, passed by it) renders the page."""
    here = request.path
    context = {"title": "Workspace invitation", "sign_in_url": f"{reverse('console:invitation_sign_in')}?next={here}"}
    try:
        invitation = invitation_by_token(token)
    except InvitationUnusable as exc:
        return console_site.render(request, "byok_console/invitation.html",
                                   {**context, "unusable": exc.message, "state": exc.state}, status=410
                                   if exc.state != "unknown" else 404)
    context.update(invitation=invitation, workspace=invitation.workspace,
                   for_you=request.user.is_authenticated and invitation_is_for(invitation, request.user))
    if request.method == "POST" and request.user.is_authenticated:
        try:
            membership = invitation_accept(token=token, user=request.user)
        except (InvitationUnusable, InvitationNotForYou, AlreadyMember) as exc:
            context["error"] = exc.message
        else:
            workspace = membership.workspace
            if membership.role == Membership.Role.ADMIN:
                messages.success(request, f"You joined {workspace.name} as an admin.")
                return HttpResponseRedirect(reverse("console:index"))
            return console_site.render(request, "byok_console/invitation.html",
                                       {**context, "joined": membership})
    return console_site.render(request, "byok_console/invitation.html", context)


class InvitationSignInView(LoginView):
    """Sign-in for whoever accepts an invitation (members included), back to the invitation afterwards.

    Unlike the console's own sign-in, any active account may sign in here: it only leads back to the link.
    `console_site` is given by the site that routes here (`as_view(console_site=...)`)."""

    console_site = None
    authentication_form = AuthenticationForm
    template_name = "byok_console/invitation_sign_in.html"
    redirect_authenticated_user = False

    def get_success_url(self):
        url = self.get_redirect_url()
        return url if url.startswith("/manage/invitations/") else reverse("console:index")

    def get_context_data(self, **kwargs):
        return {**self.console_site.each_context(self.request), "title": "Sign in to accept an invitation",
                **super().get_context_data(**kwargs)}
