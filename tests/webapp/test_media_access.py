"""Uploaded files are served only to the users their app allows."""

import pytest
from django.core.files.base import ContentFile

from webapp.datasets.models import Dataset, DatasetImage

pytestmark = pytest.mark.django_db


@pytest.fixture
def users(django_user_model):
    return (django_user_model.objects.create_user("a", password="x"),
            django_user_model.objects.create_user("b", password="x"),
            django_user_model.objects.create_user("s", password="x", is_staff=True))


def _get(client, user, url):
    client.force_login(user)
    return client.get(url).status_code


def test_dataset_photos_for_the_datasets_users(client, users, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    a, b, staff = users
    ds = Dataset.objects.create(name="d", kind="gallery", created_by=a)
    im = DatasetImage.objects.create(dataset=ds, file=ContentFile(b"x", "p.jpg"), thumbnail=ContentFile(b"t", "t.jpg"),
                                     original_name="p.jpg", sha256="0" * 64)
    for url in (im.file.url, im.thumbnail.url):
        assert _get(client, a, url) == 200 and _get(client, b, url) == 403 and _get(client, staff, url) == 200
    ds.members.add(b)
    assert _get(client, b, im.file.url) == 200


def test_detect_and_query_photos_for_their_owner(client, users, settings, tmp_path):
    from webapp.annotation.models import DetectPhoto
    from webapp.search.models import QueryPhoto

    settings.MEDIA_ROOT = tmp_path
    a, b, staff = users
    d = DetectPhoto.objects.create(file=ContentFile(b"x", "d.jpg"), detector="dlib_hog_face", width=1, height=1, created_by=a)
    assert _get(client, a, d.file.url) == 200 and _get(client, b, d.file.url) == 403
    q = QueryPhoto.objects.create(purpose="classify", photo=ContentFile(b"x", "q.jpg"), width=1, height=1, created_by=a)
    assert _get(client, a, q.photo.url) == 200 and _get(client, b, q.photo.url) == 403 and _get(client, staff, q.photo.url) == 200


def test_unclaimed_folders_are_staff_only(client, users, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    (tmp_path / "staging").mkdir()
    (tmp_path / "staging" / "z.zip").write_bytes(b"x")
    a, _, staff = users
    assert _get(client, a, "/media/staging/z.zip") == 403 and _get(client, staff, "/media/staging/z.zip") == 200
