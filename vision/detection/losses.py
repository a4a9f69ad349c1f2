"""The detector's training loss, as Keras functions of ``(y_true, y_pred)``.

``y_true``: ``(b, N, C + 6)`` from ``vision.detection.targets.encode``; ``y_pred``:
``(b, N, C + 5)`` from the head. Each function returns one scalar for the batch, normalised
by its positive locations (FCOS §3.1):

* classes: sigmoid focal loss, α = 0.25, γ = 2 (Lin et al. 2017, "Focal Loss for Dense
  Object Detection", eq. 5 and §5.1's defaults), summed over every location and class;
* boxes: generalised IoU loss ``1 − GIoU`` (Rezatofighi et al. 2019) of the side distances,
  weighted by the centre-ness target (FCOS' implementation);
* centre-ness: binary cross-entropy on the positives.
"""

from __future__ import annotations

FOCAL_ALPHA = 0.25
FOCAL_GAMMA = 2.0


def _split(num_classes, y_true, y_pred):
    from keras import ops

    c = num_classes
    pos = y_true[..., c + 5]
    npos = ops.maximum(ops.sum(pos), 1.0)
    return c, pos, npos, ops


def class_loss(num_classes: int):
    """Focal loss over all locations, divided by the positives (module docstring)."""
    def loss(y_true, y_pred):
        c, pos, npos, ops = _split(num_classes, y_true, y_pred)
        t, z = y_true[..., :c], y_pred[..., :c]
        p = ops.sigmoid(z)
        ce = ops.maximum(z, 0) - z * t + ops.log1p(ops.exp(-ops.abs(z)))  # stable BCE with logits
        p_t = p * t + (1 - p) * (1 - t)
        a_t = FOCAL_ALPHA * t + (1 - FOCAL_ALPHA) * (1 - t)
        return ops.sum(a_t * ops.power(1 - p_t, FOCAL_GAMMA) * ce) / npos
    loss.__name__ = "class_loss"
    return loss


def box_loss(num_classes: int):
    """``1 − GIoU`` on positive locations, centre-ness weighted (module docstring)."""
    def loss(y_true, y_pred):
        c, pos, npos, ops = _split(num_classes, y_true, y_pred)
        t, p = y_true[..., c:c + 4], y_pred[..., c:c + 4]
        w = y_true[..., c + 4] * pos
        area_t = (t[..., 0] + t[..., 2]) * (t[..., 1] + t[..., 3])
        area_p = (p[..., 0] + p[..., 2]) * (p[..., 1] + p[..., 3])
        iw = ops.maximum(ops.minimum(t[..., 0], p[..., 0]) + ops.minimum(t[..., 2], p[..., 2]), 0)
        ih = ops.maximum(ops.minimum(t[..., 1], p[..., 1]) + ops.minimum(t[..., 3], p[..., 3]), 0)
        inter = iw * ih
        union = area_t + area_p - inter
        iou = inter / ops.maximum(union, 1e-6)
        enclose = ((ops.maximum(t[..., 0], p[..., 0]) + ops.maximum(t[..., 2], p[..., 2]))
                   * (ops.maximum(t[..., 1], p[..., 1]) + ops.maximum(t[..., 3], p[..., 3])))
        giou = iou - (enclose - union) / ops.maximum(enclose, 1e-6)
        return ops.sum(w * (1 - giou)) / ops.maximum(ops.sum(w), 1e-6)
    loss.__name__ = "box_loss"
    return loss


def centerness_loss(num_classes: int):
    """Binary cross-entropy of the centre-ness logit on positive locations."""
    def loss(y_true, y_pred):
        c, pos, npos, ops = _split(num_classes, y_true, y_pred)
        t, z = y_true[..., c + 4], y_pred[..., c + 4]
        ce = ops.maximum(z, 0) - z * t + ops.log1p(ops.exp(-ops.abs(z)))
        return ops.sum(pos * ce) / npos
    loss.__name__ = "centerness_loss"
    return loss


def detection_loss(num_classes: int):
    """The total the optimiser minimises: class + box + centre-ness losses."""
    parts = (class_loss(num_classes), box_loss(num_classes), centerness_loss(num_classes))

    def loss(y_true, y_pred):
        return parts[0](y_true, y_pred) + parts[1](y_true, y_pred) + parts[2](y_true, y_pred)
    loss.__name__ = "detection_loss"
    return loss
