"""Pages and JSON API of the annotation screen, detection datasets and the
Detect page. Writes go through ``services``/``exchange``, reads through
``selectors``; long work becomes a Job (``jobs``)."""

from __future__ import annotations

import json
from pathlib import Path

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.text import slugify
from django.views.decorators.http import require_http_methods, require_POST

from vision.detection_io.csv_format import refused_rows_csv_text
from webapp.annotation import exchange, importing, jobs, selectors, services
from webapp.annotation.detectors import detector_label
from webapp.annotation.forms import (
    AnnotatorAddForm,
    ClassAddForm,
    DatasetCreateForm,
    DetectForm,
    ImportForm,
    PhotosForm,
    PreannotateForm,
)
from webapp.annotation.models import DetectPhoto
from webapp.core.forms import first_form_error
from webapp.core.uploads import image_upload_check, stored_file
from webapp.core.views import json_error
from webapp.datasets.jobs import IMPORT
from webapp.datasets.services import dataset_upload
from webapp.jobs.models import Job
from webapp.jobs.selectors import job_to_dict


def _manager(request, dataset=None):
    if not selectors.can_manage(request.user, dataset):
        raise PermissionDenied("Only staff can manage detection datasets." if dataset is None else
                               "Only staff and the dataset's creator can add photos, classes and annotators, "
                               "import, export or pre-annotate.")


# ----- datasets -----
def dataset_list(request):
    form = DatasetCreateForm(request.POST or None)
    if request.method == "POST":
        _manager(request)
        if form.is_valid():
            try:
                ds = services.detection_dataset_create(user=request.user, **form.cleaned_data)
            except ValidationError as err:
                form.add_error("classes", err)
            else:
                messages.success(request, f"Dataset “{ds}” created. Add photos next.")
                return redirect("annotation:dataset", dataset_id=ds.pk)
    rows = [(ds, selectors.dataset_progress(dataset=ds)) for ds in selectors.annotation_datasets(user=request.user)]
    return render(request, "annotation/dataset_list.html",
                  {"rows": rows, "form": form, "can_manage": selectors.can_manage(request.user)},
                  status=400 if request.method == "POST" else 200)


def dataset_detail(request, dataset_id: int):
    ds = selectors.annotation_dataset_get(user=request.user, dataset_id=dataset_id)
    images = selectors.readable_images(ds)
    page = Paginator(images, 48).get_page(request.GET.get("page"))
    manage = selectors.can_manage(request.user, ds)
    last = lambda jt: Job.objects.filter(kind=jt.kind, params__dataset_id=ds.pk).order_by("-id").first()  # noqa: E731
    import_report = request.session.pop(f"import-report-{ds.pk}", None)
    return render(request, "annotation/dataset_detail.html", {
        "ds": ds, "page": page, "progress": selectors.dataset_progress(dataset=ds), "can_manage": manage,
        "classes": ds.classes.all(), "unreadable": ds.images.filter(status="unreadable")[:50],
        "members": ds.members.all(), "class_form": ClassAddForm(), "member_form": AnnotatorAddForm(),
        "photos_form": PhotosForm(), "import_form": ImportForm(), "preannotate_form": PreannotateForm(user=request.user),
        "export_job": last(jobs.EXPORT) if manage else None, "preannotate_job": last(jobs.PREANNOTATE) if manage else None,
        "photos_job": last(IMPORT) if manage else None, "import_report": import_report,
        "first_todo": selectors.first_unannotated(dataset=ds)})


def _managed_dataset(request, dataset_id):
    ds = selectors.annotation_dataset_get(user=request.user, dataset_id=dataset_id)
    _manager(request, ds)
    return ds


@require_POST
def class_add(request, dataset_id: int):
    ds = _managed_dataset(request, dataset_id)
    form = ClassAddForm(request.POST)
    if form.is_valid():
        try:
            c = services.detection_class_add(dataset=ds, name=form.cleaned_data["name"])
            messages.success(request, f"Class {c.class_id}: “{c.name}”.")
        except ValidationError as err:
            messages.error(request, " ".join(err.messages))
    else:
        messages.error(request, "Type a class name.")
    return redirect("annotation:dataset", dataset_id=ds.pk)


