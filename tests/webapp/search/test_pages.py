"""Search and classification pages and JSON: uploads (photos, zips, bad
files; the upload's import job is run in-process), search runs, result
rendering, permissions. The ML jobs are not run here (see
tests/workers/test_search_tasks.py); results are written to the rows."""

import io
import zipfile
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.shared_data import shared_path
from webapp.datasets.models import Dataset, DatasetImage
from webapp.jobs.models import Job
from webapp.search import services
from webapp.search.models import QueryPhoto, SearchRun

pytestmark = pytest.mark.django_db


def _jpeg(color=(200, 10, 10), size=(40, 30)):
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, "JPEG")
    return buf.getvalue()


def _file(name, data, ctype="image/jpeg"):
    return SimpleUploadedFile(name, data, content_type=ctype)


def _bad(name):
    return _file(name, shared_path("bad-inputs", name).read_bytes())


@pytest.fixture
def gallery(staff_user):
    return services.gallery_create(name="Holiday", user=staff_user)


def _messages(resp):
    return [str(m) for m in resp.context["messages"]] if resp.context else []


def _upload(client, gallery, files):
    """Post an upload on the gallery page and run the import job it started
    (as a worker would). Returns the page after the redirect and the job."""
    from workers.datasets import import_upload

    resp = client.post(f"/search/galleries/{gallery.pk}/", {"files": files}, follow=True)
    assert resp.status_code == 200 and any("being imported" in m for m in _messages(resp)), _messages(resp)
    job = Job.objects.filter(kind="datasets.import", params__dataset_id=gallery.pk).latest("id")
    assert f'data-follow-job="{job.pk}"' in resp.content.decode()  # the page follows it
    import_upload.apply(args=[job.pk])
    job.refresh_from_db()
    return resp, job


def test_create_gallery_and_upload_several_photos(staff_client):
    resp = staff_client.post("/search/", {"name": "Flowers"})
    ds = Dataset.objects.get(name="Flowers")
    assert resp.status_code == 302 and ds.kind == "gallery"
    _, imp = _upload(staff_client, ds, [
        _file("a.jpg", _jpeg((255, 0, 0))), _file("b.jpg", _jpeg((0, 255, 0))), _file("a-again.jpg", _jpeg((255, 0, 0)))])
    assert imp.state == "succeeded" and imp.message.startswith("2 photos added, 1 already there"), imp.message
    assert ds.images.filter(status="ok").count() == 2
    img = ds.images.first()
    assert img.thumbnail and img.file.name.endswith(".jpg") and "a" != img.file.name.rsplit("/", 1)[-1][:-4]
    job = Job.objects.get(kind="search.embed")  # started by the import job, for the new photos
    assert job.params == {"dataset_id": ds.pk, "backbone": "efficientnet_lite0"} and job.state == "queued"
    assert imp.result["embed_job_id"] == job.pk and f"embedding was started as job #{job.pk}" in imp.message
    page = staff_client.get(f"/search/galleries/{ds.pk}/")
    assert page.status_code == 200 and img.thumbnail.url in page.content.decode()
    assert f'data-follow-job="{job.pk}"' in page.content.decode() and "Last upload: 2 photos added" in page.content.decode()


@pytest.mark.parametrize("name, words", [
    ("I-18_empty.jpg", "empty"),
    ("I-17_html_named.jpg", "not an image"),
    ("I-07_truncated.jpg", "truncated or damaged"),
    ("I-08_bomb_20000x20000.png", "20000 × 20000"),
])
def test_bad_photos_are_kept_as_unreadable_with_the_reason(staff_client, gallery, name, words):
    _, job = _upload(staff_client, gallery, [_bad(name), _file("ok.jpg", _jpeg())])
    assert [u["file"] for u in job.result["unreadable"]] == [name] and words in job.result["unreadable"][0]["reason"]
    assert words in staff_client.get(f"/search/galleries/{gallery.pk}/").content.decode()  # listed on the page
    bad = gallery.images.get(status="unreadable")
    assert words in bad.error and not bad.file and not bad.thumbnail
    assert gallery.images.filter(status="ok").count() == 1  # the good photo in the same upload is kept
    # uploading the same bad file again does not store it twice
    _upload(staff_client, gallery, [_bad(name)])
    assert gallery.images.filter(status="unreadable").count() == 1


@pytest.mark.parametrize("name", ["I-09_cmyk.jpg", "I-02_gray16.png", "I-10_palette_transparent.png",
                                  "I-04_exif_orientation_6.jpg"])
