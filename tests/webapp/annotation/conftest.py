"""Fixtures for the annotation tests: a detection dataset of small generated
photos, an annotator assigned to it, and helpers."""

from __future__ import annotations

import io
import json

import pytest
from PIL import Image


def png_bytes(size=(64, 48), color=(200, 30, 30), fmt="PNG", mode="RGB", **save) -> bytes:
    buf = io.BytesIO()
    Image.new(mode, size, color if mode == "RGB" else None).save(buf, fmt, **save)
    return buf.getvalue()


def zip_of_pngs(n: int = 3, folder: str = "set", extra: dict[str, bytes] | None = None) -> bytes:
    """A zip of ``n`` small distinct PNGs under ``folder/`` (plus ``extra`` entries), as an upload carries it."""
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for i in range(n):
            zf.writestr(f"{folder}/{i}.png", png_bytes((40, 30), (i, 2, 3)))
        for name, data in (extra or {}).items():
            zf.writestr(name, data)
    return buf.getvalue()


@pytest.fixture
def detection_dataset(db, staff_user):
    from webapp.annotation.services import detection_dataset_create
    from webapp.datasets.services import dataset_image_add

    ds = detection_dataset_create(name="Street", classes=["person", "car, parked", "猫"], user=staff_user)
    for i, (w, h) in enumerate([(64, 48), (80, 60), (100, 50)]):
        dataset_image_add(dataset=ds, name=f"photos/img{i}.png", data=png_bytes((w, h), (10 * i, 50, 90)))
    return ds


@pytest.fixture
def annotator(django_user_model, detection_dataset):
    from webapp.annotation.services import dataset_annotator_add

    user = django_user_model.objects.create_user("annie", password="pw-annie-1")
    dataset_annotator_add(dataset=detection_dataset, username="annie")
    return user


@pytest.fixture
def annotator_client(client, annotator):
    client.force_login(annotator)
    return client


def send(client, method, url, body=None):
    """JSON request through the test client; returns (status, data)."""
    resp = getattr(client, method.lower())(url, data=json.dumps(body) if body is not None else None,
                                           content_type="application/json")
    return resp.status_code, (resp.json() if resp.content and resp["Content-Type"].startswith("application/json") else None)