@require_POST
def annotator_add(request, dataset_id: int):
    ds = _managed_dataset(request, dataset_id)
    form = AnnotatorAddForm(request.POST)
    if form.is_valid():
        try:
            user = services.dataset_annotator_add(dataset=ds, username=form.cleaned_data["username"])
            messages.success(request, f"{user.get_username()} can now annotate this dataset.")
        except ValidationError as err:
            messages.error(request, " ".join(err.messages))
    return redirect("annotation:dataset", dataset_id=ds.pk)


@require_POST
def photos_add(request, dataset_id: int):
    """Photos and/or a zip go through the one upload service: staged, then
    imported by a ``datasets.import`` job that this page follows."""
    ds = _managed_dataset(request, dataset_id)
    form = PhotosForm(request.POST, request.FILES)
    if not form.is_valid():
        messages.error(request, "The upload could not be read; please try again.")
        return redirect("annotation:dataset", dataset_id=ds.pk)
    try:
        dataset_upload(dataset=ds, photos=form.cleaned_data.get("photos") or [],
                       archive=form.cleaned_data.get("archive"), user=request.user)
    except ValueError as err:
        messages.error(request, str(err))
    else:
        messages.info(request, "Upload received; the photos are being imported (progress below).")
    return redirect("annotation:dataset", dataset_id=ds.pk)


#: Refused rows kept in the session for the "download the refused rows" link (the page lists 200).
MAX_REFUSED_ROWS_KEPT = 20_000
MAX_REPORT_LINES = 200


def _refused_key(ds) -> str:
    return f"import-refused-{ds.pk}"


@require_POST
def annotations_import(request, dataset_id: int):
    """Import annotation files; the report (and the refused rows, for
    :func:`refused_rows_download`) is kept in the session for the dataset page."""
    ds = _managed_dataset(request, dataset_id)
    form = ImportForm(request.POST, request.FILES)
    if not form.is_valid():
        messages.error(request, "Choose the annotation files to import.")
        return redirect("annotation:dataset", dataset_id=ds.pk)
    files = []
    for f in form.cleaned_data["files"]:
        if f.size > importing.MAX_ANNOTATION_FILE_BYTES:
            messages.error(request, f"“{f.name[:120]}” is larger than {importing.MAX_ANNOTATION_FILE_BYTES // 2**20} MB.")
            return redirect("annotation:dataset", dataset_id=ds.pk)
        files.append((f.name.replace("\\", "/").rsplit("/", 1)[-1][:200], f.read()))
    report = importing.annotations_import(dataset=ds, files=files, user=request.user,
                                          add_classes=form.cleaned_data["add_classes"],
                                          replace=form.cleaned_data["replace"],
                                          all_or_nothing=form.cleaned_data["all_or_nothing"])
    d = report.as_dict()
    d["n_errors"] = len(d["errors"])
    d["errors"], d["notices"] = d["errors"][:MAX_REPORT_LINES], d["notices"][:MAX_REPORT_LINES]
    request.session[f"import-report-{ds.pk}"] = d
    refused = [p for p in report.errors if p.row][:MAX_REFUSED_ROWS_KEPT]
    if refused:
        request.session[_refused_key(ds)] = refused_rows_csv_text(refused)
    else:
        request.session.pop(_refused_key(ds), None)
    if report.boxes or (report.imported and not report.errors):
        (messages.warning if report.errors else messages.success)(request, report.summary)
    else:
        messages.error(request, report.summary + (" Fix the refused rows (listed below) and import again."
                                                  if report.errors else ""))
    return redirect("annotation:dataset", dataset_id=ds.pk)


def refused_rows_download(request, dataset_id: int):
    """The refused rows of this user's last import into the dataset, as a CSV to fix and import again."""
    ds = _managed_dataset(request, dataset_id)
    text = request.session.get(_refused_key(ds))
    if text is None:
        raise Http404("No refused rows: the last import refused none, or it was in another session.")
    resp = HttpResponse("\ufeff" + text, content_type="text/csv; charset=utf-8")
    resp["Content-Disposition"] = 'attachment; filename="refused-rows.csv"'
    return resp


@require_POST
def export_start(request, dataset_id: int):
    ds = _managed_dataset(request, dataset_id)
    jobs.export_enqueue(dataset=ds, user=request.user)
    messages.info(request, "The export is being written; the download link appears when it is done.")
    return redirect("annotation:dataset", dataset_id=ds.pk)


