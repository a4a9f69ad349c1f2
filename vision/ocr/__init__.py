"""Reading one line of text (card numbers, licence plates): seed section 7.

A CNN reads the line image; its feature map, read column by column along
the width, feeds two bidirectional GRU layers; a softmax over the alphabet
plus a blank gives one distribution per column, trained with the CTC loss
and decoded greedily (repeats merged, blanks dropped) or by beam search.

* :mod:`vision.ocr.text`: alphabets, label encoding, format rules (a card
  number's Luhn check digit, a plate pattern);
* :mod:`vision.ocr.decode`: greedy and beam-search decoding with per-character
  confidences, and the rule check in decoding;
* :mod:`vision.ocr.model`: the model and its input (a photo to a fixed-height
  grey line);
* :mod:`vision.ocr.synth`: seeded synthetic cards and plates;
* ``vision.training.ocr``: the training call (the shape every trainer shares).
"""