def test_odd_format_photos_are_accepted(staff_client, gallery, name):
    _upload(staff_client, gallery, [_bad(name)])
    img = gallery.images.get()
    assert img.status == "ok" and img.thumbnail
    if "orientation" in name:
        assert (img.width, img.height) == (300, 400)


def test_huge_file_is_refused_before_decoding(staff_client, gallery, settings):
    settings.MAX_UPLOAD_BYTES = 1000
    resp = staff_client.post(f"/search/galleries/{gallery.pk}/", {"files": [_file("big.jpg", _jpeg(size=(400, 400)))]},
                             follow=True)
    assert resp.status_code == 200 and "“big.jpg” is" in resp.content.decode() and "the limit is" in resp.content.decode()
    assert not gallery.images.exists() and not Job.objects.exists()


def test_empty_upload_and_a_zip_over_the_limit_are_refused(staff_client, gallery, settings):
    resp = staff_client.post(f"/search/galleries/{gallery.pk}/", {"files": [], "submit": ""})  # a browser sends the token
    assert resp.status_code == 200 and "Choose at least one file to upload" in resp.content.decode()
    with pytest.raises(Exception, match="Choose at least one photo"):
        services.gallery_upload(dataset=gallery, files=[])
    settings.MAX_ZIP_BYTES = 100
    resp = staff_client.post(f"/search/galleries/{gallery.pk}/", {"files": [_file("p.zip", _zip_bytes({"a.jpg": _jpeg()}))]})
    assert "split it in parts" in resp.content.decode() and not Job.objects.exists()


def _zip_bytes(entries):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for n, d in entries.items():
            zf.writestr(n, d)
    return buf.getvalue()


def test_zip_with_folders_non_images_and_escaping_path(staff_client, gallery, tmp_path):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("trip/day1/a.jpg", _jpeg((255, 0, 0)))
        zf.writestr("trip/day2/b.jpg", _jpeg((0, 0, 255)))
        zf.writestr("trip/day2/b-copy.jpg", _jpeg((0, 0, 255)))
        zf.writestr("trip/notes.txt", b"not a photo")
        zf.writestr("../x.jpg", _jpeg((0, 255, 0)))
        zf.writestr("trip/__MACOSX/._a.jpg", b"junk")
    _, job = _upload(staff_client, gallery, [_file("photos.zip", buf.getvalue(), "application/zip"),
                                             _file("loose.jpg", _jpeg((9, 9, 9)))])
    assert job.state == "succeeded" and job.result["added"] == 3 and job.result["duplicates"] == ["trip/day2/b-copy.jpg"]
    page = staff_client.get(f"/search/galleries/{gallery.pk}/").content.decode()
    assert "Last upload: 3 photos added, 1 already there" in page
    assert "../x.jpg: The path points outside" in page and "trip/notes.txt" in page
    assert not Path(job.params["staging"]).exists()  # the staged upload is removed
    assert Job.objects.filter(kind="search.embed").count() == 1
    assert gallery.images.filter(status="ok").count() == 3
    assert set(gallery.images.values_list("original_name", flat=True)) == {"trip/day1/a.jpg", "trip/day2/b.jpg",
                                                                          "trip/notes.txt", "loose.jpg"}
    assert not (tmp_path.parent / "x.jpg").exists()


def test_damaged_zip_is_reported(staff_client, gallery):
    for name, data in [("broken.zip", b"PK\x03\x04" + b"\x00" * 50), ("notes.zip", b"plain text")]:
        resp = staff_client.post(f"/search/galleries/{gallery.pk}/", {"files": [_file(name, data, "application/zip"),
                                                                               _file("ok.jpg", _jpeg())]})
        assert resp.status_code == 200 and f"“{name}” is not a zip file (or it is damaged)." in resp.content.decode()
    assert not gallery.images.exists() and not Job.objects.exists()


def _photo(ds, color=(1, 2, 3), name="p.jpg"):
    return services.dataset_image_add(dataset=ds, name=name, data=_jpeg(color))


