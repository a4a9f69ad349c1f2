import json

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from webapp.jobs.models import Job
from webapp.jobs.selectors import job_get, job_kind_choices, job_list, job_to_dict
from webapp.jobs.services import job_cancel, job_retry
from webapp.jobs.waiting import MAX_WAIT_SECONDS, job_wait


def job_list_view(request):
    state = request.GET.get("state", "")
    kind = request.GET.get("kind", "")
    page = Paginator(job_list(user=request.user, kind=kind, state=state), 25).get_page(request.GET.get("page"))
    kinds = Job.objects.order_by().values_list("kind", flat=True).distinct()
    return render(request, "jobs/list.html", {"page": page, "states": Job.State.choices, "state": state,
                                              "kind": kind, "kinds": job_kind_choices(kinds)})


#: What a finished job of a kind produced, linked from its page: kind -> (URL name taking the job id, link text).
RESULT_LINKS = {"annotation.export": ("annotation:export_download", "Download the zip")}


def job_detail_view(request, job_id: int):
    job = job_get(user=request.user, job_id=job_id)
    if job is None:
        raise Http404("No such job")
    data = job_to_dict(job)
    link = RESULT_LINKS.get(job.kind) if job.state == Job.State.SUCCEEDED else None
    return render(request, "jobs/detail.html", {
        "job": job, "job_json": data, "job_pretty_json": json.dumps(data, indent=2, ensure_ascii=False),
        "result_link": (reverse(link[0], args=[job.pk]), link[1]) if link else None})


def job_api_view(request, job_id: int):
    """``GET /api/jobs/<id>``: the job as JSON (``job_to_dict``). With ``?wait=S`` (seconds,
    more than 0 and at most ``MAX_WAIT_SECONDS``) the answer comes when the job has ended or
    after S seconds, whichever is first (``webapp.jobs.waiting``): a kiosk asks again while
    the job is still active instead of polling. A bad ``wait`` is a 400 naming the field."""
    wait = request.GET.get("wait")
    if wait is not None:
        try:
            seconds = float(wait)
            if not 0 < seconds <= MAX_WAIT_SECONDS:
                raise ValueError
        except ValueError:
            message = f"wait must be a number of seconds above 0 and at most {MAX_WAIT_SECONDS:g}."
            return JsonResponse({"message": message, "code": "invalid", "fields": {"wait": message}}, status=400)
    job = job_get(user=request.user, job_id=job_id)
    if job is None:
        return JsonResponse({"message": "No such job.", "code": "not_found", "fields": {}}, status=404)
    if wait is not None and (job.is_active or job.stopping):
        job_wait(job.pk, seconds)
        job = job_get(user=request.user, job_id=job_id)  # ended or not: its latest progress
        if job is None:
            return JsonResponse({"message": "The job was deleted.", "code": "not_found", "fields": {}}, status=404)
    return JsonResponse(job_to_dict(job))


@require_POST
def job_cancel_view(request, job_id: int):
    job = job_get(user=request.user, job_id=job_id)
    if job is None:
        raise Http404("No such job")
    if job_cancel(job=job):
        job.refresh_from_db()
        if job.stopping:  # its task is still running: say so, as the page's "Cancelling…" does
            messages.info(request, f"Job #{job.pk} is stopping: {job.message}")
        else:
            messages.success(request, f"Job #{job.pk} cancelled.")
    else:
        messages.info(request, f"Job #{job.pk} had already finished.")
    return redirect(_next_or_job_page(request, job))


@require_POST
def job_retry_view(request, job_id: int):
    job = job_get(user=request.user, job_id=job_id)
    if job is None:
        raise Http404("No such job")
    retried = job_retry(job=job)  # the queue being down: ServiceErrorMiddleware's 503
    if retried:
        messages.success(request, f"Job #{job.pk} was queued again.")
    else:
        messages.info(request, f"Job #{job.pk} is running or already succeeded.")
    return redirect(_next_or_job_page(request, job))


def _next_or_job_page(request, job) -> str:
    """The form's ``next`` page when it is on this site (never an outside address), else the job's page."""
    nxt = request.POST.get("next", "")
    return nxt if url_has_allowed_host_and_scheme(nxt, allowed_hosts={request.get_host()}) else f"/jobs/{job.pk}/"
