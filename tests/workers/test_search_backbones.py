"""A gallery indexed with another backbone (EfficientNet-Lite1) than the
default: the index build embeds the photos that have no embedding under it
first, the gallery page and later searches use it, and new photos are
embedded with it."""

import pytest

from tests.workers.search_helpers import category_photo, make_gallery, run, upload
from webapp.jobs.models import Job
from webapp.search import selectors, services
from webapp.search.models import ImageEmbedding

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("efficientnet_weights")]


def test_index_with_another_backbone_embeds_first_then_searches_with_it(staff_client):
    ds, _, _ = make_gallery(per_class=2)  # embedded with the default, Lite0
    assert ImageEmbedding.objects.filter(image__dataset=ds, backbone="efficientnet_lite0").count() == 4
    r = staff_client.post(f"/search/galleries/{ds.pk}/index/", {"backbone": "efficientnet_lite1", "kind": "flat",
                                                                 "nlist": 0, "nprobe": 8, "clusters": 2})
    assert r.status_code == 302
    job = run(Job.objects.get(kind="search.build_index"))
    assert job.state == "succeeded", job.error + job.traceback[-1500:]
    lite1 = ImageEmbedding.objects.filter(image__dataset=ds, backbone="efficientnet_lite1")
    assert lite1.count() == 4 and all(len(e.array) == 1280 for e in lite1)
    assert selectors.search_backbone(dataset=ds) == "efficientnet_lite1"
    page = staff_client.get(f"/search/galleries/{ds.pk}/").content.decode()
    assert "EfficientNet-Lite1" in page
    run_ = services.image_search(dataset=ds, image=ds.images.first(), k=3)
    result = run(run_.job).result
    assert result["backbone"] == "efficientnet_lite1" and len(result["hits"]) == 3
    # a photo added later is embedded with the gallery's backbone, not the default
    _, embed_job = services.gallery_photos_add(dataset=ds, files=[upload(category_photo("sunflower", 9), name="s9.jpg")])
    assert embed_job.params["backbone"] == "efficientnet_lite1"
