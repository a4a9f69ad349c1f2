"""COCO object-detection JSON (the ``instances_*.json`` layout of
https://cocodataset.org/#format-data): ``images``, ``annotations`` with
``bbox = [x, y, width, height]`` in pixels, ``categories``."""

from __future__ import annotations

import json
from typing import Collection, Iterable, Mapping

from vision.boxes import boxes_xywh_to_xyxy, boxes_xyxy_to_xywh
from vision.detection_io.common import Collector, ImageAnnotation, ParseResult, Problem, decode_text


def coco_json_build(images: Iterable[ImageAnnotation], classes: Iterable[tuple[int, str]]) -> dict:
    """A COCO instances dict: image ids from 1 in order, category ids = label-map ids.

    Raises:
        ValueError: a box's class is not in ``classes``.
    """
    cats = [{"id": int(cid), "name": name, "supercategory": ""} for cid, name in classes]
    by_name = {c["name"]: c["id"] for c in cats}
    out_images, anns = [], []
    for img_id, img in enumerate(images, 1):
        out_images.append({"id": img_id, "file_name": img.filename, "width": img.width, "height": img.height})
        for b in img.boxes:
            if b.label not in by_name:
                raise ValueError(f"Class {b.label!r} is not in the label map.")
            x, y, w, h = (round(float(v), 2) for v in boxes_xyxy_to_xywh([b.box])[0])
            anns.append({"id": len(anns) + 1, "image_id": img_id, "category_id": by_name[b.label],
                         "bbox": [x, y, w, h], "area": round(w * h, 2), "iscrowd": 0, "segmentation": []})
    return {"info": {"description": "Exported by the vision platform"}, "licenses": [],
            "images": out_images, "annotations": anns, "categories": cats}


def coco_json_read(data: bytes | str, *, sizes: Mapping[str, tuple[int, int]],
                   classes: Collection[str] | None = None) -> ParseResult:
    """Read and validate COCO JSON.

    Crowd regions (``iscrowd: 1``) are skipped with a notice: they mark a
    group, not one object. Unknown ``image_id``/``category_id``, a malformed
    ``bbox`` and the checks of :class:`Collector` are problems named
    "annotation id N" (fatal except a photo not in ``sizes``: skipped).
    """
    c = Collector(sizes=sizes, classes=classes)
    try:
        doc = json.loads(decode_text(data, "JSON file"))
    except ValueError as err:
        return ParseResult((), (Problem("file", f"Not valid JSON: {err}"),))
    if not isinstance(doc, dict) or not isinstance(doc.get("images"), list) or not isinstance(doc.get("annotations"), list):
        return ParseResult((), (Problem("file", "Not COCO JSON: it needs lists “images” and “annotations”."),))
    names, cats = {}, {}
    for im in doc["images"]:
        if isinstance(im, dict) and "id" in im:
            names[im["id"]] = str(im.get("file_name", ""))
            c.mention(f"image id {im['id']}", names[im["id"]], quiet=True)  # its annotations say if it is not there
    for cat in doc.get("categories") or []:
        if isinstance(cat, dict) and "id" in cat:
            cats[cat["id"]] = str(cat.get("name", ""))
    for k, ann in enumerate(doc["annotations"], 1):
        where = f"annotation id {ann.get('id', '?')}" if isinstance(ann, dict) else f"annotation {k}"
        if not isinstance(ann, dict):
            c.problem(where, "An annotation must be an object.")
            continue
        if ann.get("image_id") not in names:
            c.problem(where, f"Unknown image_id {ann.get('image_id')!r}.", field="image_id", code="unknown_image_id")
            continue
        if ann.get("category_id") not in cats:
            c.problem(where, f"Unknown category_id {ann.get('category_id')!r}.", field="category_id",
                      code="unknown_class")
            continue
        if ann.get("iscrowd"):
            c.problem(where, "A crowd region (iscrowd=1) was skipped.", fatal=False, code="crowd")
            continue
        bbox = ann.get("bbox")
        if not isinstance(bbox, list) or len(bbox) != 4 or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in bbox):
            c.problem(where, f"bbox must be four numbers [x, y, width, height]; got {str(bbox)[:60]}.", field="bbox",
                      code="invalid_box", row=(names[ann["image_id"]], "", "", "", "", cats[ann["category_id"]]))
            continue
        c.add(where, names[ann["image_id"]], boxes_xywh_to_xyxy([bbox])[0].tolist(), cats[ann["category_id"]])
    return c.result()
