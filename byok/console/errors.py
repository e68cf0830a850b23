"""403 and 404 inside the owner console: a console page (header, navigation, a way back) instead of Django's bare
error text. Every other path goes on to core's handlers (JSON under /api/, Django's pages elsewhere)."""

from core import api

from .site import console_site

_TEXTS = {
    403: ("You may not do this", "This page or button is for the key's owner. Workspace admins see their owner's keys "
          "read-only; only an owner adds, tests, rotates, disables or reverts their keys."),
    404: ("Not found", "There is nothing here, or it is not yours to see: keys, workspaces and events of other owners "
          "answer like this."),
}


def _in_console(request) -> bool:
    return request.path.startswith("/manage/") and not request.path.startswith("/manage/login")


def _console_error(request, status: int):
    title, text = _TEXTS[status]
    response = console_site.render(request, "byok_console/error.html",
                                   {"title": title, "error_text": text, "status": status}, status=status)
    return response.render()


def permission_denied(request, exception=None):
    if _in_console(request):
        return _console_error(request, 403)
    return api.handler403(request, exception)


def page_not_found(request, exception=None):
    if _in_console(request):
        return _console_error(request, 404)
    return api.handler404(request, exception)
