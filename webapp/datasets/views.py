from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from webapp.core.permissions import can_change_dataset
from webapp.datasets import selectors, services
from webapp.datasets.forms import DatasetForm, UploadForm
from webapp.datasets.jobs import IMPORT
from webapp.datasets.models import Dataset, DatasetImage
from webapp.jobs.models import Job


def _dataset_for(user, dataset_id) -> Dataset:
    dataset = get_object_or_404(Dataset, pk=dataset_id)
    if not selectors.datasets_visible(user=user).filter(pk=dataset.pk).exists():
        raise PermissionDenied("This dataset is not shared with you.")
    return dataset


def _dataset_to_change(user, dataset_id) -> Dataset:
    """The dataset if ``user`` may change it (``core.permissions.can_change_dataset``)."""
    dataset = _dataset_for(user, dataset_id)
    if not can_change_dataset(user, dataset):
        raise PermissionDenied("Only staff and the dataset's creator can add or delete its photos.")
    return dataset


def dataset_list(request):
    kind = request.GET.get("kind", "")
    page = Paginator(selectors.dataset_list(user=request.user, kind=kind), 25).get_page(request.GET.get("page"))
    return render(request, "datasets/list.html", {"page": page, "kind": kind, "kinds": Dataset.Kind.choices})


def dataset_create(request):
    form = DatasetForm(request.POST or None, initial={"kind": request.GET.get("kind") or "classification"})
    if request.method == "POST" and form.is_valid():
        dataset = form.save(commit=False)
        dataset.created_by = request.user
        dataset.save()
        messages.success(request, f"Dataset “{dataset}” created. Now upload photos.")
        return redirect("datasets:detail", dataset_id=dataset.pk)
    return render(request, "datasets/form.html", {"form": form})


def dataset_detail(request, dataset_id: int):
    dataset = _dataset_for(request.user, dataset_id)
    can_change = can_change_dataset(request.user, dataset)
    if request.method == "POST" and not can_change:
        raise PermissionDenied("Only staff and the dataset's creator can add or delete its photos.")
    form = UploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            job = services.dataset_upload(dataset=dataset, photos=form.cleaned_data["photos"],
                                          archive=form.cleaned_data["archive"],
                                          class_name=form.cleaned_data["class_name"], user=request.user)
        except ValueError as err:
            form.add_error(None, str(err))
        else:
            messages.info(request, "Upload received; importing the photos…")
            for note in job.params.get("notes") or []:
                messages.warning(request, note)
            return redirect(f"{request.path}?job={job.pk}")
    images = dataset.images.filter(status=DatasetImage.Status.OK).select_related("label")
    label = request.GET.get("label", "")
    if label.isdigit():
        images = images.filter(label_id=int(label))
    page = Paginator(images, 48).get_page(request.GET.get("page"))
    last_import = Job.objects.filter(kind=IMPORT.kind, params__dataset_id=dataset.pk).order_by("-id").first()
    job_id = request.GET.get("job", "")
    classes = selectors.dataset_class_counts(dataset=dataset)
    return render(request, "datasets/detail.html", {
        "dataset": dataset, "form": form, "page": page, "label": label,
        "classes": classes, "coarse_groups": any(c["coarse_group"] for c in classes),
        "unreadable": selectors.dataset_unreadable(dataset=dataset)[:200],
        "last_import": last_import, "job_id": job_id if job_id.isdigit() else "",
        "query": f"label={label}" if label else "", "few": selectors.FEW_PHOTOS, "can_change": can_change,
    })


@require_POST
def image_delete(request, dataset_id: int, image_id: int):
    dataset = _dataset_to_change(request.user, dataset_id)
    image = get_object_or_404(DatasetImage, pk=image_id, dataset=dataset)
    services.dataset_image_delete(image=image)
    messages.success(request, f"“{image.original_name}” was deleted.")
    return redirect("datasets:detail", dataset_id=dataset.pk)


@require_http_methods(["GET", "POST"])
def dataset_delete(request, dataset_id: int):
    """GET: what deleting the dataset takes with it (photos, models, jobs); POST: delete it."""
    dataset = _dataset_to_change(request.user, dataset_id)
    summary = selectors.dataset_delete_summary(dataset=dataset)
    if request.method == "POST":
        name = dataset.name
        try:
            done = services.dataset_delete(dataset=dataset)
        except ValueError as err:
            messages.error(request, str(err))
        else:
            messages.success(request, f"Dataset “{name}” was deleted with {done['photos']} photo(s), "
                                      f"{done['models']} model(s) and {done['jobs']} job(s).")
            return redirect("datasets:list")
    return render(request, "datasets/delete.html", {"dataset": dataset, "summary": summary},
                  status=409 if request.method == "POST" else 200)