def test_search_run_page_shows_hits_and_drops_deleted_photos(staff_client, gallery):
    a, b, c = (_photo(gallery, (i * 60, 0, 0), f"{i}.jpg") for i in range(3))
    resp = staff_client.post(f"/search/galleries/{gallery.pk}/search/", {"image": a.pk, "k": 5})
    run = SearchRun.objects.get()
    assert resp.status_code == 302 and resp.url == f"/search/runs/{run.pk}/"
    assert run.query_image == a and run.job.params == {"search_run_id": run.pk, "dataset_id": gallery.pk}
    Job.objects.filter(pk=run.job_id).update(state="succeeded", result={
        "hits": [{"image_id": b.pk, "score": 0.91}, {"image_id": c.pk, "score": 0.42}], "index": None,
        "exact_searched": 2, "search_ms": 1.0})
    html = staff_client.get(f"/search/runs/{run.pk}/").content.decode()
    assert b.thumbnail.url in html and c.thumbnail.url in html and "0.910" in html
    html = staff_client.get(f"/search/runs/{run.pk}/?min_score=0.5").content.decode()
    assert b.thumbnail.url in html and c.thumbnail.url not in html  # cut-off
    staff_client.post(f"/search/galleries/{gallery.pk}/photos/{b.pk}/delete/")
    html = staff_client.get(f"/search/runs/{run.pk}/").content.decode()
    assert b.thumbnail.url not in html and c.thumbnail.url in html  # deleted: gone from results at once
    assert not DatasetImage.objects.filter(pk=b.pk).exists()


def test_search_run_page_shows_the_hits_as_the_job_kept_them(staff_client, gallery):
    """The job applies the run's cut-off (tests/workers/test_search_tasks.py);
    the page does not apply it a second time, and says when a lower one is
    asked for than the job kept."""
    a, b, c = (_photo(gallery, (i * 60, 0, 0), f"{i}.jpg") for i in range(3))
    run = services.image_search(dataset=gallery, image=a, k=5, min_score=0.5)
    # what the job wrote is what the page shows, whatever the run's cut-off says
    Job.objects.filter(pk=run.job_id).update(state="succeeded", result={
        "hits": [{"image_id": b.pk, "score": 0.91}, {"image_id": c.pk, "score": 0.42}], "index": None,
        "exact_searched": 2, "search_ms": 1.0})
    resp = staff_client.get(f"/search/runs/{run.pk}/")
    html = resp.content.decode()
    assert b.thumbnail.url in html and c.thumbnail.url in html and not _messages(resp)
    # a lower cut-off than the job's cannot bring back what it dropped: said in words
    resp = staff_client.get(f"/search/runs/{run.pk}/?min_score=0.3")
    assert _messages(resp) == ["This search kept only photos scoring at least 0.5; search again for a lower cut-off."]
    # a higher one narrows the page
    html = staff_client.get(f"/search/runs/{run.pk}/?min_score=0.6").content.decode()
    assert b.thumbnail.url in html and c.thumbnail.url not in html
    resp = staff_client.get(f"/search/runs/{run.pk}/?min_score=high")
    assert _messages(resp) == ["The cut-off must be a number between -1 and 1."] and c.thumbnail.url in resp.content.decode()
    resp = staff_client.get(f"/search/runs/{run.pk}/?min_score=7")  # out of range: said, not silently clamped
    assert _messages(resp) == ["The cut-off must be a number between -1 and 1."]


def test_search_hits_cut_off_keeps_scores_at_or_above_it():
    from webapp.search.selectors import search_hits_cut_off

    hits = [{"image_id": 1, "score": 0.9}, {"image_id": 2, "score": 0.5}, {"image_id": 3, "score": -0.2}]
    assert search_hits_cut_off(hits=hits, min_score=None) == hits
    assert [h["image_id"] for h in search_hits_cut_off(hits=hits, min_score=0.5)] == [1, 2]  # inclusive
    assert [h["image_id"] for h in search_hits_cut_off(hits=hits, min_score=-1.0)] == [1, 2, 3]
    assert search_hits_cut_off(hits=hits, min_score=0.95) == [] and search_hits_cut_off(hits=[], min_score=0.1) == []


def test_search_by_upload_refuses_bad_photo(staff_client, gallery):
    resp = staff_client.post(f"/search/galleries/{gallery.pk}/search/", {"photo": _bad("I-17_html_named.jpg"), "k": 5})
    assert resp.status_code == 400 and "not an image" in resp.content.decode()
    resp = staff_client.post(f"/search/galleries/{gallery.pk}/search/", {"k": 5})
    assert resp.status_code == 400 and "Upload a photo or pick one" in resp.content.decode()
    assert not SearchRun.objects.exists() and not QueryPhoto.objects.exists()


