"""The JSON API (``/api/...``) answers in JSON when a request is refused
before any view runs: no login (401 instead of a redirect to the login page)
and a failed CSRF check (403 instead of Django's HTML page). Pages keep
Django's own behaviour."""

from __future__ import annotations

from django.contrib.auth.middleware import LoginRequiredMiddleware
from django.http import JsonResponse
from django.views.csrf import csrf_failure as page_csrf_failure

API_PREFIX = "/api/"


def _is_api(request) -> bool:
    return request.path.startswith(API_PREFIX)


class ApiLoginRequiredMiddleware(LoginRequiredMiddleware):
    """Django 5.1+'s ``LoginRequiredMiddleware`` (every view needs a login unless
    marked ``@login_not_required``), with a JSON 401 for API requests."""

    def handle_no_permission(self, request, view_func):
        if _is_api(request):
            return JsonResponse({"message": "Log in first: this API uses the web session's login.",
                                 "code": "not_authenticated", "fields": {}}, status=401)
        return super().handle_no_permission(request, view_func)


def csrf_failure(request, reason: str = ""):
    """``CSRF_FAILURE_VIEW``: a JSON 403 saying what to send for API requests, Django's page otherwise."""
    if _is_api(request):
        return JsonResponse({"message": "The CSRF check failed: send the csrftoken cookie's value as the "
                                        "X-CSRFToken header.", "code": "csrf_failed", "fields": {}}, status=403)
    return page_csrf_failure(request, reason=reason)
