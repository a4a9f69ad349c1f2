"""Search jobs through a real Celery worker process and a real broker
(Redis + PostgreSQL, and SQLite + the filesystem broker when run as `embedded`)."""

import pytest

from tests.conftest import wait_for_job
from tests.workers.search_helpers import category_photo, upload
from webapp.search import services

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker, pytest.mark.embedded]


def test_upload_embed_index_search_and_classify_through_the_worker(efficientnet_weights, celery_worker_process,
                                                                    admin_client):
    ds = services.gallery_create(name="e2e")
    files = [upload(category_photo(c, i), name=f"{c}_{i}.jpg") for c in ("daisy", "iris") for i in range(3)]
    report, job = services.gallery_photos_add(dataset=ds, files=files)
    job = wait_for_job(job.pk, timeout=180)
    assert job.state == "succeeded" and job.result["embedded"] == 6, (job.error, job.traceback[-1500:])
    job = wait_for_job(services.search_index_build_start(dataset=ds, kind="ivf", nprobe=1, clusters=2).pk)
    assert job.state == "succeeded" and job.result["n_vectors"] == 6, job.error
    run = services.image_search(dataset=ds, upload=upload(category_photo("iris", 10)), k=3)
    job = wait_for_job(run.job_id)
    assert job.state == "succeeded", job.error
    top = ds.images.get(pk=job.result["hits"][0]["image_id"])
    assert top.original_name.startswith("iris") and job.result["index"]["kind"] == "ivf"
    assert admin_client.get(f"/search/runs/{run.pk}/").status_code == 200
    assert admin_client.get(f"/api/jobs/{job.pk}").json()["result"]["hits"] == job.result["hits"]
    qp = services.imagenet_classify(upload=upload(category_photo("daisy", 0)))
    job = wait_for_job(qp.job_id)
    assert job.state == "succeeded" and len(job.result["top5"]) == 5
    assert celery_worker_process.poll() is None


def test_zip_uploaded_on_the_gallery_page_is_imported_then_embedded_by_the_worker(efficientnet_weights,
                                                                                  celery_worker_process, admin_client):
    import io
    import zipfile

    from django.core.files.uploadedfile import SimpleUploadedFile

    from webapp.jobs.models import Job
    from webapp.search.models import ImageEmbedding

    ds = services.gallery_create(name="e2e-zip")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for c in ("daisy", "iris"):
            for i in range(2):
                zf.writestr(f"flowers/{c}/{i}.jpg", category_photo(c, i).read_bytes())
        zf.writestr("../escape.jpg", category_photo("daisy", 3).read_bytes())
    resp = admin_client.post(f"/search/galleries/{ds.pk}/", {"files": [SimpleUploadedFile("f.zip", buf.getvalue())]})
    assert resp.status_code == 302
    imp = wait_for_job(Job.objects.get(kind="datasets.import", params__dataset_id=ds.pk).pk, timeout=120)
    assert imp.state == "succeeded" and imp.result["added"] == 4, (imp.error, imp.traceback[-1500:])
    assert [s["file"] for s in imp.result["skipped"]] == ["../escape.jpg"]
    embed = wait_for_job(imp.result["embed_job_id"], timeout=180)
    assert embed.kind == "search.embed" and embed.state == "succeeded" and embed.result["embedded"] == 4, embed.error
    assert ImageEmbedding.objects.filter(dataset=ds).count() == 4
    assert celery_worker_process.poll() is None