def test_search_api(staff_client, gallery):
    a = _photo(gallery)
    resp = staff_client.post(f"/api/galleries/{gallery.pk}/search", {"image_id": a.pk, "k": 3})
    assert resp.status_code == 202 and resp.json()["job"]["kind"] == "search.query"
    resp = staff_client.post(f"/api/galleries/{gallery.pk}/search", {"k": "many"})
    assert resp.status_code == 400 and resp.json()["code"] == "invalid"
    resp = staff_client.post(f"/api/galleries/{gallery.pk}/search", {"image_id": a.pk, "k": 0})
    assert resp.status_code == 400 and "k must be between" in resp.json()["message"]
    assert staff_client.post("/api/galleries/999999/search", {"image_id": a.pk}).status_code == 404
    # a cut-off that is not a number, or out of range, is refused by name (issue 13), not ignored
    for bad in ("abc", "5"):
        resp = staff_client.post(f"/api/galleries/{gallery.pk}/search", {"image_id": a.pk, "min_score": bad})
        assert resp.status_code == 400 and resp.json()["fields"] == {"min_score": ["The cut-off must be a number between -1 and 1."]}
    resp = staff_client.post(f"/api/galleries/{gallery.pk}/search", {"image_id": "x"})
    assert resp.status_code == 400 and "image_id" in resp.json()["fields"]


def test_classify_page_and_result(staff_client):
    resp = staff_client.post("/search/classify/", {"photo": _bad("I-18_empty.jpg")})
    assert resp.status_code == 400 and "empty" in resp.content.decode() and not QueryPhoto.objects.exists()
    resp = staff_client.post("/search/classify/", {"photo": _file("cat.jpg", _jpeg())})
    qp = QueryPhoto.objects.get()
    assert resp.status_code == 302 and qp.job.kind == "search.classify" and qp.purpose == "classify"
    assert not qp.photo.name.endswith("cat.jpg")  # random stored name
    Job.objects.filter(pk=qp.job_id).update(state="succeeded", result={
        "backbone": "efficientnet_lite0", "backbone_version": "lite0-57934424",
        "top5": [{"class_id": 282, "name": "tiger cat", "probability": 0.61}] +
                [{"class_id": i, "name": f"c{i}", "probability": 0.01} for i in range(4)]})
    html = staff_client.get(f"/search/classify/{qp.pk}/").content.decode()
    assert "tiger cat" in html and "61 %" in html


def test_classify_api(staff_client):
    assert staff_client.post("/api/classify", {}).json()["code"] == "required"
    resp = staff_client.post("/api/classify", {"photo": _bad("I-17_html_named.jpg")})
    assert resp.status_code == 400 and resp.json()["code"] == "not_image"
    resp = staff_client.post("/api/classify", {"photo": _file("x.jpg", _jpeg())})
    assert resp.status_code == 202 and resp.json()["job"]["kind"] == "search.classify"


def test_galleries_are_private_to_their_users(kiosk_client, gallery):
    assert kiosk_client.get(f"/search/galleries/{gallery.pk}/").status_code == 404
    assert kiosk_client.get("/search/").status_code == 200
    resp = kiosk_client.post("/search/", {"name": "Mine"})
    mine = Dataset.objects.get(name="Mine")
    assert kiosk_client.get(f"/search/galleries/{mine.pk}/").status_code == 200


def test_clusters_page(staff_client, gallery):
    from webapp.registry.services import model_version_register

    a, b = _photo(gallery, (1, 1, 1), "a.jpg"), _photo(gallery, (200, 1, 1), "b.jpg")
    assert "Build an index" in staff_client.get(f"/search/galleries/{gallery.pk}/clusters/").content.decode()
    model_version_register(kind="search_index", name="flat:efficientnet_lite0", dataset=gallery, path="/nowhere",
                           activate=True, params={"kind": "flat", "clusters": [{"size": 1, "image_ids": [a.pk]},
                                                                                {"size": 1, "image_ids": [b.pk]}]},
                           metrics={"n_vectors": 2})
    html = staff_client.get(f"/search/galleries/{gallery.pk}/clusters/").content.decode()
    assert "Group 2" in html and a.thumbnail.url in html and b.thumbnail.url in html


def test_index_build_form_refuses_bad_settings(staff_client, gallery):
    resp = staff_client.post(f"/search/galleries/{gallery.pk}/index/", {"kind": "lsh", "nlist": 0, "nprobe": 1,
                                                                       "clusters": 5}, follow=True)
    assert any("Index settings" in m for m in _messages(resp)) and not Job.objects.exists()
    staff_client.post(f"/search/galleries/{gallery.pk}/index/", {"kind": "ivf", "nlist": 4, "nprobe": 2, "clusters": 5})
    assert Job.objects.get().params["kind"] == "ivf"
