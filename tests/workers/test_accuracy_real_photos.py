"""Face check-in on the real photos of ../shared/datasets/faces, through the
job path (services create the rows and jobs; the tasks run in-process).

Protocol: people sorted by name; every fourth person is never enrolled. The
others are enrolled with their first two photos (in numeric order) that the
enrolment job accepts. Every other photo of every person is checked in; the
largest face decides. Targets from the issue: >= 98% of enrolled people's
photos identified as the right member, >= 95% of never-enrolled people's
photos reported as strangers (dlib by hand: 100% / 97.6%)."""

import re

import pytest

from tests.shared_data import shared_path
from tests.workers.helpers import check_in, enrol

pytestmark = pytest.mark.django_db


def _photos(person_dir):
    return sorted(person_dir.glob("*.jpg"), key=lambda p: int(re.sub(r"\D", "", p.stem) or 0))


def test_identification_and_stranger_rates(settings, capsys):
    settings.CHECKIN_REPEAT_MINUTES = 0  # judge every photo; the log window is tested elsewhere
    root = shared_path("datasets", "faces")
    people = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("_"))
    assert len(people) == 16
    kept_out = {p.name for p in people[3::4]}
    member_of, enrolled_files = {}, set()
    for person in people:
        if person.name in kept_out:
            continue
        accepted = 0
        for photo in _photos(person):
            if accepted == 2:
                break
            member, out = enrol(person.name, [photo]) if person.name not in member_of else (member_of[person.name], None)
            if out is None:
                from tests.workers.helpers import upload
                from webapp.checkin.services import member_enroll
                from workers.checkin import enrol as enroll

                out = member_enroll(member=member, photos=[upload(photo)])
                enroll.apply(args=[out.job.pk])
                out.job.refresh_from_db()
            member_of[person.name] = member
            if out.job.result["accepted"] == 1:
                accepted += 1
                enrolled_files.add(photo)
        assert accepted == 2, person.name

    right = known = strangers = unknown = 0
    errors = []
    for person in people:
        for photo in _photos(person):
            if photo in enrolled_files:
                continue
            _, job = check_in(photo)
            faces = job.result.get("faces") or []
            got = faces[0]["member_id"] if faces else "no face"
            if person.name in kept_out:
                unknown += 1
                strangers += got is None
                if got is not None:
                    errors.append(f"{person.name}/{photo.name}: stranger taken for {faces[0]['name'] if faces else got}")
            else:
                known += 1
                ok = got == member_of[person.name].pk
                right += ok
                if not ok:
                    errors.append(f"{person.name}/{photo.name}: got {faces[0]['name'] if faces else got}")
    id_rate, stranger_rate = right / known, strangers / unknown
    with capsys.disabled():  # the figures belong in every `make test` log, pass or fail
        _report(member_of, kept_out, right, known, id_rate, strangers, unknown, stranger_rate, errors)
    assert id_rate >= 0.98 and stranger_rate >= 0.95


def _report(member_of, kept_out, right, known, id_rate, strangers, unknown, stranger_rate, errors):
    print(f"\nFace check-in on real photos: {len(member_of)} members enrolled (2 photos each), {len(kept_out)} people kept out")
    print(f"  identified as the right member: {right}/{known} = {id_rate:.1%}  (target >= 98%)")
    print(f"  reported as strangers:          {strangers}/{unknown} = {stranger_rate:.1%}  (target >= 95%)")
    for e in errors:
        print("  miss:", e)
