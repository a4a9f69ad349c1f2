import io
import json

import numpy as np
import pytest
from PIL import Image

from vision.detection_io import ImageAnnotation, LabeledBox
from vision.detection_io.coco import coco_json_build, coco_json_read
from vision.detection_io.csv_format import annotations_csv_read, annotations_csv_text
from vision.detection_io.label_map import label_map_parse, label_map_pbtxt
from vision.detection_io.photos import photo_for_export
from vision.detection_io.voc import voc_xml_bytes, voc_xml_read

ODD_NAMES = ["face", "red car, parked", 'say "cheese"', "l'arbre", "chữ Việt", "собака", "猫", "  spaced name"]
SIZES = {"a.jpg": (100, 80), "dir/b ,x.png": (640, 480)}


def _images():
    return [
        ImageAnnotation("a.jpg", 100, 80, (LabeledBox((1, 2, 30.5, 40), ODD_NAMES[1]), LabeledBox((0, 0, 100, 80), ODD_NAMES[2]))),
        ImageAnnotation("dir/b ,x.png", 640, 480, tuple(LabeledBox((i, i, i + 10.25, i + 20), n) for i, n in enumerate(ODD_NAMES))),
    ]


def _boxes(images):
    return sorted((i.filename, tuple(round(v, 2) for v in b.box), b.label) for i in images for b in i.boxes)


def test_csv_round_trip_with_awkward_class_names():
    text = annotations_csv_text(_images())
    assert text.startswith("filename,xmin,ymin,xmax,ymax,class\r\n")
    assert '"red car, parked"' in text and '"say ""cheese"""' in text  # RFC 4180 quoting
    back = annotations_csv_read(text.encode("utf-8"), sizes=SIZES)
    assert back.ok, back.problems
    # names are stripped on import, so the spaced name comes back stripped
    expected = [(f, b, n.strip()) for f, b, n in _boxes(_images())]
    assert _boxes(back.images) == sorted(expected)


def test_csv_bom_and_mixed_line_endings():
    data = "\ufefffilename,xmin,ymin,xmax,ymax,class\r\na.jpg,1,2,3,4,x\na.jpg,5,6,7,8,y\r\n\r\n".encode("utf-8")
    r = annotations_csv_read(data, sizes=SIZES)
    assert r.ok and r.n_boxes == 2


def test_csv_validation_per_line():
    data = ("filename,xmin,ymin,xmax,ymax,class\n"
            "a.jpg,-5,10,50,90,cat\n"        # line 2: clipped (notice)
            "a.jpg,10,10,10,20,cat\n"        # line 3: empty
            "a.jpg,200,10,300,20,cat\n"      # line 4: wholly outside
            "a.jpg,ten,10,20,20,cat\n"       # line 5: non-numeric
            "nope.jpg,1,1,2,2,cat\n"         # line 6: photo not in the dataset (skipped, a warning)
            "a.jpg,1,1,2,2,dog\n"            # line 7: unknown class
            "a.jpg,1,1,2,2,cat,extra\n"      # line 8: wrong field count
            "a.jpg,5,9,20,3,cat\n")          # line 9: inverted (ymin > ymax)
    r = annotations_csv_read(data, sizes=SIZES, classes={"cat"})
    assert not r.ok
    assert [p.where for p in r.errors] == ["line 3", "line 4", "line 5", "line 7", "line 8", "line 9"]
    assert [p.field for p in r.errors] == ["xmin, xmax", "xmin, ymin, xmax, ymax", "xmin", "class", "", "ymin, ymax"]
    assert [p.code for p in r.errors] == ["invalid_box"] * 3 + ["unknown_class", "field_count", "invalid_box"]
    assert [(p.where, p.code, p.field) for p in r.notices] == [("line 2", "clipped", "xmin, ymax"),
                                                               ("line 6", "photo_not_in_dataset", "filename")]
    assert "clipped" in r.notices[0].message and "photo not in this dataset" in r.notices[1].message
    assert "empty" in r.errors[0].message and "outside" in r.errors[1].message
    assert "not a number" in r.errors[2].message and "Unknown class" in r.errors[3].message
    assert r.images[0].boxes[0].box == (0, 10, 50, 80)
    # each refused row keeps the text it was written with, in HEADER order
    assert r.errors[2].row == ("a.jpg", "ten", "10", "20", "20", "cat")
    assert r.errors[4].row == ("a.jpg", "1", "1", "2", "2", "cat,extra")


