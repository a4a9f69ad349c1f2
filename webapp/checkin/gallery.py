"""The enrolled gallery as ``vision.matching.Gallery``: read by check-in jobs
(matching) and by the calibration page (its statistics). Plain rows and
numpy: no face models are loaded here."""

from __future__ import annotations

from django.db.models import Count, Max

from vision.matching import Gallery
from webapp.checkin.models import FaceSample, embeddings_from_bytes

_gallery_cache: dict = {"key": None, "gallery": None}


def _accepted_samples():
    return FaceSample.objects.filter(status=FaceSample.Status.ACCEPTED, member__active=True)


def gallery_load(*, exclude_member_id: int | None = None) -> Gallery:
    """All accepted embeddings of active members in one query, as a ``Gallery``
    labelled by member id. The full gallery (and so its cohort statistics) is
    cached per process and reloaded when a cheap fingerprint query (count,
    newest id, last member change) says it changed."""
    qs = _accepted_samples()
    if exclude_member_id is not None:
        rows = list(qs.exclude(member_id=exclude_member_id).values_list("member_id", "embedding"))
        return Gallery(embeddings_from_bytes([r[1] for r in rows]), [r[0] for r in rows])
    # one query: a sample added, deleted or re-decided, or a member (de)activated, renamed or
    # erased, changes the count, the newest id or the newest member change of these rows
    fp = qs.aggregate(n=Count("id"), last=Max("id"), changed=Max("member__updated_at"))
    key = (fp["n"], fp["last"], fp["changed"])
    if _gallery_cache["key"] != key:
        rows = list(qs.values_list("member_id", "embedding"))
        _gallery_cache["gallery"] = Gallery(embeddings_from_bytes([r[1] for r in rows]), [r[0] for r in rows])
        _gallery_cache["key"] = key
    return _gallery_cache["gallery"]
