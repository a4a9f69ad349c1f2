"""The JSON API (``/api/...``) answers in JSON, ``{message, code, fields}``,
also where Django would answer with a page: no login (401 instead of a redirect
to the login page), a failed CSRF check, ``PermissionDenied`` (403), ``Http404``
and unknown API addresses (404), a wrong method (405), and an unexpected error
(500). Pages keep Django's own behaviour (``templates/403.html``, ``404.html``,
``500.html``), but for the 405, which Django leaves blank."""

from __future__ import annotations

import re

from django.contrib.auth.middleware import LoginRequiredMiddleware
from django.http import JsonResponse
from django.shortcuts import render
from django.views import defaults
from django.views.csrf import csrf_failure as page_csrf_failure

API_PREFIX = "/api/"
GENERIC_404 = re.compile(r"No \w+ matches the given query\.")


def _is_api(request) -> bool:
    return request.path.startswith(API_PREFIX)


def _error(message: str, code: str, status: int) -> JsonResponse:
    """The API's error shape, ``{message, code, fields}`` (``webapp.core.views.error_payload``'s)."""
    return JsonResponse({"message": message, "code": code, "fields": {}}, status=status)


class ApiLoginRequiredMiddleware(LoginRequiredMiddleware):
    """Django 5.1+'s ``LoginRequiredMiddleware`` (every view needs a login unless
    marked ``@login_not_required``), with a JSON 401 for API requests."""

    def handle_no_permission(self, request, view_func):
        if _is_api(request):
            return _error("Log in first: this API uses the web session's login.", "not_authenticated", 401)
        return super().handle_no_permission(request, view_func)


def csrf_failure(request, reason: str = ""):
    """``CSRF_FAILURE_VIEW``: a JSON 403 saying what to send for API requests, Django's page otherwise.

    CSRF is checked before the login (middleware order), so an anonymous API
    request is told it needs a login (401 ``not_authenticated``), as the README
    promises, rather than about a header it could not have (issue 13)."""
    if _is_api(request):
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return _error("Log in first: this API uses the web session's login.", "not_authenticated", 401)
        return _error("The CSRF check failed: send the csrftoken cookie's value as the X-CSRFToken header.",
                      "csrf_failed", 403)
    return page_csrf_failure(request, reason=reason)


def _said(exception, default: str) -> str:
    """The sentence a view raised (``Http404("No such photo")``), else ``default``: the URL
    resolver's own 404 carries a dict, and ``get_object_or_404``'s sentence names a model class."""
    args = getattr(exception, "args", ())
    said = args[0] if args and isinstance(args[0], str) else ""
    return said if said and not GENERIC_404.match(said) else default


def not_found(request, exception=None):
    """``handler404``."""
    if _is_api(request):
        return _error(_said(exception, "Not found: no such API address or item."), "not_found", 404)
    return defaults.page_not_found(request, exception)


def permission_denied(request, exception=None):
    """``handler403``."""
    if _is_api(request):
        return _error(_said(exception, "You do not have access to this."), "forbidden", 403)
    return defaults.permission_denied(request, exception)


def server_error(request):
    """``handler500``: the traceback goes to the log, never to the user."""
    if _is_api(request):
        return _error("Something went wrong on the server; it was logged.", "server_error", 500)
    return render(request, "500.html", status=500)


class ServiceErrorMiddleware:
    """The one handler of service errors that no view catches: the job queue
    being down (``QueueUnavailable``) answers 503 with its sentence, in JSON
    on the API and as the error page elsewhere. Views let it rise instead of
    each catching it."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        from webapp.core.views import json_error, page_error
        from webapp.jobs.errors import QueueUnavailable

        if not isinstance(exception, QueueUnavailable):
            return None
        return json_error(exception) if _is_api(request) else page_error(request, exception)


class MethodNotAllowedMiddleware:
    """A 405 from ``require_POST`` and friends has an empty body (a blank page for someone
    who opened a form's address): give it a sentence, in JSON on the API."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if response.status_code != 405 or response.content:
            return response
        allowed = response.get("Allow", "")
        message = f"This address takes {allowed or 'another method'} requests, not {request.method}."
        if _is_api(request):
            new = _error(message, "method_not_allowed", 405)
        else:
            new = render(request, "core/error.html", {"message": message + " Use the form on the page that leads "
                                                                "here instead of opening it directly."}, status=405)
        new["Allow"] = allowed
        return new