def test_photo_names_match_with_or_without_folders_either_slash_and_hint_at_case():
    from vision.detection_io.names import PhotoIndex

    idx = PhotoIndex([("raccoon-1.jpg", 100, 80), ("Raccoon-2.jpg", 90, 60), ("set/a/x.jpg", 10, 10),
                      ("set/b/x.jpg", 10, 10), ("twice.jpg", 5, 5), ("twice.jpg", 5, 5)])
    got = {n: (m.how, m.name, m.candidates) for n in
           ["raccoon-1.jpg", "images/raccoon-1.jpg", "images\\raccoon-1.jpg", "./raccoon-1.jpg", "a/x.jpg",
            "other/a/x.jpg", "x.jpg", "twice.jpg", "raccoon-2.jpg", "IMAGES\\RACCOON-1.JPG", "raccoon-3.jpg"]
           for m in [idx.resolve(n)]}
    assert got == {
        "raccoon-1.jpg": ("exact", "raccoon-1.jpg", ()),
        "images/raccoon-1.jpg": ("base_name", "raccoon-1.jpg", ()),
        "images\\raccoon-1.jpg": ("base_name", "raccoon-1.jpg", ()),
        "./raccoon-1.jpg": ("exact", "raccoon-1.jpg", ()),
        "a/x.jpg": ("suffix", "set/a/x.jpg", ()),             # its folders agree with the photo's
        "other/a/x.jpg": ("base_name", "set/a/x.jpg", ()),
        "x.jpg": ("ambiguous", None, ("set/a/x.jpg", "set/b/x.jpg")),
        "twice.jpg": ("ambiguous", None, ("twice.jpg", "twice.jpg")),
        "raccoon-2.jpg": ("case", None, ("Raccoon-2.jpg",)),
        "IMAGES\\RACCOON-1.JPG": ("case", None, ("raccoon-1.jpg",)),
        "raccoon-3.jpg": ("missing", None, ()),
    }
    assert dict(idx) == {"raccoon-1.jpg": (100, 80), "Raccoon-2.jpg": (90, 60), "set/a/x.jpg": (10, 10),
                         "set/b/x.jpg": (10, 10), "twice.jpg": (5, 5)}


def test_csv_names_case_hint_folder_warning_and_the_photos_own_name():
    from vision.detection_io.names import PhotoIndex

    idx = PhotoIndex([("Raccoon-1.jpg", 100, 80), ("raccoon-2.jpg", 100, 80), ("a/x.jpg", 9, 9), ("b/x.jpg", 9, 9)])
    data = ("filename,xmin,ymin,xmax,ymax,class\n"
            "images\\raccoon-2.jpg,1,2,30,40,raccoon\n"   # line 2: folders dropped: a warning, kept
            "raccoon-1.jpg,1,2,30,40,raccoon\n"           # line 3: case only: refused, with the hint
            "x.jpg,1,1,5,5,raccoon\n")                    # line 4: two photos fit: refused
    r = annotations_csv_read(data, sizes=idx)
    assert [(i.filename, len(i.boxes)) for i in r.images] == [("raccoon-2.jpg", 1)]
    assert [(p.where, p.code, p.fatal) for p in r.problems] == [
        ("line 2", "matched_by_base_name", False), ("line 3", "name_case", True), ("line 4", "ambiguous_name", True)]
    assert "did you mean “Raccoon-1.jpg”" in r.problems[1].message and r.problems[1].field == "filename"
    assert "“a/x.jpg”, “b/x.jpg”" in r.problems[2].message