def export_download(request, job_id: int):
    job = get_object_or_404(Job, pk=job_id, kind=jobs.EXPORT.kind, state=Job.State.SUCCEEDED)
    ds = _managed_dataset(request, job.params.get("dataset_id"))
    path = (Path(settings.MEDIA_ROOT) / job.result.get("file", "")).resolve()
    if Path(settings.MEDIA_ROOT).resolve() not in path.parents or not path.is_file():
        raise Http404("The export file is gone; export again.")
    name = f"{slugify(ds.name) or 'dataset'}-detection.zip"
    return FileResponse(open(path, "rb"), as_attachment=True, filename=name, content_type="application/zip")


def csv_download(request, dataset_id: int):
    ds = _managed_dataset(request, dataset_id)
    resp = StreamingHttpResponse(exchange.annotations_csv_stream(dataset=ds), content_type="text/csv; charset=utf-8")
    resp["Content-Disposition"] = 'attachment; filename="annotations.csv"'
    return resp


def label_map_download(request, dataset_id: int):
    ds = _managed_dataset(request, dataset_id)
    resp = HttpResponse(exchange.dataset_label_map(dataset=ds), content_type="text/plain; charset=utf-8")
    resp["Content-Disposition"] = 'attachment; filename="label_map.pbtxt"'
    return resp


@require_POST
def preannotate_start(request, dataset_id: int):
    ds = _managed_dataset(request, dataset_id)
    form = PreannotateForm(request.POST, user=request.user)
    if not form.is_valid():
        messages.error(request, first_form_error(form, "Choose a detector and a minimum score.").messages[0])
        return redirect("annotation:dataset", dataset_id=ds.pk)
    jobs.preannotate_enqueue(dataset=ds, user=request.user, **form.cleaned_data)
    messages.info(request, "The detector is running over the photos; its boxes appear as machine boxes to accept or correct.")
    return redirect("annotation:dataset", dataset_id=ds.pk)


# ----- the annotation screen -----
def annotate_start(request, dataset_id: int):
    ds = selectors.annotation_dataset_get(user=request.user, dataset_id=dataset_id)
    first = selectors.first_unannotated(dataset=ds)
    if first is None:
        messages.error(request, "This dataset has no readable photos yet.")
        return redirect("annotation:dataset", dataset_id=ds.pk)
    return redirect("annotation:annotate", dataset_id=ds.pk, image_id=first)


def annotate(request, dataset_id: int, image_id: int):
    ds = selectors.annotation_dataset_get(user=request.user, dataset_id=dataset_id)
    image = selectors.annotation_image_get(dataset=ds, image_id=image_id)
    payload = selectors.image_payload(dataset=ds, image=image)
    payload["api"] = {"image": f"/api/annotation/images/{image.pk}", "boxes": f"/api/annotation/images/{image.pk}/boxes",
                      "state": f"/api/annotation/images/{image.pk}/state"}
    return render(request, "annotation/annotate.html", {"ds": ds, "image": image, "payload": payload})


def _api_image(request, image_id: int):
    image = (selectors.DatasetImage.objects.select_related("dataset")
             .filter(pk=image_id, status=selectors.DatasetImage.Status.OK).first())
    if image is None:
        raise Http404("No such photo")
    ds = selectors.annotation_dataset_get(user=request.user, dataset_id=image.dataset_id)
    return ds, image


def _body(request) -> dict:
    try:
        data = json.loads(request.body or b"{}")
    except (ValueError, UnicodeDecodeError):
        raise ValidationError("The request body is not valid JSON.", code="invalid_json") from None
    if not isinstance(data, dict):
        raise ValidationError("The request body must be a JSON object.", code="invalid_json")
    return data


def _conflict(ds, image, err: services.BoxConflict) -> JsonResponse:
    return JsonResponse({"message": err.message, "code": "conflict", "fields": {},
                         "box": selectors.box_to_dict(err.current) if err.current else None,
                         "boxes": selectors.image_payload(dataset=ds, image=image)["boxes"]}, status=409)


def api_image(request, image_id: int):
    """``GET /api/annotation/images/<id>``: the photo, its boxes, the classes, progress."""
    ds, image = _api_image(request, image_id)
    return JsonResponse(selectors.image_payload(dataset=ds, image=image))


@require_POST
def api_boxes(request, image_id: int):
    """``POST /api/annotation/images/<id>/boxes`` ``{class_id, xmin, ymin, xmax, ymax}`` -> 201 box."""
    ds, image = _api_image(request, image_id)
    try:
        data = _body(request)
        box = services.box_create(image=image, label_id=data.get("class_id"), user=request.user,
                                  box=[data.get(k) for k in ("xmin", "ymin", "xmax", "ymax")])
    except ValidationError as err:
        return json_error(err)
    return JsonResponse({"box": selectors.box_to_dict(box), "progress": selectors.dataset_progress(dataset=ds)}, status=201)


