from __future__ import annotations

import csv

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from webapp.checkin import selectors, services
from webapp.checkin.forms import CheckInFilterForm, CheckInForm, EnrolForm, MatchingSettingsForm, MemberForm
from webapp.checkin.jobs import ENROL
from webapp.checkin.models import MIN_SAMPLES, CheckInPhoto, FaceSample, MatchingSettings, Member, Mode
from webapp.core.data_urls import upload_from_data_url
from webapp.core.permissions import checkin_role_required, staff_required
from webapp.core.views import json_error
from webapp.jobs.models import Job
from webapp.jobs.selectors import job_to_dict


# ----- members (staff) -----
@staff_required
def member_list(request):
    q = request.GET.get("q", "").strip()
    page = Paginator(selectors.member_list(query=q), 25).get_page(request.GET.get("page"))
    return render(request, "checkin/member_list.html", {"page": page, "q": q, "min_samples": MIN_SAMPLES})


@staff_required
def member_create(request):
    form = MemberForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        member = form.save()
        messages.success(request, f"{member} was added. Now enrol a few photos of their face.")
        return redirect("checkin:member_detail", member_id=member.pk)
    return render(request, "checkin/member_form.html", {"form": form, "title": "New member"})


@staff_required
def member_edit(request, member_id: int):
    member = get_object_or_404(Member, pk=member_id)
    form = MemberForm(request.POST or None, instance=member)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, f"{member} was saved.")
        return redirect("checkin:member_detail", member_id=member.pk)
    return render(request, "checkin/member_form.html", {"form": form, "title": f"Edit {member}", "member": member})


@staff_required
def member_delete(request, member_id: int):
    member = get_object_or_404(Member, pk=member_id)
    if request.method == "POST":
        counts = services.member_delete(member=member)
        messages.success(request, f"{member} was deleted with {counts['samples']} face samples, "
                                  f"{counts['checkins']} check-ins and {counts['photos']} check-in photos.")
        return redirect("checkin:member_list")
    return render(request, "checkin/member_delete.html", {
        "member": member, "n_samples": member.samples.count(), "n_checkins": member.checkins.count()})


@staff_required
def member_detail(request, member_id: int):
    member = get_object_or_404(Member, pk=member_id)
    form = EnrolForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            outcome = services.member_enroll(member=member, photos=form.cleaned_data["photos"], user=request.user)
        except ValidationError as err:
            form.add_error("photos", err)
        else:
            if outcome.samples:  # refused files are listed from the job's params
                messages.info(request, f"{len(outcome.samples)} photo(s) uploaded; looking for the face in each…")
                return redirect(f"{request.path}?job={outcome.job.pk}")
            for _name, reason in outcome.refused:
                messages.error(request, reason)
            return redirect(request.path)
    samples = member.samples.select_related("job")
    job_id = request.GET.get("job")
    last_enrol = Job.objects.filter(kind=ENROL.kind, params__member_id=member.pk).order_by("-id").first()
    return render(request, "checkin/member_detail.html", {
        "member": member, "form": form, "samples": samples, "job_id": job_id if (job_id or "").isdigit() else None,
        "n_accepted": samples.filter(status=FaceSample.Status.ACCEPTED).count(), "min_samples": MIN_SAMPLES,
        "pending": samples.filter(status=FaceSample.Status.PENDING).exists(),
        "recent": member.checkins.all()[:10],
        # only right after that upload: an older list would read as news
        "last_refused": ((last_enrol.params.get("refused") or []) if last_enrol and str(last_enrol.pk) in
                         (request.GET.get("job"), request.GET.get("done")) else [])})


@staff_required
@require_POST
def sample_delete(request, sample_id: int):
    sample = get_object_or_404(FaceSample, pk=sample_id)
    member_id = sample.member_id
    services.sample_delete(sample=sample)
    messages.success(request, "The sample and its photo were deleted.")
    return redirect("checkin:member_detail", member_id=member_id)


@staff_required
def calibration(request):
    """How the check-in decision cuts on the current gallery, and the policy choice (issue 18)."""
    current = MatchingSettings.current()
    form = MatchingSettingsForm(request.POST or None, instance=current)
    if request.method == "POST" and form.is_valid():
        saved = form.save(commit=False)
        saved.updated_by = request.user
        saved.save()
        messages.success(request, f"Check-ins are now decided with the {saved.policy} policy.")
        return redirect("checkin:calibration")
    return render(request, "checkin/calibration.html", {
        "form": form, "settings_row": current, "outer_bound": settings.FACE_MATCH_THRESHOLD,
        **selectors.calibration(current.policy, settings.FACE_MATCH_THRESHOLD)})