def test_refused_rows_csv_can_be_fixed_and_read_again():
    from vision.detection_io.csv_format import refused_rows_csv_text

    data = ("filename,xmin,ymin,xmax,ymax,class\n"
            "a.jpg,1,1,5,5,red car, parked\n"     # line 2: unquoted comma
            "a.jpg,1,1,5,oops,cat\n"              # line 3: non-numeric
            "a.jpg,1,1,5,5,cat\n")                # line 4: fine
    r = annotations_csv_read(data, sizes=SIZES)
    text = refused_rows_csv_text(r.problems)
    lines = text.splitlines()
    assert lines[0] == "filename,xmin,ymin,xmax,ymax,class,source,field,problem"
    assert lines[1].startswith('a.jpg,1,1,5,5,"red car, parked",line 2,,"Expected 6 fields, found 7')
    assert lines[2].startswith("a.jpg,1,1,5,oops,cat,line 3,ymax,") and len(lines) == 3
    # the extra columns are ignored on import: fix the coordinate, import the file again
    again = annotations_csv_read(text.replace("5,oops", "5,9"), sizes=SIZES)
    assert again.ok and sorted(b.label for i in again.images for b in i.boxes) == ["cat", "red car, parked"]


def test_voc_and_coco_skip_photos_not_in_the_dataset_with_a_warning():
    doc = coco_json_build(_images(), list(enumerate(ODD_NAMES, 1)))
    only_a = {"a.jpg": (100, 80)}
    r = coco_json_read(json.dumps(doc), sizes=only_a)
    assert r.ok and [i.filename for i in r.images] == ["a.jpg"] and r.n_boxes == 2
    assert len(r.notices) == len(ODD_NAMES) and {p.code for p in r.notices} == {"photo_not_in_dataset"}
    files = [(f"{i}.xml", voc_xml_bytes(img)) for i, img in enumerate(_images())]
    r = voc_xml_read(files, sizes=only_a)
    assert r.ok and r.n_boxes == 2 and len(r.notices) == len(ODD_NAMES)
    assert r.notices[0].where == "1.xml, object 1" and r.notices[0].row[0] == "dir/b ,x.png"


def test_csv_bad_header_and_bad_encoding():
    assert "first line" in annotations_csv_read(b"a,b,c\n", sizes=SIZES).errors[0].message
    assert "UTF-8" in annotations_csv_read(b"filename,xmin\n\xff\xfe\xff", sizes=SIZES).errors[0].message


def test_label_map_round_trip_and_escaping():
    classes = list(enumerate(ODD_NAMES + ["back\\slash", "it's"], 1))
    text = label_map_pbtxt(classes)
    assert "item {\n  id: 1\n  name: 'face'\n}\n" in text
    assert r"name: 'l\'arbre'" in text
    assert label_map_parse(text) == classes


def test_label_map_reads_other_writers_and_refuses_bad_files():
    text = '# comment\nitem {\n name: "a" id: 2 display_name: "A"\n}\nitem { id: 3 name: \'\\347\\214\\253\' }'
    assert label_map_parse(text) == [(2, "a"), (3, "猫")]
    for bad in ["item { id: 0 name: 'x' }", "item { id: 1 name: 'x' } item { id: 1 name: 'y' }",
                "item { id: 1 }", "item { id: 1 name: 'x' ", "thing"]:
        with pytest.raises(ValueError):
            label_map_parse(bad)
    with pytest.raises(ValueError):
        label_map_pbtxt([(0, "x")])


def test_voc_round_trip():
    files = [(f"{i}.xml", voc_xml_bytes(img)) for i, img in enumerate(_images())]
    assert b"<name>red car, parked</name>" in files[0][1]
    back = voc_xml_read(files, sizes=SIZES)
    assert back.ok, back.problems
    assert _boxes(back.images) == sorted((f, b, n.strip()) for f, b, n in _boxes(_images()))


def test_voc_bad_files():
    bad = [("broken.xml", b"<annotation><filename>a.jpg</filename>"),
           ("other.xml", b"<html/>"),
           ("box.xml", b"<annotation><filename>a.jpg</filename><object><name>x</name>"
                       b"<bndbox><xmin>5</xmin><ymin>5</ymin><xmax>1</xmax><ymax>9</ymax></bndbox></object></annotation>"),
           ("entity.xml", b'<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
                          b"<annotation><filename>a.jpg</filename><object><name>&x;</name></object></annotation>")]
    r = voc_xml_read(bad, sizes=SIZES)
    wheres = [p.where for p in r.errors]
    assert wheres[:3] == ["broken.xml", "other.xml", "box.xml, object 1"]
    assert "entity.xml" in wheres[3]  # external entity: refused, never read


