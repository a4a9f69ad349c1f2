"""Reads for the check-in area."""

from __future__ import annotations

import datetime as dt

from django.db.models import Count, Q, QuerySet
from django.utils import timezone

import numpy as np

from vision.matching import MIN_COHORT_MEMBERS, POLICIES
from webapp.checkin.gallery import gallery_load
from webapp.checkin.models import MIN_SAMPLES, CheckIn, FaceSample, Member

#: Histogram of the calibration page: distances 0..1 in bins of 0.025.
HIST_BINS = np.linspace(0.0, 1.0, 41)


def member_list(*, query: str = "") -> QuerySet[Member]:
    qs = Member.objects.annotate(
        n_samples=Count("samples", filter=Q(samples__status=FaceSample.Status.ACCEPTED), distinct=True)
    ).order_by("name", "id")
    if query:
        qs = qs.filter(Q(name__icontains=query) | Q(external_id__icontains=query))
    return qs


def checkin_list(*, member=None, strangers: bool = False, date_from: dt.date | None = None,
                 date_to: dt.date | None = None) -> QuerySet[CheckIn]:
    """Check-ins newest first; dates are whole days in the current time zone."""
    qs = CheckIn.objects.select_related("member", "photo")
    if member is not None:
        qs = qs.filter(member=member)
    if strangers:
        qs = qs.filter(member__isnull=True)
    tz = timezone.get_current_timezone()
    if date_from:
        qs = qs.filter(time__gte=dt.datetime.combine(date_from, dt.time.min, tzinfo=tz))
    if date_to:
        qs = qs.filter(time__lt=dt.datetime.combine(date_to + dt.timedelta(days=1), dt.time.min, tzinfo=tz))
    return qs


def dashboard_counts() -> dict:
    today = timezone.localdate()
    start = dt.datetime.combine(today, dt.time.min, tzinfo=timezone.get_current_timezone())
    return {
        "members": Member.objects.filter(active=True).count(),
        "checkins_today": CheckIn.objects.filter(time__gte=start, member__isnull=False).count(),
        "strangers_today": CheckIn.objects.filter(time__gte=start, member__isnull=True).count(),
    }


def calibration(current_policy: str, outer_bound: float) -> dict:
    """What the calibration page shows for the current gallery: genuine and
    impostor distances (leave-one-out, ``vision.matching.Cohort``) as a
    histogram with bar heights 0..1 of the tallest bin, each policy's cut
    with its expected false-accept and false-reject rates on this gallery,
    and the members with fewer than ``MIN_SAMPLES`` accepted photos."""
    gallery = gallery_load()
    cohort = gallery.cohort()
    gen, _ = np.histogram(np.clip(cohort.genuine, 0, 0.999), HIST_BINS)
    imp, _ = np.histogram(np.clip(cohort.impostor, 0, 0.999), HIST_BINS)
    top = max(1, int(gen.max(initial=0)), int(imp.max(initial=0)))
    bins = [{"x": float(lo), "genuine": int(g), "impostor": int(i), "g_h": g / top, "i_h": i / top}
            for lo, g, i in zip(HIST_BINS[:-1], gen, imp)]
    policies = []
    for name, policy in POLICIES.items():
        cut = gallery.cut(policy, outer_bound)
        far, frr = cohort.rates(cut.threshold)
        policies.append({"name": name, "label": policy.label, "threshold": cut.threshold, "source": cut.source,
                         "margin": policy.margin, "far": None if far is None else 100 * far,
                         "frr": None if frr is None else 100 * frr, "current": name == current_policy})
    few = (member_list().filter(active=True, n_samples__lt=MIN_SAMPLES).order_by("n_samples", "name"))
    return {"n_members": gallery.n_members, "n_samples": len(gallery), "n_genuine": len(cohort.genuine),
            "n_impostor": len(cohort.impostor), "bins": bins, "policies": policies, "few": few,
            "min_samples": MIN_SAMPLES, "min_cohort": MIN_COHORT_MEMBERS, "top": top}
