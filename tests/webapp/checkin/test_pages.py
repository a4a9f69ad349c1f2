"""Pages of the check-in area: access rules, forms, bad uploads, log, CSV,
deleting biometric data. Jobs are not run here (see tests/workers)."""

import csv
import io
import json
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import RequestFactory

from tests.shared_data import shared_path
from webapp.checkin.models import CheckIn, CheckInPhoto, FaceSample, Member
from webapp.jobs.models import Job

pytestmark = pytest.mark.django_db

BAD_INPUTS = {  # file -> words the message must contain
    "I-18_empty.jpg": "empty",
    "I-17_html_named.jpg": "not an image",
    "I-07_truncated.jpg": "truncated or damaged",
    "I-08_bomb_20000x20000.png": "20000 × 20000",
}


def _upload(path: Path, name: str | None = None, content_type="image/jpeg"):
    return SimpleUploadedFile(name or path.name, path.read_bytes(), content_type=content_type)


def _face(person="Barack_Obama", n=1):
    return shared_path("datasets", "faces", person, f"{n}.jpg")


# ----- access -----
@pytest.mark.embedded
@pytest.mark.parametrize("url", ["/", "/members/", "/checkin/", "/checkins/", "/jobs/", "/api/jobs/1"])
def test_login_required_everywhere(client, url):
    r = client.get(url)
    if url.startswith("/api/"):  # the JSON API says so in JSON rather than redirecting to a page
        assert r.status_code == 401 and r.json()["code"] == "not_authenticated" and "Log in" in r.json()["message"]
    else:
        assert r.status_code == 302 and r.url.startswith("/login/")


@pytest.mark.embedded
def test_a_failed_csrf_check_is_json_on_the_api_and_a_page_elsewhere(staff_user):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(staff_user)
    r = client.post("/api/checkins", {})
    assert r.status_code == 403 and r.json()["code"] == "csrf_failed" and "X-CSRFToken" in r.json()["message"]
    r = client.post("/members/new/", {})
    assert r.status_code == 403 and "CSRF" in r.content.decode() and r["Content-Type"].startswith("text/html")


@pytest.mark.embedded
def test_an_anonymous_api_post_is_told_to_log_in_not_about_csrf():
    from django.test import Client

    r = Client(enforce_csrf_checks=True).post("/api/checkins", {})
    assert r.status_code == 401 and r.json()["code"] == "not_authenticated"


@pytest.mark.embedded
def test_api_refusals_and_not_found_are_json_pages_stay_pages(client, django_user_model):
    plain = django_user_model.objects.create_user("plain", password="x")
    client.force_login(plain)
    r = client.post("/api/checkins", {})  # the kiosk role is missing: PermissionDenied
    assert r.status_code == 403 and r["Content-Type"] == "application/json"
    assert r.json()["code"] == "forbidden" and r.json()["message"]
    r = client.get("/api/annotation/images/99999")  # Http404 raised by the view, with its sentence
    assert r.status_code == 404 and r.json()["code"] == "not_found" and r.json()["message"] == "No such photo"
    from django.http import Http404

    from webapp.core.api_errors import not_found

    r = not_found(RequestFactory().get("/api/x"), Http404("No Member matches the given query."))
    assert json.loads(r.content)["message"] == "Not found: no such API address or item."  # no model class names
    r = client.get("/api/no-such-endpoint")  # no URL matches
    assert r.status_code == 404 and r.json() == {"message": "Not found: no such API address or item.",
                                                 "code": "not_found", "fields": {}}
    r = client.get("/no-such-page/")
    assert r.status_code == 404 and r["Content-Type"].startswith("text/html") and "Not found" in r.content.decode()
    r = client.get("/members/")
    assert r.status_code == 403 and r["Content-Type"].startswith("text/html") and "Not allowed" in r.content.decode()


