"""dlib pipeline on a few real photos from ../shared/datasets/faces."""

import subprocess
import sys

import numpy as np
import pytest

from tests.shared_data import REPO_ROOT, shared_path
from vision import faces
from vision.errors import FaceQualityError, NoFaceFoundError
from vision.images import load_image


def _img(*parts):
    return load_image(shared_path("datasets", "faces", *parts)).pixels


def test_one_face_box_landmarks_embedding():
    img = _img("Barack_Obama", "1.jpg")
    found = faces.detect_faces(img)
    assert len(found) == 1
    f = found[0]
    h, w = img.shape[:2]
    assert 0 <= f.box[0] < f.box[2] <= w and 0 <= f.box[1] < f.box[3] <= h
    assert f.embedding.shape == (128,) and f.embedding.dtype == np.float32
    assert f.landmarks.shape == (68, 2) and f.landmarks.dtype == np.int32
    # the nose tip (landmark 30) lies inside the face box
    x, y = f.landmarks[30]
    assert f.box[0] < x < f.box[2] and f.box[1] < y < f.box[3]
    assert 0.5 < np.linalg.norm(f.embedding) < 1.5


def test_functional_api_agrees_with_detect_faces():
    img = _img("Tony_Blair", "2.jpg")
    locs = faces.face_locations(img)
    boxes = [b for b, _ in locs]
    emb = faces.face_embeddings(img, boxes)
    lm = faces.face_landmarks(img, boxes)
    assert emb.shape == (len(boxes), 128) and lm.shape == (len(boxes), 68, 2)
    assert faces.face_embeddings(img, []).shape == (0, 128)


def test_same_person_close_different_people_far():
    a = faces.detect_faces(_img("George_W_Bush", "1.jpg"))[0].embedding
    b = faces.detect_faces(_img("George_W_Bush", "2.jpg"))[0].embedding
    c = faces.detect_faces(_img("Barack_Obama", "1.jpg"))[0].embedding
    assert np.linalg.norm(a - b) < 0.6 < np.linalg.norm(a - c)


def test_group_photo_finds_every_face_largest_first():
    found = faces.detect_faces(_img("_groups", "2007_007763.jpg"))
    assert len(found) >= 5
    areas = [f.area for f in found]
    assert areas == sorted(areas, reverse=True)


def test_no_face_photos():
    assert faces.detect_faces(_img("_no_face", "dogs.jpg")) == []
    with pytest.raises(NoFaceFoundError):
        faces.enrolment_face(np.zeros((10, 10, 3), np.uint8), [])


def test_enrolment_quality_checks():
    img = _img("_groups", "two_people.jpg")
    with pytest.raises(FaceQualityError) as err:
        faces.enrolment_face(img, faces.detect_faces(img))
    assert err.value.code == "several_faces"
    img = _img("Barack_Obama", "1.jpg")
    found = faces.detect_faces(img)
    assert faces.enrolment_face(img, found) is found[0]
    with pytest.raises(FaceQualityError, match="too small") as err:
        faces.enrolment_face(img, found, min_size=10_000)
    assert err.value.code == "face_too_small"
    # a heavily blurred copy is refused as blurry
    from PIL import Image, ImageFilter

    blurred = np.asarray(Image.fromarray(img).filter(ImageFilter.GaussianBlur(12)))
    with pytest.raises(FaceQualityError, match="blurry"):
        faces.enrolment_face(blurred, [found[0]])


