"""The page an invitation's link opens, /manage/invitations/<token>/, and the sign-in it may need.

Open to anyone who holds the link (members too: they never enter the rest of the console). The page says what the
link does, or why it no longer works (expired, revoked, used, not valid); a signed-in user whose e-mail address
matches the invitation's accepts it with one POST. Nothing here says whether an account exists for an address.
"""

from django.contrib import messages
from django.contrib.auth import authenticate, login
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.views import LoginView
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables

from accounts.errors import AlreadyMember, InvitationNotForYou, InvitationUnusable, SignUpInvalid
from accounts.lockout import locked_out_message, register_failure, seconds_locked
from accounts.models import Membership
from accounts.services import invitation_accept, invitation_by_token, invitation_is_for, invitation_sign_up

from .forms import InvitationSignUpForm, add_domain_errors


@never_cache
@sensitive_variables("token")
def invitation_view(request: HttpRequest, token: str, *, console_site) -> HttpResponse:
    """`console_site` (the site whose URLs route here, passed by it) renders the page."""
    here = request.path
    context = {"title": "Workspace invitation", "sign_in_url": f"{reverse('console:invitation_sign_in')}?next={here}",
               "sign_up_url": reverse("console:invitation_sign_up", args=[token])}
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
            return _joined(request, membership)
    return console_site.render(request, "byok_console/invitation.html", context)


def _joined(request: HttpRequest, membership: Membership) -> HttpResponse:
    """Where a new member goes: the console's home for an admin, their own API keys page for a member."""
    role = "an admin" if membership.role == Membership.Role.ADMIN else "a member"
    messages.success(request, f"You joined {membership.workspace.name} as {role}.")
    if membership.role == Membership.Role.ADMIN:
        return HttpResponseRedirect(reverse("console:index"))
    return HttpResponseRedirect(reverse("console:my_api_keys"))


@never_cache
@sensitive_post_parameters()
@sensitive_variables("token")
def invitation_sign_up_view(request: HttpRequest, token: str, *, console_site) -> HttpResponse:
    """A person without an account creates one on the link (bound to the invitation's e-mail address), joins, and
    is signed in. Sign-in's lockout applies: a locked address (or username) is refused, and each refused sign-up
    counts against the address, so the form cannot be used to probe usernames without limit."""
    try:
        invitation = invitation_by_token(token)
    except InvitationUnusable as exc:
        return console_site.render(request, "byok_console/invitation.html",
                                   {"title": "Workspace invitation", "unusable": exc.message, "state": exc.state},
                                   status=410 if exc.state != "unknown" else 404)
    form = InvitationSignUpForm(request.POST if request.method == "POST" else None)
    context = {"title": f"Create your account to join {invitation.workspace.name}", "invitation": invitation,
               "form": form}
    if request.method == "POST":
        left = seconds_locked(request, request.POST.get("username"))
        if left:
            form.is_valid()
            form.add_error(None, locked_out_message(left))
        elif form.is_valid():
            try:
                membership = invitation_sign_up(token=token, username=form.cleaned_data["username"],
                                                password=form.cleaned_data["password"])
            except (SignUpInvalid, InvitationUnusable) as exc:
                add_domain_errors(form, exc)
                register_failure(request, None)
            else:
                user = authenticate(request, username=membership.user.username,
                                    password=form.cleaned_data["password"])
                login(request, user)
                return _joined(request, membership)
        else:
            register_failure(request, None)
    return console_site.render(request, "byok_console/invitation_sign_up.html", context)


class InvitationSignInView(LoginView):
    """Sign-in for whoever accepts an invitation or opens their own page /manage/me/ (members included), back there
    afterwards.

    Unlike the console's own sign-in, any active account may sign in here: it only leads back to the link.
    `console_site` is given by the site that routes here (`as_view(console_site=...)`)."""

    console_site = None
    authentication_form = AuthenticationForm
    template_name = "byok_console/invitation_sign_in.html"
    redirect_authenticated_user = False

    def get_success_url(self):
        url = self.get_redirect_url()
        return url if url.startswith(("/manage/invitations/", "/manage/me/")) else reverse("console:index")

    def get_context_data(self, **kwargs):
        return {**self.console_site.each_context(self.request), "title": "Sign in to accept an invitation",
                **super().get_context_data(**kwargs)}
