"""Searches that read their gallery's marks only after a change (issue 14,
``webapp.search.changes``): on PostgreSQL a search with nothing changed asks
the database nothing, and a change is seen by the first search after its
notification arrived (deleted photos never come back, new ones are found, a
rebuilt index is used at once), also after the listening connection broke.
On SQLite every search reads its marks. Transactional: notifications come
with commits, delivered asynchronously just after them: the tests wait for
the delivery (:func:`_delivered`), as the search a moment later would."""

import select


import numpy as np
import pytest
from django.db import connection

from webapp.datasets.models import Dataset, DatasetImage
from webapp.search import changes, processing
from webapp.search.bulk import embeddings_import

from tests.webapp.search.test_search_at_scale import BACKBONE, VERSION, _unit

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.embedded]


@pytest.fixture
def gallery(settings, tmp_path):
    settings.SEARCH_INDEX_DIR = tmp_path / "indexes"
    rng = np.random.default_rng(7)
    ds = Dataset.objects.create(name="changes", kind=Dataset.Kind.GALLERY)
    x = _unit(rng, 200)
    ids = embeddings_import(dataset=ds, vectors=x, backbone=BACKBONE, backbone_version=VERSION)
    processing.index_build(params={"dataset_id": ds.pk, "backbone": BACKBONE, "kind": "flat"},
                           progress=lambda *a, **k: None)
    return ds, x, [int(i) for i in ids], rng


def _delivered(timeout=5.0) -> None:
    """Wait until this thread's listener has a notification to read (PostgreSQL; nothing elsewhere)."""
    conn = changes._listener.conn
    if conn is not None:
        ready, _, _ = select.select([conn.pgconn.socket], [], [], timeout)
        assert ready, "no notification arrived"


def _hit_ids(ds, q, k=10):
    return [h["image_id"] for h in processing.gallery_search(dataset=ds, query=q, k=k, backbone=BACKBONE)["hits"]]


def test_a_search_with_nothing_changed_asks_the_database_nothing(gallery, django_assert_num_queries):
    ds, x, ids, _ = gallery
    assert _hit_ids(ds, x[4])[0] == ids[4]  # reads the marks (and loads the index)
    with django_assert_num_queries(0 if connection.vendor == "postgresql" else 1):
        assert _hit_ids(ds, x[5])[0] == ids[5]


def test_a_change_is_seen_by_the_first_search_after_its_notification_arrived(gallery):
    ds, x, ids, rng = gallery
    assert _hit_ids(ds, x[4])[0] == ids[4]
    DatasetImage.objects.filter(pk=ids[4]).delete()
    _delivered()
    assert ids[4] not in _hit_ids(ds, x[4])
    new = embeddings_import(dataset=ds, vectors=_unit(rng, 1), backbone=BACKBONE, backbone_version=VERSION,
                            name_prefix="new")
    _delivered()
    q = processing.ImageEmbedding.objects.get(image_id=int(new[0])).array
    assert _hit_ids(ds, q)[0] == int(new[0])
    rebuilt = processing.index_build(params={"dataset_id": ds.pk, "backbone": BACKBONE, "kind": "flat"},
                                     progress=lambda *a, **k: None)
    _delivered()
    res = processing.gallery_search(dataset=ds, query=q, k=3, backbone=BACKBONE)
    assert res["index"]["model_version_id"] == rebuilt["model_version_id"] and res["added_since_build"] == 0


def test_a_broken_listener_falls_back_to_reading_and_listens_again(gallery):
    ds, x, ids, _ = gallery
    _hit_ids(ds, x[1])
    if connection.vendor != "postgresql":
        assert changes._listener.conn is None  # nothing to listen to on SQLite
        return
    pid = changes._listener.conn.info.backend_pid
    with connection.cursor() as cur:
        cur.execute("SELECT pg_terminate_backend(%s, 5000)", [pid])  # returns once that backend has exited
    DatasetImage.objects.filter(pk=ids[2]).delete()
    assert ids[2] not in _hit_ids(ds, x[2])  # read, since the listener broke
    assert ids[3] == _hit_ids(ds, x[3])[0]
    assert changes._listener.conn is not None and changes._listener.conn.info.backend_pid != pid
