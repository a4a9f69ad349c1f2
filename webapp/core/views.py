"""Home page, private media, and the one error renderer for pages and JSON."""

from __future__ import annotations

import mimetypes
from pathlib import Path

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import ValidationError
from django.http import FileResponse, Http404, HttpResponseForbidden, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from webapp.core.media_access import media_allowed, media_download_name
from webapp.jobs.errors import QueueUnavailable

# enrolment photos and face crops (biometric data); dataset export zips and zips being imported


def home(request):
    from webapp.checkin.selectors import dashboard_counts
    from webapp.jobs.selectors import job_list

    return render(request, "core/home.html", {"counts": dashboard_counts(), "jobs": job_list(user=request.user)[:5]})


@require_GET
def media(request, path: str):
    """Serve an uploaded file to the users its app's rule allows
    (``webapp.core.media_access``). Paths are resolved inside MEDIA_ROOT;
    anything escaping it is a 404.

    ``?download`` sends it as an attachment named after the photo's original
    name (``media_download_name``; ``Content-Disposition`` with the RFC 5987
    ``filename*`` form for names that are not ASCII, Django's
    ``content_disposition_header``). Every answer carries ``nosniff`` and a
    sandboxing Content-Security-Policy, so a file opened in a tab never runs
    a script, even one stored before photos were re-encoded."""
    root = Path(settings.MEDIA_ROOT).resolve()
    target = (root / path).resolve()
    if root not in target.parents or not target.is_file():
        raise Http404("No such file")
    if not media_allowed(request.user, path):
        return HttpResponseForbidden("This file is not shared with you.")
    content_type = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
    download = "download" in request.GET
    resp = FileResponse(open(target, "rb"), content_type=content_type, as_attachment=download,
                        filename=media_download_name(path) if download else "")
    resp["X-Content-Type-Options"] = "nosniff"
    resp["Content-Security-Policy"] = "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; sandbox"
    resp["Cache-Control"] = "private, max-age=3600"
    return resp


def error_payload(err: Exception) -> tuple[dict, int]:
    """``({message, code, fields}, status)`` for a service error."""
    if isinstance(err, QueueUnavailable):
        return {"message": err.message, "code": "queue_unavailable", "fields": {}}, 503
    if isinstance(err, ValidationError):
        fields = {k: [str(m) for m in v] for k, v in err.message_dict.items()} if hasattr(err, "error_dict") else {}
        code = getattr(err, "code", None) or (err.error_list[0].code if hasattr(err, "error_list") else None) or "invalid"
        return {"message": " ".join(err.messages), "code": code, "fields": fields}, 400
    raise err


def json_error(err: Exception) -> JsonResponse:
    payload, status = error_payload(err)
    return JsonResponse(payload, status=status)


def page_error(request, err: Exception):
    payload, status = error_payload(err)
    return render(request, "core/error.html", payload, status=status)


@login_not_required
def healthz(request):
    return JsonResponse({"ok": True})
