"""Pages and JSON for search by image and ImageNet classification. Views
validate and enqueue; searches and classification run as jobs in workers
(the web process imports neither TensorFlow nor FAISS)."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from webapp.core.backbones import backbones_available
from webapp.core.views import json_error, page_error
from webapp.datasets.jobs import IMPORT
from webapp.datasets.models import DatasetImage
from webapp.jobs.models import Job
from webapp.jobs.selectors import job_to_dict
from webapp.search import selectors, services
from webapp.search.backbones import backbone_label, learned_specs
from webapp.search.forms import ClassifyForm, GalleryForm, GalleryUploadForm, IndexBuildForm, SearchForm
from webapp.search.jobs import BUILD_INDEX, EMBED
from webapp.search.models import QueryPhoto, SearchRun


def _gallery(request, dataset_id: int):
    ds = selectors.gallery_get(user=request.user, dataset_id=dataset_id)
    if ds is None:
        raise Http404("No such gallery")
    return ds


def gallery_list(request):
    form = GalleryForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        ds = services.gallery_create(name=form.cleaned_data["name"], user=request.user)
        messages.success(request, f"Gallery “{ds.name}” created: now upload photos.")
        return redirect("search:gallery", dataset_id=ds.pk)
    return render(request, "search/gallery_list.html", {"galleries": selectors.gallery_list(user=request.user),
                                                        "form": form})


def gallery_detail(request, dataset_id: int):
    ds = _gallery(request, dataset_id)
    upload = GalleryUploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and upload.is_valid():
        try:
            services.gallery_upload(dataset=ds, files=upload.cleaned_data["files"], user=request.user)
        except ValidationError as err:
            upload.add_error("files", err)
        else:
            messages.info(request, "Upload received; the photos are being imported, then embedded (progress below).")
            return redirect("search:gallery", dataset_id=ds.pk)  # the page follows the import job
    backbone = selectors.search_backbone(dataset=ds)
    images = ds.images.filter(status=DatasetImage.Status.OK).order_by("-id")
    page = Paginator(images, 48).get_page(request.GET.get("page"))
    active_jobs = Job.objects.filter(kind__in=(IMPORT.kind, EMBED.kind, BUILD_INDEX.kind), params__dataset_id=ds.pk,
                                     state__in=Job.ACTIVE_STATES).order_by("id")
    last_import = Job.objects.filter(kind=IMPORT.kind, params__dataset_id=ds.pk).order_by("-id").first()
    index = selectors.search_index_active(dataset=ds)
    return render(request, "search/gallery_detail.html", {
        "freshness": selectors.index_freshness(dataset=ds, index=index),
        "gallery": ds, "upload": upload, "page": page, "status": selectors.gallery_status(dataset=ds, backbone=backbone),
        "index": index, "index_form": IndexBuildForm(backbones=_backbones(request), initial_backbone=backbone),
        "search_form": SearchForm(), "unreadable": ds.images.filter(status=DatasetImage.Status.UNREADABLE)[:50],
        "active_jobs": active_jobs, "backbone_label": backbone_label(backbone),
        "last_import": last_import if last_import and last_import.state not in Job.ACTIVE_STATES else None})


@require_POST
def gallery_photo_delete(request, dataset_id: int, image_id: int):
    ds = _gallery(request, dataset_id)
    image = get_object_or_404(DatasetImage, pk=image_id, dataset=ds)
    services.gallery_photo_delete(image=image)
    messages.success(request, "The photo was deleted; it no longer appears in search results.")
    nxt = request.POST.get("next", "")
    if nxt.startswith("/search/") and url_has_allowed_host_and_scheme(nxt, allowed_hosts=None):
        return redirect(nxt)  # e.g. back to the search result it was deleted from
    return redirect("search:gallery", dataset_id=ds.pk)


@require_POST
def gallery_embed(request, dataset_id: int):
    ds = _gallery(request, dataset_id)
    services.gallery_embed_start(dataset=ds, user=request.user)
    messages.info(request, "Computing embeddings…")
    return redirect("search:gallery", dataset_id=ds.pk)


def _backbones(request) -> list:
    """The backbones a gallery may be indexed with: the ImageNet ones whose weights are here, then
    the active embeddings learned on datasets this user sees."""
    from webapp.datasets.selectors import datasets_visible

    return [*backbones_available(), *learned_specs(datasets_visible(user=request.user))]


@require_POST
def index_build(request, dataset_id: int):
    ds = _gallery(request, dataset_id)
    form = IndexBuildForm(request.POST, backbones=_backbones(request))
    if not form.is_valid():
        messages.error(request, "Index settings: " + "; ".join(f"{k}: {' '.join(v)}" for k, v in form.errors.items()))
        return redirect("search:gallery", dataset_id=ds.pk)
    try:
        services.search_index_build_start(dataset=ds, user=request.user, embed_missing=True, **form.cleaned_data)
    except ValidationError as err:
        messages.error(request, " ".join(err.messages))
    else:
        messages.info(request, "Building the index…")
    return redirect("search:gallery", dataset_id=ds.pk)


@require_POST
def search_start(request, dataset_id: int):
    ds = _gallery(request, dataset_id)
    form = SearchForm(request.POST, request.FILES)
    if form.is_valid():
        d = form.cleaned_data
        image = ds.images.filter(pk=d["image"]).first() if d.get("image") else None
        if d.get("image") and image is None:
            messages.error(request, "That photo is no longer in the gallery.")
            return redirect("search:gallery", dataset_id=ds.pk)
        try:
            run = services.image_search(dataset=ds, upload=d.get("photo"), image=image, k=d["k"],
                                        min_score=d.get("min_score"), user=request.user)
        except ValidationError as err:
            form.add_error(None, err)
        else:
            return redirect("search:run", run_id=run.pk)
    msg = "; ".join(" ".join(v) for v in form.errors.values())
    return page_error(request, ValidationError(msg or "Upload a photo or pick one from the gallery.", code="invalid"))


def search_run(request, run_id: int):
    """A search's hits as its job kept them (the run's cut-off is applied
    there, once); ``?min_score=`` narrows them further on the page."""
    run = get_object_or_404(SearchRun.objects.select_related("job", "query_photo", "query_image"), pk=run_id)
    ds = _gallery(request, run.dataset_id)
    min_score = run.min_score
    hits = run.job.result.get("hits", []) if run.job and run.job.state == Job.State.SUCCEEDED else []
    raw = request.GET.get("min_score", "")
    if raw:
        try:
            min_score = float(raw)
            if not -1.0 <= min_score <= 1.0:
                raise ValueError(raw)
        except ValueError:
            min_score = run.min_score
            messages.error(request, "The cut-off must be a number between -1 and 1.")
        else:
            hits = selectors.search_hits_cut_off(hits=hits, min_score=min_score)
            if run.min_score is not None and min_score < run.min_score:
                messages.info(request, f"This search kept only photos scoring at least {run.min_score:g}; "
                                       "search again for a lower cut-off.")
    hits = selectors.hits_with_images(hits=hits, dataset=ds)
    used = (run.job.result or {}).get("backbone", "") if run.job else ""
    return render(request, "search/search_run.html", {
        "run": run, "gallery": ds, "hits": hits, "min_score": min_score,
        "embedding": backbone_label(used) if used else "",
        "job_json": job_to_dict(run.job) if run.job else None})


def gallery_clusters(request, dataset_id: int):
    ds = _gallery(request, dataset_id)
    mv = selectors.search_index_active(dataset=ds)
    groups = []
    if mv:
        images = DatasetImage.objects.in_bulk([i for g in mv.params.get("clusters", []) for i in g["image_ids"]])
        groups = [{"size": g["size"], "images": [images[i] for i in g["image_ids"] if i in images]}
                  for g in mv.params.get("clusters", [])]
    return render(request, "search/clusters.html", {"gallery": ds, "index": mv, "groups": groups})


def classify(request):
    form = ClassifyForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            qp = services.imagenet_classify(upload=form.cleaned_data["photo"], user=request.user)
        except ValidationError as err:
            form.add_error("photo", err)
        else:
            return redirect("search:classify_result", query_id=qp.pk)
    status = 400 if request.method == "POST" else 200
    return render(request, "search/classify.html", {"form": form, "available": backbones_available()}, status=status)


def classify_result(request, query_id: int):
    qp = get_object_or_404(QueryPhoto.objects.select_related("job"), pk=query_id, purpose=QueryPhoto.Purpose.CLASSIFY)
    if not (request.user.is_staff or qp.created_by_id == request.user.pk):
        raise Http404("No such photo")
    return render(request, "search/classify_result.html", {"qp": qp, "job_json": job_to_dict(qp.job) if qp.job else None})


@require_POST
def classify_api(request):
    """``POST /api/classify`` (multipart ``photo``) -> 202 ``{query_id, job}``;
    poll ``/api/jobs/<id>``: ``result.top5 = [{class_id, name, probability}]``."""
    upload = request.FILES.get("photo")
    try:
        if upload is None:
            raise ValidationError("Send the photo as the multipart field “photo”.", code="required")
        qp = services.imagenet_classify(upload=upload, user=request.user)
    except ValidationError as err:
        return json_error(err)
    return JsonResponse({"query_id": qp.pk, "job": job_to_dict(qp.job)}, status=202)


@require_POST
def search_api(request, dataset_id: int):
    """``POST /api/galleries/<id>/search`` (multipart ``photo`` or field
    ``image_id``; optional ``k``, ``min_score``) -> 202 ``{search_id, job}``;
    poll ``/api/jobs/<id>``: ``result.hits = [{image_id, score}]``."""
    ds = selectors.gallery_get(user=request.user, dataset_id=dataset_id)
    if ds is None:
        return JsonResponse({"message": "No such gallery.", "code": "not_found", "fields": {}}, status=404)
    # the page's form checks the numbers, so the API answers field by field (issue 13: "min_score=abc" was a
    # sentence for three fields)
    form = SearchForm({"k": request.POST.get("k") or 12, "min_score": request.POST.get("min_score", ""),
                       "image": request.POST.get("image_id", "")})
    if not form.is_valid():
        errors = {("image_id" if f == "image" else f): e for f, e in form.errors.items()}
        return json_error(ValidationError({f: [ValidationError(m, code="invalid") for m in msgs]
                                           for f, msgs in errors.items()}))
    d = form.cleaned_data
    try:
        image = None
        if d.get("image") is not None:
            image = ds.images.filter(pk=d["image"]).first()
            if image is None:
                raise ValidationError("No such photo in this gallery.", code="not_found")
        run = services.image_search(dataset=ds, upload=request.FILES.get("photo"), image=image, k=d["k"],
                                    min_score=d.get("min_score"), user=request.user)
    except ValidationError as err:
        return json_error(err)
    return JsonResponse({"search_id": run.pk, "job": job_to_dict(run.job)}, status=202)
