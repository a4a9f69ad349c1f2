"""Ground truth for the detector evaluation: boxes from an ``annotations.csv``
are checked against the photo as displayed (EXIF orientation applied)."""

from __future__ import annotations

from PIL import Image

from webapp.annotation.evaluation import csv_ground_truth


def _jpeg(path, size, orientation=None):
    """A JPEG stored ``size`` = (width, height), optionally with an EXIF orientation tag."""
    path.parent.mkdir(parents=True, exist_ok=True)
    img = Image.new("RGB", size, (120, 60, 30))
    if orientation is None:
        img.save(path, "JPEG")
    else:
        exif = Image.Exif()
        exif[0x0112] = orientation
        img.save(path, "JPEG", exif=exif)


def test_csv_boxes_are_checked_in_the_exif_rotated_frame(tmp_path):
    # stored 40 wide x 20 high; orientation 6 (90° clockwise) displays it 20 x 40
    _jpeg(tmp_path / "photos" / "rotated.jpg", (40, 20), orientation=6)
    _jpeg(tmp_path / "photos" / "plain.jpg", (40, 20))
    (tmp_path / "annotations.csv").write_text(
        "filename,xmin,ymin,xmax,ymax,class\n"
        "photos/rotated.jpg,2,25,18,38,cat\n"   # below the stored height, inside the displayed photo
        "photos/rotated.jpg,5,5,30,10,dog\n"    # wider than the displayed photo: clipped to x = 20
        "photos/plain.jpg,30,2,39,18,cat\n")     # no EXIF: the stored frame
    photos, gt = csv_ground_truth(csv_path=tmp_path / "annotations.csv", prefix="photos/")
    assert [name for name, _ in photos] == ["photos/plain.jpg", "photos/rotated.jpg"]
    got = sorted((g.image, g.label, tuple(g.box)) for g in gt)
    assert got == [("photos/plain.jpg", "cat", (30, 2, 39, 18)),
                   ("photos/rotated.jpg", "cat", (2, 25, 18, 38)),
                   ("photos/rotated.jpg", "dog", (5, 5, 20, 10))]


def test_prefix_leaves_other_photos_out(tmp_path):
    _jpeg(tmp_path / "a" / "one.jpg", (30, 30), orientation=8)
    _jpeg(tmp_path / "b" / "two.jpg", (30, 30))
    (tmp_path / "annotations.csv").write_text(
        "filename,xmin,ymin,xmax,ymax,class\na/one.jpg,1,1,10,10,x\nb/two.jpg,1,1,10,10,x\n")
    photos, gt = csv_ground_truth(csv_path=tmp_path / "annotations.csv", prefix="a/")
    assert [n for n, _ in photos] == ["a/one.jpg"] and [g.image for g in gt] == ["a/one.jpg"]