def test_tiny_face_is_refused_for_enrolment():
    from PIL import Image

    img = _img("Barack_Obama", "1.jpg")
    small = np.asarray(Image.fromarray(img).resize((img.shape[1] // 8, img.shape[0] // 8)))
    found = faces.detect_faces(small, upsample=2)
    if found:  # found, but too small to enrol
        with pytest.raises(FaceQualityError, match="too small"):
            faces.enrolment_face(small, found)
    else:
        with pytest.raises(NoFaceFoundError):
            faces.enrolment_face(small, found)


def test_bad_arguments_are_refused():
    img = np.zeros((20, 20, 3), np.uint8)
    with pytest.raises(ValueError):
        faces.face_locations(img, detector="yolo")
    with pytest.raises(ValueError):
        faces.face_locations(img, upsample=9)
    with pytest.raises(ValueError):
        faces.face_locations(np.zeros((20, 20), np.uint8))


def test_exif_rotated_photo_box_in_corrected_coordinates(tmp_path):
    """A portrait stored rotated (EXIF orientation 6) is found after the
    loader rotates it, and the box lies in the rotated image."""
    from PIL import Image

    src = Image.open(shared_path("datasets", "faces", "Barack_Obama", "1.jpg"))
    stored = src.transpose(Image.Transpose.ROTATE_90)  # what a phone writes
    exif = Image.Exif()
    exif[0x0112] = 6
    p = tmp_path / "rotated.jpg"
    stored.save(p, exif=exif.tobytes())
    loaded = load_image(p)
    assert loaded.pixels.shape[:2] == (src.height, src.width)
    found = faces.detect_faces(loaded.pixels)
    assert len(found) == 1 and found[0].box[2] <= src.width and found[0].box[3] <= src.height


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "vision.faces", *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)


def test_cli_compare():
    d = shared_path("datasets", "faces")
    same = _cli("compare", str(d / "George_W_Bush" / "1.jpg"), str(d / "George_W_Bush" / "2.jpg"))
    assert same.returncode == 0 and same.stdout.startswith("Same person (distance 0.")
    two = _cli("compare", str(d / "George_W_Bush" / "1.jpg"), str(d / "Barack_Obama" / "1.jpg"))
    assert two.returncode == 0 and two.stdout.startswith("Two people (distance ")
    none = _cli("compare", str(d / "George_W_Bush" / "1.jpg"), str(d / "_no_face" / "dogs.jpg"))
    assert none.returncode == 1 and "No face found in" in none.stdout and "dogs.jpg" in none.stdout
    bad = _cli("compare", str(d / "George_W_Bush" / "1.jpg"), str(shared_path("bad-inputs", "I-17_html_named.jpg")))
    assert bad.returncode == 1 and "not an image" in bad.stdout and "I-17_html_named.jpg" in bad.stdout


def test_cnn_detector_option_finds_the_face():
    img = _img("George_W_Bush", "1.jpg")  # 250 x 250: the CNN detector is slow on a CPU, keep it small
    (box, score), = faces.face_locations(img, detector="cnn", upsample=0)
    hog_box = faces.face_locations(img)[0][0]
    ix = max(0, min(box[2], hog_box[2]) - max(box[0], hog_box[0]))
    iy = max(0, min(box[3], hog_box[3]) - max(box[1], hog_box[1]))
    union = (box[2] - box[0]) * (box[3] - box[1]) + (hog_box[2] - hog_box[0]) * (hog_box[3] - hog_box[1]) - ix * iy
    assert ix * iy / union > 0.4 and score > 0  # both detectors agree on where the face is


def test_large_photo_is_read_on_a_working_copy_with_boxes_in_its_own_pixels():
    from PIL import Image

    small = _img("Barack_Obama", "1.jpg")
    big = np.asarray(Image.fromarray(small).resize((small.shape[1] * 3, small.shape[0] * 3), Image.Resampling.LANCZOS))
    (ref,) = faces.detect_faces(small)
    (f,) = faces.detect_faces(big, max_side=max(small.shape[:2]))
    # the box lands on the same face, in the big photo's pixels (3x the small one's), within a few pixels
    np.testing.assert_allclose(np.array(f.box), np.array(ref.box) * 3, atol=12)
    assert f.landmarks.max() > small.shape[0] and np.linalg.norm(f.embedding - ref.embedding) < 0.1
    with pytest.raises(ValueError):
        faces.detect_faces(small, max_side=0)
