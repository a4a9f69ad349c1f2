"""Trainable single-stage object detector (issue 15; seed section 5).

* :mod:`.model` — the network: an EfficientNet-Lite backbone's stride 8/16/32
  maps, a light FPN and an FCOS-style anchor-free head shared across levels.
* :mod:`.targets` — which locations answer for which box (FCOS assignment).
* :mod:`.losses` — focal loss, IoU loss and centre-ness, as Keras losses.
* :mod:`.decode` — head outputs to boxes in photo pixels, per-class NMS.
* :mod:`.augment` — flip, scale-and-crop and colour jitter that move the boxes
  with the pixels, seeded.

Training (:func:`vision.training.detector.detector_train`) and the result's
save/load live with the other trainers. No Django here.
"""
