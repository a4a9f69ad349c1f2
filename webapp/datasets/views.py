from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

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
            return redirect(f"{request.path}?job={job.pk}")
    images = dataset.images.filter(status=DatasetImage.Status.OK).select_related("label")
    label = request.GET.get("label", "")
    if label.isdigit():
        images = images.filter(label_id=int(label))
    page = Paginator(images, 48).get_page(request.GET.get("page"))
    last_import = Job.objects.filter(kind=IMPORT.kind, params__dataset_id=dataset.pk).order_by("-id").first()
    job_id = request.GET.get("job", "")
    return render(request, "datasets/detail.html", {
        "dataset": dataset, "form": form, "page": page, "label": label,
        "classes": selectors.dataset_class_counts(dataset=dataset),
        "unreadable": selectors.dataset_unreadable(dataset=dataset)[:200],
        "last_import": last_import, "job_id": job_id if job_id.isdigit() else "",
        "query": f"label={label}" if label else "", "few": selectors.FEW_PHOTOS,
    })


@require_POST
def image_delete(request, dataset_id: int, image_id: int):
    dataset = _dataset_for(request.user, dataset_id)
    image = get_object_or_404(DatasetImage, pk=image_id, dataset=dataset)
    services.dataset_image_delete(image=image)
    messages.success(request, f"“{image.original_name}” was deleted.")
    return redirect("datasets:detail", dataset_id=dataset.pk)
