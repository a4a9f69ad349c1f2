from django import forms

from vision.detection.model import INPUT_SIZES
from vision.training.detector import DetectorOptions
from webapp.datasets.models import Dataset

_DEFAULTS = DetectorOptions()  # the product's defaults, one place (vision.training.detector)

#: What each input size costs and finds, for the form (relative to the default 320 px: pixels per photo).
_SIZE_WORDS = {256: "fastest, larger objects only", 320: "default", 384: "", 416: "finds smaller objects, slower",
               448: "finds smaller objects, slower", 512: "finds the smallest objects, slowest"}


class DetectorForm(forms.Form):
    """Train an object detector on a detection dataset's boxes (``vision.training.detector``)."""

    dataset = forms.ModelChoiceField(queryset=Dataset.objects.none(),
                                     help_text="A detection dataset: its finished photos (an accepted box or "
                                               "“No objects”, no machine box left to review) are used.")
    backbone = forms.ChoiceField(choices=[], initial=_DEFAULTS.backbone,
                                 help_text="The ImageNet network under the detector: a larger one is more accurate "
                                           "and slower to train and to run.")
    input_size = forms.TypedChoiceField(
        coerce=int, initial=_DEFAULTS.input_size, label="Input size (px)",
        choices=[(s, f"{s} px{f' ({w})' if w else ''}") for s, w in ((s, _SIZE_WORDS.get(s, "")) for s in INPUT_SIZES)],
        help_text="Each photo is resized to this square. 416 or 512 px find smaller objects, at about 1.7× / 2.6× "
                  "the time of 320 px to train and to detect.")
    epochs = forms.IntegerField(min_value=1, max_value=300, initial=_DEFAULTS.epochs, label="Epochs (at most)",
                                help_text=f"Stops earlier after {_DEFAULTS.patience} epochs without a better validation "
                                          "mAP@0.5; the best epoch is kept. The backbone's maps are computed once, "
                                          "so an epoch takes about 15 s per 100 photos at 320 px on 2 CPU cores.")
    fine_tune_epochs = forms.IntegerField(min_value=0, max_value=100, initial=_DEFAULTS.fine_tune_epochs,
                                          label="Fine-tuning epochs",
                                          help_text="0 (default): the backbone stays as ImageNet trained it. Then "
                                                    "its last stage is trained too, at a low learning rate, on fresh "
                                                    "augmented photos: minutes per epoch on a CPU; kept only if it "
                                                    "beats the head's validation mAP.")

    def __init__(self, *args, datasets=None, backbones=(), **kwargs):
        """``backbones``: the EfficientNet-Lite ``BackboneSpec`` s whose weights are here."""
        super().__init__(*args, **kwargs)
        self.fields["dataset"].queryset = datasets if datasets is not None else Dataset.objects.none()
        # the spec's cost without its ImageNet input side: the detector runs it at the input size below
        self.fields["backbone"].choices = [(s.name, f"{s.label} — {s.cost.split(' px, ', 1)[-1]}") for s in backbones]
