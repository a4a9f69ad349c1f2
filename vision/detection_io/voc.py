"""Pascal VOC XML, one file per photo (the layout of the VOC devkit's
``Annotations/*.xml`` and of labelImg).

Coordinates are written as this platform's pixel edges (``vision.boxes``),
like labelImg and the TF Object Detection API's ``create_pascal_tf_record.py``
read them; the devkit's 1-based inclusive corners are not converted.
Parsed with the standard library's ElementTree: it resolves no external
entities, and expat ≥ 2.4.1 refuses entity-expansion bombs (Python docs,
"XML vulnerabilities").
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Collection, Iterable, Mapping

from vision.boxes import coordinate_text
from vision.detection_io.common import Collector, ImageAnnotation, ParseResult


def voc_xml_bytes(image: ImageAnnotation, *, folder: str = "images", database: str = "Vision platform") -> bytes:
    """One photo's annotation as VOC XML (UTF-8 bytes with a declaration)."""
    root = ET.Element("annotation")
    ET.SubElement(root, "folder").text = folder
    ET.SubElement(root, "filename").text = image.filename
    ET.SubElement(ET.SubElement(root, "source"), "database").text = database
    size = ET.SubElement(root, "size")
    ET.SubElement(size, "width").text = str(image.width)
    ET.SubElement(size, "height").text = str(image.height)
    ET.SubElement(size, "depth").text = "3"
    ET.SubElement(root, "segmented").text = "0"
    for b in image.boxes:
        obj = ET.SubElement(root, "object")
        ET.SubElement(obj, "name").text = b.label
        ET.SubElement(obj, "pose").text = "Unspecified"
        ET.SubElement(obj, "truncated").text = "0"
        ET.SubElement(obj, "difficult").text = "0"
        bb = ET.SubElement(obj, "bndbox")
        for tag, v in zip(("xmin", "ymin", "xmax", "ymax"), b.box):
            ET.SubElement(bb, tag).text = coordinate_text(v)
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def voc_xml_read(files: Iterable[tuple[str, bytes]], *, sizes: Mapping[str, tuple[int, int]],
                 classes: Collection[str] | None = None) -> ParseResult:
    """Read VOC XML files.

    Args:
        files: ``(xml_name, xml_bytes)`` pairs; ``xml_name`` only names problems.
        sizes, classes: as in :func:`vision.detection_io.csv_format.annotations_csv_read`.

    Returns:
        Boxes and problems ("a.xml, object 2: ..."); malformed XML, a missing
        ``filename``, ``name`` or coordinate are fatal problems; the objects
        of a photo not in ``sizes`` are skipped (warnings).
    """
    c = Collector(sizes=sizes, classes=classes)
    for xml_name, data in files:
        try:
            root = ET.fromstring(data)
        except ET.ParseError as err:
            c.problem(xml_name, f"Not valid XML ({err}).")
            continue
        if root.tag != "annotation":
            c.problem(xml_name, "Not a Pascal VOC annotation (the root element must be <annotation>).")
            continue
        filename = (root.findtext("filename") or "").strip()
        folder_path = (root.findtext("path") or "").strip()
        if not c.index.resolve(filename).matched and c.index.resolve(folder_path).matched:
            filename = folder_path
        if not filename:
            c.problem(xml_name, "The <filename> is missing.", field="filename", code="empty_filename")
            continue
        c.mention(xml_name, filename, quiet=True)  # its objects say if the photo is not there
        for i, obj in enumerate(root.findall("object"), 1):
            where = f"{xml_name}, object {i}"
            bb = obj.find("bndbox")
            if bb is None:
                c.problem(where, "The object has no <bndbox>.")
                continue
            c.add(where, filename, [bb.findtext(t) or "" for t in ("xmin", "ymin", "xmax", "ymax")],
                  obj.findtext("name") or "")
    return c.result()
