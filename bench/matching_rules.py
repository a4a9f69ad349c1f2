"""Open-set decision rules on the enrolled (development) people only: prints figures, tests nothing.

Run from the repository root::

    .venv/bin/python bench/matching_rules.py [--per-member-slack 0.04,0.08,0.12]

Issue 18 asks which of the field's tools works for refusing strangers at a
check-in: the margin to the second-nearest member, score normalisation
against the gallery as a cohort, and per-member statistics from each member's
own samples. ``vision.matching`` implements the first two; this script
measures the third beside them, on the people the real-photo test enrols and
nothing else (``../shared/datasets/faces`` sorted by name, every fourth person
left out exactly as ``tests/workers/test_accuracy_real_photos.py`` leaves them
out: they are never read here).

Protocol: each development person is enrolled with their first three photos
that pass the enrolment check (``vision.faces.enrolment_face``, as the
enrolment job); each of their other photos is a probe, decided (a) against the
whole gallery (genuine: identified when it is that person, misidentified when
another member, missed when refused) and (b) against the gallery without that
person (leave-one-member-out impostor: a stranger who looks like the people
enrolled; refused or taken for a member). Faces as the kiosk reads them: the
largest face of the photo, ``vision.faces.detect_faces`` with HOG, upsample 1
on a 1600 px working copy (the product's defaults).

Per-member rule measured (user-specific thresholds, Jain & Ross, "Learning
user-specific parameters in a multibiometric system", ICIP 2002): a member is
accepted only under ``min(policy cut, own + slack)``, ``own`` being the largest
leave-one-out distance among that member's own samples (how far apart their
own photos already are), for a few ``slack`` values. Embeddings are cached in
``var/cache/eval/faces-dev.npz``.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
FACES = ROOT.parent / "shared" / "datasets" / "faces"
ENROL = 3  # webapp.checkin.models.MIN_SAMPLES (no Django here)


def _photos(person: Path) -> list[Path]:
    return sorted(person.glob("*.jpg"), key=lambda p: int(re.sub(r"\D", "", p.stem) or 0))


def _embed(people: list[Path], cache: Path) -> dict[str, list[tuple[str, np.ndarray | None, bool]]]:
    """``{person: [(file, largest face embedding or None, passes enrolment)]}``."""
    from vision import catalog
    from vision import faces as vfaces
    from vision.errors import VisionError

    catalog.setup()
    from vision.images import load_image

    cached = dict(np.load(cache, allow_pickle=True)["rows"].item()) if cache.exists() else {}
    out = {}
    for person in people:
        rows = []
        for p in _photos(person):
            key = f"{person.name}/{p.name}"
            if key not in cached:
                pixels = load_image(p).pixels
                found = sorted(vfaces.detect_faces(pixels, detector="hog", upsample=1, max_side=1600),
                               key=lambda f: f.area, reverse=True)
                try:
                    vfaces.enrolment_face(pixels, found)
                    ok = True
                except VisionError:
                    ok = False
                cached[key] = (found[0].embedding if found else None, ok)
                print(f"  embedded {key}", file=sys.stderr)
            emb, ok = cached[key]
            rows.append((key, emb, ok))
        out[person.name] = rows
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.savez(cache, rows=np.array(cached, dtype=object))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--per-member-slack", default="0.04,0.08,0.12")
    args = ap.parse_args()
    if not FACES.is_dir():
        print(f"{FACES} is missing: the shared datasets are needed", file=sys.stderr)
        return 2
    from vision.matching import POLICIES, Gallery

    people = sorted(p for p in FACES.iterdir() if p.is_dir() and not p.name.startswith("_"))
    held_out = {p.name for p in people[3::4]}
    dev = [p for p in people if p.name not in held_out]
    rows = _embed(dev, ROOT / "var" / "cache" / "eval" / "faces-dev.npz")
    enrolled, probes = {}, []
    for name, person_rows in rows.items():
        good = [e for _, e, ok in person_rows if ok][:ENROL]
        enrolled[name] = good
        used = 0
        for key, e, ok in person_rows:
            if ok and used < ENROL:
                used += 1
                continue
            if e is not None:
                probes.append((name, e))
    names = list(enrolled)
    emb = np.concatenate([np.stack(enrolled[n]) for n in names])
    labels = np.repeat(np.arange(len(names)), [len(enrolled[n]) for n in names])
    full = Gallery(emb, labels)
    without = {i: Gallery(emb[labels != i], labels[labels != i]) for i in range(len(names))}

    def own_spread(g: Gallery) -> dict:
        """Largest leave-one-out distance among each member's own samples."""
        d = np.linalg.norm(g.embeddings[:, None, :] - g.embeddings[None, :, :], axis=2)
        np.fill_diagonal(d, np.inf)
        member = np.repeat(np.arange(g.n_members), g._counts)
        out = {}
        for m in range(g.n_members):
            rows_m = np.flatnonzero(member == m)
            sub = d[np.ix_(rows_m, rows_m)]
            out[g.labels[m].item()] = float(np.min(sub, axis=1).max()) if len(rows_m) > 1 else np.inf
        return out

    spread_full = own_spread(full)
    spread_without = {i: own_spread(g) for i, g in without.items()}
    slacks = [None] + [float(s) for s in args.per_member_slack.split(",") if s]
    print(f"Development people only: {len(names)} enrolled with {ENROL} photos each, {len(probes)} probe photos "
          f"(genuine against the gallery; impostor against the gallery without that person). "
          f"{len(held_out)} people held out, not read.")
    print(f"own spread of members (largest leave-one-out own distance): "
          f"median {np.median(list(spread_full.values())):.3f}, max {max(spread_full.values()):.3f}")
    print(f"\n{'policy':<10}{'per-member rule':<22}{'identified':>11}{'misident.':>10}{'missed':>8}"
          f"{'refused':>9}{'taken (FAR)':>13}")
    for pname, policy in POLICIES.items():
        for slack in slacks:
            ident = mis = miss = refused = taken = 0
            for name, e in probes:
                i = names.index(name)
                for g, spreads, genuine in ((full, spread_full, True), (without[i], spread_without[i], False)):
                    m = g.decide(e[None, :], policy)[0]
                    label = m.label
                    if label is not None and slack is not None and m.distance > spreads[label] + slack:
                        label = None
                    if genuine:
                        ident += label == i
                        mis += label is not None and label != i
                        miss += label is None
                    else:
                        refused += label is None
                        taken += label is not None
            n = len(probes)
            rule = "none" if slack is None else f"own + {slack:.2f}"
            print(f"{pname:<10}{rule:<22}{ident / n:>10.1%}{mis:>10}{miss:>8}{refused / n:>9.1%}"
                  f"{taken:>6} ({taken / n:.1%})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
