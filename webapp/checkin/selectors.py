"""Reads for the check-in area."""

from __future__ import annotations

import datetime as dt

from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from webapp.checkin.models import CheckIn, FaceSample, Member


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