def test_coco_round_trip_and_validation():
    classes = list(enumerate(ODD_NAMES, 1))
    doc = coco_json_build(_images(), classes)
    assert doc["annotations"][0]["bbox"] == [1, 2, 29.5, 38]
    back = coco_json_read(json.dumps(doc, ensure_ascii=False).encode(), sizes=SIZES)
    assert back.ok, back.problems
    assert _boxes(back.images) == sorted((f, b, n.strip()) for f, b, n in _boxes(_images()))
    doc["annotations"] += [
        {"id": 900, "image_id": 1, "category_id": 1, "bbox": [1, 1, 5, 5], "iscrowd": 1},
        {"id": 901, "image_id": 77, "category_id": 1, "bbox": [1, 1, 5, 5]},
        {"id": 902, "image_id": 1, "category_id": 99, "bbox": [1, 1, 5, 5]},
        {"id": 903, "image_id": 1, "category_id": 1, "bbox": ["1", 1, 5, 5]},
        {"id": 904, "image_id": 1, "category_id": 1, "bbox": [1, 1, 0, 5]},
    ]
    r = coco_json_read(json.dumps(doc), sizes=SIZES)
    assert [p.where for p in r.errors] == [f"annotation id {i}" for i in (901, 902, 903, 904)]
    assert "crowd" in r.notices[0].message
    assert coco_json_read(b"{not json", sizes=SIZES).errors[0].where == "file"


def _png(mode="RGB", size=(20, 10), exif_orientation=None, fmt="PNG"):
    im = Image.new(mode, size)
    buf = io.BytesIO()
    kw = {}
    if exif_orientation:
        exif = Image.Exif()
        exif[0x0112] = exif_orientation
        kw["exif"] = exif
    im.save(buf, fmt, **kw)
    return buf.getvalue()


def test_photo_for_export():
    data = _png()
    assert photo_for_export(data, max_pixels=10**6) == (data, "png")
    rotated = _png(fmt="JPEG", exif_orientation=6)
    out, fmt = photo_for_export(rotated, max_pixels=10**6)
    assert fmt == "jpeg" and out != rotated
    assert Image.open(io.BytesIO(out)).size == (10, 20)  # rotated as the boxes see it
    out, fmt = photo_for_export(_png(fmt="BMP"), max_pixels=10**6)
    assert fmt == "jpeg"


def test_tfrecord_round_trip(tmp_path):
    from vision.detection_io.tfrecord import FEATURE_KEYS, tf_example_bytes, tfrecords_read, tfrecords_write

    classes = {n: i for i, n in enumerate(ODD_NAMES, 1)}
    enc = _png(size=(640, 480))
    examples = []
    for img in _images() * 3:
        examples.append(tf_example_bytes(
            encoded=enc, image_format="png", filename=img.filename, source_id=img.filename, width=img.width,
            height=img.height, boxes=[b.box for b in img.boxes], labels=[b.label for b in img.boxes],
            label_ids=[classes[b.label] for b in img.boxes]))
    paths, n = tfrecords_write(iter(examples), prefix=tmp_path / "train.record", num_shards=4)
    assert n == 6 and [p.name for p in paths][0] == "train.record-00000-of-00004"
    back = tfrecords_read(paths)
    assert len(back) == 6
    got = sorted((r["filename"], tuple(round(v * (r["width"], r["height"])[k % 2], 2) for k, v in enumerate(b)), t, i)
                 for r in back for b, t, i in zip(r["boxes"], r["labels"], r["label_ids"]))
    want = sorted((img.filename, tuple(round(v, 2) for v in b.box), b.label, classes[b.label])
                  for img in _images() * 3 for b in img.boxes)
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert g[0] == w[0] and g[2:] == w[2:] and np.allclose(g[1], w[1], atol=0.02)
    assert back[0]["format"] == "png" and back[0]["encoded"] == enc
    import tensorflow as tf
    raw = next(iter(tf.data.TFRecordDataset([str(paths[0])])))
    keys = set(tf.train.Example.FromString(raw.numpy()).features.feature)
    assert keys == set(FEATURE_KEYS)