@require_http_methods(["PATCH", "DELETE"])
def api_box(request, image_id: int, box_id: int):
    """``PATCH`` ``{revision, class_id?, xmin.. ymax?, accept?}`` -> box;
    ``DELETE`` ``{revision}`` -> 204. A stale ``revision`` -> 409 with the
    current boxes of the photo."""
    ds, image = _api_image(request, image_id)
    try:
        data = _body(request)
        if request.method == "DELETE":
            services.box_delete(box_id=box_id, image=image, revision=data.get("revision"), user=request.user)
            return JsonResponse({"deleted": box_id, "progress": selectors.dataset_progress(dataset=ds)})
        coords = [data.get(k) for k in ("xmin", "ymin", "xmax", "ymax")]
        box = services.box_update(box_id=box_id, image=image, revision=data.get("revision"), user=request.user,
                                  label_id=data.get("class_id"), box=coords if any(c is not None for c in coords) else None,
                                  accept=bool(data.get("accept")))
    except services.BoxConflict as err:
        return _conflict(ds, image, err)
    except ValidationError as err:
        return json_error(err)
    return JsonResponse({"box": selectors.box_to_dict(box), "progress": selectors.dataset_progress(dataset=ds)})


@require_POST
def api_image_state(request, image_id: int):
    """``POST /api/annotation/images/<id>/state`` ``{no_objects: bool}``."""
    ds, image = _api_image(request, image_id)
    try:
        data = _body(request)
        services.image_no_objects_set(image=image, value=bool(data.get("no_objects")), user=request.user)
    except ValidationError as err:
        return json_error(err)
    return JsonResponse(selectors.image_payload(dataset=ds, image=image))


# ----- Detect page -----
def _detect_create(request, form) -> DetectPhoto:
    loaded, data = image_upload_check(form.cleaned_data["photo"])
    photo = DetectPhoto.objects.create(file=stored_file(loaded, data), detector=form.cleaned_data["detector"],
                                       width=loaded.width, height=loaded.height, created_by=request.user)
    job, _ = jobs.detect_enqueue(photo=photo, user=request.user)
    photo.job = job
    photo.save(update_fields=["job"])
    return photo


def detect_page(request):
    form = DetectForm(request.POST or None, request.FILES or None, user=request.user,
                      initial={"detector": request.GET.get("detector")})
    if request.method == "POST" and form.is_valid():
        try:
            photo = _detect_create(request, form)
        except ValidationError as err:
            form.add_error("photo", err)
        else:
            return redirect("annotation:detect_result", photo_id=photo.pk)
    return render(request, "annotation/detect.html", {"form": form}, status=400 if request.method == "POST" else 200)


def detect_result(request, photo_id: int):
    qs = DetectPhoto.objects.select_related("job")
    if not request.user.is_staff:
        qs = qs.filter(created_by=request.user)
    photo = get_object_or_404(qs, pk=photo_id)
    return render(request, "annotation/detect_result.html",
                  {"photo": photo, "detector_label": detector_label(photo.detector),
                   "job_json": job_to_dict(photo.job) if photo.job else None})


@require_POST
def api_detect(request):
    """``POST /api/detect`` (multipart ``photo``, ``detector``: a pretrained detector's name or
    ``trained:<id>`` of an active trained detector) -> 202 ``{photo_id, job}``; poll
    ``/api/jobs/<id>``: ``result.boxes`` holds ``[{box: [xmin, ymin, xmax, ymax], label, score}]``
    in pixels. An unknown detector: 400 ``{message, code: "invalid_choice", fields: {detector}}``."""
    form = DetectForm(request.POST, request.FILES, user=request.user)
    if not form.is_valid():
        err = first_form_error(form, "Send a photo (multipart field “photo”) and a detector.")
        return JsonResponse({"message": err.messages[0], "code": err.code,
                             "fields": {k: [str(m) for m in v] for k, v in form.errors.items()}}, status=400)
    try:
        photo = _detect_create(request, form)
    except ValidationError as err:
        return json_error(err)
    return JsonResponse({"photo_id": photo.pk, "job": job_to_dict(photo.job)}, status=202)
