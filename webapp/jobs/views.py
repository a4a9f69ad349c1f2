from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from webapp.jobs.models import Job
from webapp.jobs.selectors import job_get, job_list, job_to_dict
from webapp.jobs.services import job_cancel


def job_list_view(request):
    state = request.GET.get("state", "")
    kind = request.GET.get("kind", "")
    page = Paginator(job_list(user=request.user, kind=kind, state=state), 25).get_page(request.GET.get("page"))
    kinds = Job.objects.order_by().values_list("kind", flat=True).distinct()
    return render(request, "jobs/list.html", {"page": page, "states": Job.State.choices, "state": state,
                                              "kind": kind, "kinds": sorted(set(kinds))})


def job_detail_view(request, job_id: int):
    job = job_get(user=request.user, job_id=job_id)
    if job is None:
        raise Http404("No such job")
    return render(request, "jobs/detail.html", {"job": job, "job_json": job_to_dict(job)})


def job_api_view(request, job_id: int):
    job = job_get(user=request.user, job_id=job_id)
    if job is None:
        return JsonResponse({"message": "No such job.", "code": "not_found", "fields": {}}, status=404)
    return JsonResponse(job_to_dict(job))


@require_POST
def job_cancel_view(request, job_id: int):
    job = job_get(user=request.user, job_id=job_id)
    if job is None:
        raise Http404("No such job")
    if job_cancel(job=job):
        messages.success(request, f"Job #{job.pk} cancelled.")
    else:
        messages.info(request, f"Job #{job.pk} had already finished.")
    return redirect("jobs:detail", job_id=job.pk)