# ----- check-in (any logged-in user) -----
@checkin_role_required
def checkin_new(request):
    form = CheckInForm(request.POST or None, request.FILES or None, staff=request.user.is_staff)
    if request.method == "POST" and form.is_valid():
        try:
            photo = services.checkin_create(upload=form.cleaned_data["photo"], mode=form.cleaned_data["mode"],
                                            frames=request.FILES.getlist("frames"),
                                            source=form.cleaned_data.get("source") or "upload", user=request.user)
        except ValidationError as err:
            form.add_error("photo", err)
        else:
            return redirect("checkin:checkin_result", photo_id=photo.pk)
    status = 400 if request.method == "POST" else 200
    return render(request, "checkin/checkin_new.html", {"form": form, "repeat_minutes": settings.CHECKIN_REPEAT_MINUTES,
                                                        "burst": settings.CHECKIN_BURST_FRAMES}, status=status)


@checkin_role_required
def checkin_result(request, photo_id: int):
    photo = get_object_or_404(CheckInPhoto.objects.select_related("job"), pk=photo_id)
    return render(request, "checkin/checkin_result.html", {
        "photo": photo, "job_json": job_to_dict(photo.job) if photo.job else None,
        "repeat_minutes": settings.CHECKIN_REPEAT_MINUTES})


@checkin_role_required
@require_POST
def checkin_api(request):
    """``POST /api/checkins`` (multipart ``photo``: a file or a ``data:image/...;base64`` URL;
    optional ``frames`` of a burst,
    optional ``mode`` ``kiosk`` (default) or ``group`` (staff)) -> ``{photo_id, job}``;
    poll ``/api/jobs/<id>`` for the result."""
    upload = request.FILES.get("photo")
    mode = request.POST.get("mode") or Mode.KIOSK
    try:
        if upload is None and request.POST.get("photo"):  # a canvas' data URL in the same field
            upload = upload_from_data_url(request.POST["photo"])
        if upload is None:
            raise ValidationError("Send the photo as the multipart field “photo” (a file, or a data:image/…;base64 URL).",
                                  code="required")
        if mode == Mode.GROUP and not request.user.is_staff:
            raise ValidationError("Only staff can check in a whole group.", code="forbidden")
        photo = services.checkin_create(upload=upload, source=CheckInPhoto.Source.API, user=request.user, mode=mode,
                                        frames=request.FILES.getlist("frames"))
    except ValidationError as err:
        return json_error(err)
    return JsonResponse({"photo_id": photo.pk, "job": job_to_dict(photo.job)}, status=202)


# ----- log -----
@checkin_role_required
def checkin_log(request):
    form = CheckInFilterForm(request.GET or None)
    if form.is_bound and not form.is_valid():  # say what is wrong rather than ignore the filter
        qs = selectors.checkin_list().none()
        filters = None
    else:
        filters = form.cleaned_data if form.is_bound else {}
    if filters is not None:
        qs = selectors.checkin_list(member=filters.get("member"), strangers=bool(filters.get("strangers")),
                                    date_from=filters.get("date_from"), date_to=filters.get("date_to"))
    if request.GET.get("format") == "csv":
        return _csv(qs)
    page = Paginator(qs, 30).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(request, "checkin/log.html", {"form": form, "page": page, "query": query.urlencode()})


def _csv(qs) -> HttpResponse:
    resp = HttpResponse(content_type="text/csv; charset=utf-8")
    resp["Content-Disposition"] = f'attachment; filename="checkins-{timezone.localdate():%Y%m%d}.csv"'
    resp.write("\ufeff")  # BOM so spreadsheet programs read UTF-8 names correctly
    w = csv.writer(resp)
    w.writerow(["time", "member_id", "member", "external_id", "stranger", "distance", "margin", "source",
                "xmin", "ymin", "xmax", "ymax", "mode"])
    for c in qs.iterator(chunk_size=2000):
        name = c.member.name if c.member else ""
        if name[:1] in ("=", "+", "-", "@"):  # keep spreadsheets from running a name as a formula
            name = "'" + name
        w.writerow([timezone.localtime(c.time).isoformat(timespec="seconds"), c.member_id or "", name,
                    (c.member.external_id or "") if c.member else "", "yes" if c.member_id is None else "no",
                    "" if c.distance is None else f"{c.distance:.4f}", "" if c.margin is None else f"{c.margin:.4f}",
                    c.source, *(c.box or ["", "", "", ""]), c.mode])
    return resp