def test_a_wrong_method_is_said_in_words_not_a_blank_page(admin_client):
    r = admin_client.get("/training/models/1/predict/")  # a form's address opened directly
    assert r.status_code == 405 and r["Allow"] == "POST" and "takes POST requests, not GET" in r.content.decode()
    r = admin_client.get("/api/models/1/predict")
    assert r.status_code == 405 and r.json()["code"] == "method_not_allowed" and "POST" in r.json()["message"]


def test_an_unexpected_api_error_is_json_and_hides_the_traceback(client, admin_user, monkeypatch):
    from django.test import Client

    from webapp.jobs import views

    def boom(*args, **kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(views, "job_get", boom)
    c = Client(raise_request_exception=False)
    c.force_login(admin_user)
    r = c.get("/api/jobs/1")
    assert r.status_code == 500 and r.json()["code"] == "server_error" and "secret" not in r.content.decode()
    r = c.get("/jobs/1/")
    assert r.status_code == 500 and r["Content-Type"].startswith("text/html") and "secret" not in r.content.decode()


@pytest.mark.parametrize("url", ["/members/", "/members/new/", "/members/calibration/"])
def test_members_are_staff_only(kiosk_client, url):
    assert kiosk_client.get(url).status_code == 403


def test_face_media_is_staff_only(kiosk_client, staff_user, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    (tmp_path / "faces").mkdir()
    (tmp_path / "faces" / "x.jpg").write_bytes(b"x")
    assert kiosk_client.get("/media/faces/x.jpg").status_code == 403
    assert kiosk_client.get("/media/../../etc/passwd").status_code == 404
    kiosk_client.force_login(staff_user)
    assert kiosk_client.get("/media/faces/x.jpg").status_code == 200


def test_csrf_enforced(staff_user):
    from django.test import Client

    c = Client(enforce_csrf_checks=True)
    c.force_login(staff_user)
    assert c.post("/members/new/", {"name": "X"}).status_code == 403
    assert not Member.objects.exists()


# ----- members -----
def test_member_create_edit_search_deactivate(staff_client):
    r = staff_client.post("/members/new/", {"name": "Ada Lovelace", "external_id": "E-1", "active": "on"})
    m = Member.objects.get()
    assert r.status_code == 302 and r.url == f"/members/{m.pk}/"
    assert "Ada Lovelace" in staff_client.get("/members/?q=lovel").content.decode()
    assert "No member matches" in staff_client.get("/members/?q=zzz").content.decode()
    staff_client.post(f"/members/{m.pk}/edit/", {"name": "Ada King", "external_id": "E-1"})
    m.refresh_from_db()
    assert m.name == "Ada King" and m.active is False
    # a duplicate external id is a form error, not a 500
    r = staff_client.post("/members/new/", {"name": "Other", "external_id": "E-1"})
    assert r.status_code == 200 and "already exists" in r.content.decode()


def test_enrol_stores_readable_photos_and_names_refused_ones(staff_client):
    m = Member.objects.create(name="Obama")
    files = [_upload(_face(n=1)), _upload(_face(n=2))] + [_upload(shared_path("bad-inputs", f)) for f in BAD_INPUTS]
    r = staff_client.post(f"/members/{m.pk}/", {"photos": files}, follow=True)
    assert r.status_code == 200
    page = r.content.decode()
    for name, words in BAD_INPUTS.items():
        assert name in page and words in page, (name, words)
    assert FaceSample.objects.filter(member=m, status="pending").count() == 2
    job = Job.objects.get(kind="checkin.enrol")
    assert job.params["sample_ids"] == sorted(job.params["sample_ids"]) and len(job.params["sample_ids"]) == 2
    # stored names are random, extension from the content
    for s in FaceSample.objects.all():
        assert s.photo.name.endswith(".jpg") and "Obama" not in s.photo.name and s.original_name.endswith(".jpg")


def test_enrol_with_only_bad_files_stores_nothing(staff_client):
    m = Member.objects.create(name="Nobody")
    r = staff_client.post(f"/members/{m.pk}/", {"photos": [_upload(shared_path("bad-inputs", "I-18_empty.jpg"))]}, follow=True)
    assert "empty" in r.content.decode()
    assert not FaceSample.objects.exists() and not Job.objects.exists()


def test_oversized_upload_is_refused(staff_client, settings):
    settings.MAX_UPLOAD_BYTES = 50_000
    m = Member.objects.create(name="Big")
    r = staff_client.post(f"/members/{m.pk}/", {"photos": [_upload(_face(n=1))]}, follow=True)  # ~100+ KB
    assert "limit is" in r.content.decode() and not FaceSample.objects.exists()
    r = staff_client.post("/checkin/", {"photo": _upload(_face(n=1))})
    assert r.status_code == 400 and "limit is" in r.content.decode()


# ----- check-in -----
@pytest.mark.embedded
def test_checkin_upload_creates_photo_and_job(kiosk_client):
    r = kiosk_client.post("/checkin/", {"photo": _upload(_face(n=3), name="../../evil name.jpg")})
    photo = CheckInPhoto.objects.get()
    assert r.status_code == 302 and r.url == f"/checkin/{photo.pk}/"
    assert photo.job.kind == "checkin.checkin" and photo.job.params == {"photo_id": photo.pk}
    assert ".." not in photo.photo.name and "evil" not in photo.photo.name
    assert (photo.width, photo.height) == (photo.photo.width if hasattr(photo.photo, "width") else photo.width, photo.height)
    page = kiosk_client.get(r.url).content.decode()
    assert "job-data" in page and f'viewBox="0 0 {photo.width} {photo.height}"' in page


@pytest.mark.embedded
@pytest.mark.parametrize("name,words", list(BAD_INPUTS.items()))
def test_checkin_bad_upload_is_a_clear_400(kiosk_client, name, words):
    r = kiosk_client.post("/checkin/", {"photo": _upload(shared_path("bad-inputs", name))})
    assert r.status_code == 400 and words in r.content.decode()
    assert not CheckInPhoto.objects.exists() and not Job.objects.exists()


def test_checkin_api_json(kiosk_client):
    r = kiosk_client.post("/api/checkins", {"photo": _upload(_face(n=3))})
    assert r.status_code == 202 and r.json()["job"]["state"] == "queued"
    r = kiosk_client.post("/api/checkins", {"photo": _upload(shared_path("bad-inputs", "I-17_html_named.jpg"))})
    assert r.status_code == 400 and r.json()["code"] == "not_image" and "not an image" in r.json()["message"]
    r = kiosk_client.post("/api/checkins", {})
    assert r.status_code == 400 and r.json()["code"] == "required"


@pytest.mark.django_db(transaction=True)  # on_commit runs for real, inside the request
def test_broker_down_is_a_503_and_keeps_the_photo(kiosk_client, monkeypatch):
    from webapp.celery import app

    def down(*a, **k):
        raise ConnectionRefusedError("[Errno 111] Connection refused")

    monkeypatch.setattr(app, "send_task", down)
    r = kiosk_client.post("/checkin/", {"photo": _upload(_face(n=3))})
    assert r.status_code == 503 and "not reachable" in r.content.decode()
    photo = CheckInPhoto.objects.get()
    assert photo.photo.storage.exists(photo.photo.name)
    assert photo.job.state == "failed" and photo.job.error_code == "queue_unavailable"


# ----- log -----
def _log_rows():
    a, b = Member.objects.create(name="Alice"), Member.objects.create(name="=cmd|' /C calc'!A0")
    CheckIn.objects.create(time="2026-01-05T09:00:00Z", member=a, distance=0.31, margin=0.2, box=[1, 2, 3, 4])
    CheckIn.objects.create(time="2026-01-06T09:00:00Z", member=b, distance=0.41, box=[5, 6, 7, 8])
    CheckIn.objects.create(time="2026-01-07T09:00:00Z", member=None, distance=0.8, box=[9, 9, 19, 19])
    return a, b


def test_log_filters_and_paging(kiosk_client):
    a, _ = _log_rows()

    def rows(query=""):
        return [(c.time.date().isoformat(), c.member.name if c.member else None)
                for c in kiosk_client.get("/checkins/" + query).context["page"].object_list]

    assert [d for d, _ in rows()] == ["2026-01-07", "2026-01-06", "2026-01-05"]  # newest first
    assert rows(f"?member={a.pk}") == [("2026-01-05", "Alice")]
    assert rows("?strangers=on") == [("2026-01-07", None)]
    assert [d for d, _ in rows("?date_from=2026-01-06&date_to=2026-01-06")] == ["2026-01-06"]
    assert "Stranger" in kiosk_client.get("/checkins/").content.decode()
    bad = kiosk_client.get("/checkins/?date_from=2026-01-08&date_to=2026-01-01")
    assert bad.status_code == 200 and "must be on or before" in bad.content.decode()
    for i in range(40):
        CheckIn.objects.create(time="2026-02-01T09:00:00Z", member=a)
    r = kiosk_client.get("/checkins/?page=2")
    assert r.context["page"].number == 2 and "Page 2 of 2" in r.content.decode()


def test_log_csv_export(kiosk_client):
    a, _ = _log_rows()
    r = kiosk_client.get("/checkins/?format=csv")
    assert r["Content-Type"].startswith("text/csv") and "attachment" in r["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert rows[0][:5] == ["time", "member_id", "member", "external_id", "stranger"]
    assert len(rows) == 4 and rows[1][4] == "yes" and rows[3][2] == "Alice" and rows[3][8:12] == ["1", "2", "3", "4"]
    assert rows[0][12] == "mode" and rows[3][12] == "kiosk"
    assert rows[2][2].startswith("'=")  # formula injection neutralised
    filtered = kiosk_client.get(f"/checkins/?member={a.pk}&format=csv").content.decode("utf-8-sig")
    assert len(list(csv.reader(io.StringIO(filtered)))) == 2


# ----- deleting a member deletes all their biometric data -----
def test_member_delete_removes_samples_checkins_and_files(staff_client, django_capture_on_commit_callbacks):
    from django.core.files.base import ContentFile

    m, other = Member.objects.create(name="Gone"), Member.objects.create(name="Stays")
    s = FaceSample.objects.create(member=m, photo=ContentFile(b"p", "p.jpg"), crop=ContentFile(b"c", "c.jpg"),
                                  status="accepted", embedding=b"\0" * 512)
    photo = CheckInPhoto.objects.create(photo=ContentFile(b"x", "x.jpg"))
    ci = CheckIn.objects.create(time="2026-01-05T09:00:00Z", member=m, photo=photo, crop=ContentFile(b"k", "k.jpg"))
    kept = CheckIn.objects.create(time="2026-01-05T09:00:00Z", member=other, photo=photo)
    # a photo where they were recognised but not logged again (within the repeat window), with its job
    from webapp.checkin.jobs import CHECKIN
    from webapp.jobs.services import job_create

    repeat_job, _ = job_create(CHECKIN, params={"photo_id": 0})
    repeat = CheckInPhoto.objects.create(photo=ContentFile(b"r", "r.jpg"), job=repeat_job)
    repeat.members.add(m)
    paths = [s.photo.path, s.crop.path, photo.photo.path, ci.crop.path, repeat.photo.path]
    assert all(Path(p).exists() for p in paths)
    assert "permanently deletes" in staff_client.get(f"/members/{m.pk}/delete/").content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        r = staff_client.post(f"/members/{m.pk}/delete/", follow=True)
    assert "was deleted with 1 face samples, 1 check-ins and 2 check-in photos" in r.content.decode()
    assert not Member.objects.filter(pk=m.pk).exists() and not FaceSample.objects.exists()
    assert not CheckInPhoto.objects.filter(pk=repeat.pk).exists() and not Job.objects.filter(pk=repeat_job.pk).exists()
    assert list(CheckIn.objects.all()) == [kept]
    assert not any(Path(p).exists() for p in paths)


def test_pages_render(admin_client):
    m = Member.objects.create(name="Page")
    for url in ["/", "/members/", f"/members/{m.pk}/", f"/members/{m.pk}/edit/", "/members/new/", "/checkin/",
                "/checkins/", "/jobs/", "/admin/", "/admin/checkin/member/", "/admin/checkin/checkin/",
                "/admin/checkin/facesample/", "/admin/checkin/checkinphoto/", "/admin/jobs/job/",
                f"/admin/checkin/member/{m.pk}/change/"]:
        assert admin_client.get(url).status_code == 200, url
    assert admin_client.get("/members/99999/").status_code == 404


@pytest.mark.parametrize("url", ["/", "/admin/", "/admin/login/"])
def test_pages_name_their_icon_so_browsers_do_not_ask_for_favicon_ico(admin_client, url):
    # a page with no <link rel="icon"> makes the browser request /favicon.ico, which is a 404 here
    html = admin_client.get(url, follow=True).content.decode()
    assert '<link rel="icon" href="data:image/svg+xml' in html


def test_checkin_pages_and_media_need_the_kiosk_role(client, django_user_model, kiosk_user, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    (tmp_path / "checkins").mkdir()
    (tmp_path / "checkins" / "c.jpg").write_bytes(b"x")
    plain = django_user_model.objects.create_user("plain", password="x")
    client.force_login(plain)
    for url in ["/checkin/", "/checkins/", "/checkins/?format=csv", "/media/checkins/c.jpg"]:
        assert client.get(url).status_code == 403, url
    assert client.post("/api/checkins", {}).status_code == 403
    assert "Check in" not in client.get("/").content.decode()
    client.force_login(kiosk_user)
    for url in ["/checkin/", "/checkins/", "/media/checkins/c.jpg"]:
        assert client.get(url).status_code == 200, url


def test_job_uploads_are_visible_to_their_owner_only(client, django_user_model, settings, tmp_path):
    from webapp.jobs.services import job_create
    from webapp.training.jobs import PREDICT

    settings.MEDIA_ROOT = tmp_path
    (tmp_path / "predict").mkdir()
    (tmp_path / "predict" / "p.jpg").write_bytes(b"x")
    owner = django_user_model.objects.create_user("owner", password="x")
    other = django_user_model.objects.create_user("other", password="x")
    job_create(PREDICT, user=owner, params={"url": "/media/predict/p.jpg"})
    client.force_login(other)
    assert client.get("/media/predict/p.jpg").status_code == 403
    client.force_login(owner)
    assert client.get("/media/predict/p.jpg").status_code == 200


@pytest.mark.parametrize("url", ["/checkin/", "/detect/"])
def test_an_empty_upload_reads_the_same_on_every_form(admin_client, url):
    r = admin_client.post(url, {"photo": SimpleUploadedFile("e.jpg", b""), "detector": "dlib_hog_face"})
    html = r.content.decode()
    assert r.status_code in (200, 400) and "The file is empty (0 bytes)." in html and "submitted file is empty" not in html


def test_an_empty_upload_on_the_api_says_so_with_its_code(admin_client):
    r = admin_client.post("/api/detect", {"photo": SimpleUploadedFile("e.jpg", b""), "detector": "dlib_hog_face"})
    assert r.status_code == 400 and r.json()["message"] == "The file is empty (0 bytes)." and r.json()["code"] == "empty"
    r = admin_client.post("/api/detect", {"detector": "dlib_hog_face"})  # nothing sent: what to send
    assert r.status_code == 400 and r.json()["code"] == "required" and "multipart field" in r.json()["message"]


# ----- open-set decision (issue 18) -----
def _member_with_samples(name, vectors):
    from webapp.checkin.models import embedding_to_bytes

    m = Member.objects.create(name=name)
    for v in vectors:
        FaceSample.objects.create(member=m, photo="faces/samples/x.jpg", status=FaceSample.Status.ACCEPTED,
                                  embedding=embedding_to_bytes(v))
    return m


@pytest.mark.parametrize("n_members", [0, 1, 12])
def test_calibration_page_shows_distributions_cuts_and_few_photo_members(staff_client, n_members):
    import numpy as np

    from webapp.checkin.models import MatchingSettings

    rng = np.random.default_rng(0)
    for i in range(n_members):
        centre = rng.normal(size=128)
        centre /= np.linalg.norm(centre) * 2.4  # members about 0.6 apart: the cohort cut is the lowest
        _member_with_samples(f"M{i}", [centre + rng.normal(scale=0.02, size=128) for _ in range(2 if i == 0 else 3)])
    r = staff_client.get("/members/calibration/")
    page = r.content.decode()
    assert r.status_code == 200 and "<svg" in page and "Strict" in page and "Balanced (default)" in page
    if n_members == 12:
        assert "from this gallery" in page  # the cohort cut applies from MIN_COHORT_MEMBERS members
        assert "M0</a> · 2 photos" in page  # fewer than 3 photos: listed
    if n_members < 2:
        assert "nothing to compare yet" in page
    # the policy is stored in the database
    r = staff_client.post("/members/calibration/", {"policy": "strict"})
    assert r.status_code == 302 and MatchingSettings.current().policy == "strict"
    r = staff_client.post("/members/calibration/", {"policy": "paranoid"})
    assert r.status_code == 200 and MatchingSettings.current().policy == "strict"


def test_group_mode_is_staff_only(kiosk_client, staff_user):
    r = kiosk_client.post("/checkin/", {"photo": _upload(_face(n=3)), "mode": "group"})
    assert r.status_code == 400 and "Only staff" in r.content.decode() and not CheckInPhoto.objects.exists()
    r = kiosk_client.post("/api/checkins", {"photo": _upload(_face(n=3)), "mode": "group"})
    assert r.status_code in (400, 403) and "Only staff" in r.json()["message"]
    kiosk_client.force_login(staff_user)
    r = kiosk_client.post("/checkin/", {"photo": _upload(_face(n=3)), "mode": "group"})
    assert r.status_code == 302 and CheckInPhoto.objects.get().mode == "group"


def test_burst_frames_are_stored_and_a_bad_frame_is_refused(kiosk_client):
    from webapp.checkin.models import CheckInFrame

    r = kiosk_client.post("/checkin/", {"photo": _upload(_face(n=3)), "frames": [_upload(_face(n=4)), _upload(_face(n=3))]})
    assert r.status_code == 302 and CheckInFrame.objects.count() == 2
    r = kiosk_client.post("/checkin/", {"photo": _upload(_face(n=3)),
                                        "frames": [_upload(shared_path("bad-inputs", "I-18_empty.jpg"))]})
    assert r.status_code == 400 and "Frame 2 of the burst" in r.content.decode()
    assert CheckInPhoto.objects.count() == 1 and CheckInFrame.objects.count() == 2


def _data_url(path: Path, mime="image/jpeg") -> str:
    import base64

    return f"data:{mime};base64," + base64.b64encode(path.read_bytes()).decode()


def test_a_canvas_data_url_is_a_photo_and_a_malformed_one_is_refused(kiosk_client):
    r = kiosk_client.post("/checkin/", {"photo_data": _data_url(_face(n=3))})
    assert r.status_code == 302 and CheckInPhoto.objects.count() == 1
    r = kiosk_client.post("/api/checkins", {"photo": _data_url(_face(n=3))})
    assert r.status_code == 202 and CheckInPhoto.objects.count() == 2
    for bad, code in [("data:text/html;base64,PHNjcmlwdD4=", "bad_data_url"), ("data:image/png;base64,@@@@", "bad_data_url"),
                      ("data:image/png;base64,aGVsbG8=", "not_image")]:
        r = kiosk_client.post("/api/checkins", {"photo": bad})
        assert r.status_code == 400 and r.json()["code"] == code, (bad, r.json())
        r = kiosk_client.post("/checkin/", {"photo_data": bad})
        assert r.status_code == 400
    r = kiosk_client.post("/checkin/", {"photo_data": "data:image/png;base64,@@@@"})
    assert "damaged" in r.content.decode()
    assert CheckInPhoto.objects.count() == 2
