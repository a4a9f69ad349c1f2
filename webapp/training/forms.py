from django import forms

from vision.cnn import KERNELS
from vision.training.classifier import DEFAULT_EPOCHS, SCRATCH_IMAGE_SIZE, ClassifierOptions
from vision.training.ocr import OcrOptions
from vision.training.transfer import TRANSFER_IMAGE_SIZES
from webapp.core.forms import UploadField
from webapp.datasets.models import Dataset
from webapp.registry.models import ModelVersion

_DEFAULTS = ClassifierOptions()  # the product's defaults: the job and bench/train.py use the same


class TrainForm(forms.Form):
    dataset = forms.ModelChoiceField(queryset=Dataset.objects.none())
    model_kind = forms.ChoiceField(choices=[("transfer", "Transfer learning (ImageNet backbone, recommended)"),
                                            ("scratch", "Small CNN from scratch (the seed's)")],
                                   initial=_DEFAULTS.model_kind)
    backbone = forms.ChoiceField(choices=[], initial=_DEFAULTS.backbone, required=False,
                                 help_text="Transfer only: the ImageNet network whose features the classifier "
                                           "learns from. A larger one takes longer to compute the features (once "
                                           "per photo, then cached) and to classify a photo.")
    epochs = forms.IntegerField(min_value=1, max_value=500, required=False,
                                help_text=f"Default {DEFAULT_EPOCHS['transfer']} (transfer) / "
                                          f"{DEFAULT_EPOCHS['scratch']} (scratch).")
    image_size = forms.IntegerField(min_value=48, max_value=640, required=False, label="Image size (px)",
                                    help_text=f"Default {SCRATCH_IMAGE_SIZE} px from scratch; "
                                              f"{TRANSFER_IMAGE_SIZES['efficientnet_lite0']} px for EfficientNet-Lite "
                                              "transfer (multiples of 32, 128–640: larger finds small subjects, smaller "
                                              "is faster; MobileNetV2, where its Keras weights file is installed, takes 224 px only).")
    patience = forms.IntegerField(min_value=1, max_value=100, initial=_DEFAULTS.patience,
                                  help_text="Stop after this many epochs without a better validation loss.")
    augment = forms.BooleanField(required=False, initial=_DEFAULTS.augment,
                                 help_text="From scratch: random flips, zoom, shifts and brightness while "
                                           "training. (Transfer fine-tuning always adds mirror images.)")
    fine_tune = forms.BooleanField(required=False, initial=_DEFAULTS.fine_tune, label="Fine-tune the top blocks",
                                   help_text="Transfer only: after the head, train the backbone's top blocks too, at a low "
                                             "learning rate. A point or two more on hard photo sets, none on easy ones "
                                             "(measured); two to five minutes per 250 photos on a CPU instead of seconds. "
                                             "The frozen model is kept if it does not help.")

    def __init__(self, *args, datasets=None, backbones=(), **kwargs):
        """``backbones``: the ``BackboneSpec`` s whose weights are here (``webapp.core.backbones``)."""
        super().__init__(*args, **kwargs)
        self.fields["dataset"].queryset = datasets if datasets is not None else Dataset.objects.none()
        # the cost without the ImageNet input side: transfer runs every backbone at the image size below
        self.fields["backbone"].choices = [(s.name, f"{s.label} — {s.cost.split(' px, ', 1)[-1]}") for s in backbones
                                           if s.name in TRANSFER_IMAGE_SIZES]


class PhotoForm(forms.Form):
    photo = UploadField(widget=forms.ClearableFileInput(attrs={"accept": "image/*"}))


class ActivationsForm(PhotoForm):
    layer = forms.ChoiceField(choices=[])

    def __init__(self, *args, layers=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["layer"].choices = [(n, n) for n in layers]


class PlaygroundForm(forms.Form):
    photo = UploadField(required=False, widget=forms.ClearableFileInput(attrs={"accept": "image/*"}),
                            help_text="Leave empty to use the seed's 8×8 square.")
    kernel = forms.ChoiceField(choices=[(k, k.replace("_", " ").capitalize()) for k in KERNELS] + [("custom", "Custom…")])
    custom = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 5, "cols": 24}),
                             help_text="3×3 or 5×5 numbers, one row per line.")
    padding = forms.ChoiceField(choices=[("valid", "valid"), ("same", "same")])
    stride = forms.IntegerField(min_value=1, max_value=4, initial=1)
    relu_offset = forms.FloatField(initial=0, required=False, label="ReLU offset", min_value=-1e6, max_value=1e6)
    pooling = forms.ChoiceField(choices=[("max", "Max pooling 2×2"), ("average", "Average pooling 2×2"), ("none", "No pooling")])


class EmbeddingForm(forms.Form):
    """Learn a similarity embedding from a classification dataset's classes (``vision.training.ranking``)."""

    dataset = forms.ModelChoiceField(queryset=Dataset.objects.none(),
                                     help_text="Each class is a group of photos that count as “the same”. At least "
                                               "four classes: half are held out to check the embedding on groups it "
                                               "never saw.")
    epochs = forms.IntegerField(min_value=0, max_value=500, initial=0, label="Triplet epochs",
                                help_text="0 (default): learned whitening alone, seconds once the photos' features are "
                                          "cached. Triplet epochs (Deep Ranking) train further and are kept only if "
                                          "they retrieve better on the held-out groups; measured on 12 flower species "
                                          "they did not, so try them on sets with many groups.")
    mining = forms.ChoiceField(choices=[("semi-hard", "Semi-hard negatives in each batch (FaceNet)"),
                                        ("random", "Random triplets")], initial="semi-hard", label="Negatives",
                               help_text="Triplet epochs only.")
    architecture = forms.ChoiceField(
        choices=[("projection", "A head on the backbone's features (fast)"),
                 ("multiscale", "+ the seed's two shallow multi-scale channels on the pixels")],
        initial="projection", required=False, label="Model",
        help_text="The head alone is the default: it trains in seconds on cached features. The shallow channels "
                  "(Deep Ranking) see colour and texture at two small scales and are learned in triplet epochs, so "
                  "they need at least one; on 12 flower species they added 0.3 points of MAP@R, within chance.")

    def clean(self):
        data = super().clean()
        if data.get("architecture") == "multiscale" and not data.get("epochs"):
            self.add_error("epochs", "The multi-scale channels are learned in triplet epochs: choose at least one.")
        return data

    def __init__(self, *args, datasets=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["dataset"].queryset = datasets if datasets is not None else Dataset.objects.none()


class ReaderChoiceField(forms.ModelChoiceField):
    """A text-line reader version, named with its dataset (two datasets' readers share names)."""

    def label_from_instance(self, obj):
        return f"{obj.dataset or '(deleted dataset)'} · {obj.name} v{obj.version}"


#: What each reader preset (``webapp.training.services.OCR_PRESETS``) reads, for the form.
OCR_PRESET_CHOICES = [
    ("card_line", "Card-number lines: tight crops of the 16 digits (digits only, Luhn check)"),
    ("card_whole", "Whole cards as photographed, the seed's 512×384 (the reader finds the number's line itself)"),
    ("plate", "Licence plates: A–Z and 0–9, up to 10 characters (optional pattern)"),
]


class OcrForm(forms.Form):
    """Train a text-line reader on a text-lines dataset (``vision.training.ocr``)."""

    dataset = forms.ModelChoiceField(queryset=Dataset.objects.none(),
                                     help_text="A text-lines dataset: one photo per line, with its text (from "
                                               "labels.csv or the file names). Its validation share is held out to "
                                               "measure the reader.")
    preset = forms.ChoiceField(choices=OCR_PRESET_CHOICES, initial="card_line", label="Reads",
                               help_text="Card lines: 32×320 px input, grey, keeping the line's proportions. Whole "
                                         "cards: stretched to 96×256 px, as the seed feeds its cards. Plates: 64×128 "
                                         "px. Labels with other characters than the preset reads are skipped and "
                                         "listed on the reader's page.")
    epochs = forms.IntegerField(min_value=1, max_value=500, initial=OcrOptions.epochs, label="Epochs (at most)",
                                help_text=f"Stops earlier after {OcrOptions.patience} epochs without a better "
                                          "validation full-line accuracy; the best epoch is kept.")
    pattern = forms.CharField(required=False, max_length=200, label="Plate pattern",
                              help_text="Plates only, optional: a regular expression the whole plate must match, "
                                        "e.g. [A-Z]{3}[0-9]{4}. A reading that does not match is flagged and a "
                                        "matching candidate offered, never changed.")
    base = ReaderChoiceField(queryset=ModelVersion.objects.none(), required=False, label="Fine-tune from",
                             empty_label="Nothing: a new reader",
                             help_text="An active reader trained with the same preset (say on 1,000 synthetic "
                                       "cards): it is the start, so a few dozen of your own lines adapt it.")

    def __init__(self, *args, datasets=None, readers=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["dataset"].queryset = datasets if datasets is not None else Dataset.objects.none()
        self.fields["base"].queryset = readers if readers is not None else ModelVersion.objects.none()


class ReadForm(PhotoForm):
    """Read the text line of one photo with a reader (``POST /api/ocr`` takes the same fields)."""

    field_order = ["model_version_id", "photo", "pattern"]
    model_version_id = ReaderChoiceField(queryset=ModelVersion.objects.none(), empty_label=None, label="Reader",
                                         error_messages={"invalid_choice": "There is no text-line reader with this "
                                                                           "id that you may use."})
    pattern = forms.CharField(required=False, max_length=200, label="Plate pattern",
                              help_text="Optional: a regular expression the whole text must match, checked "
                                        "instead of the reader's own rule, e.g. [A-Z]{3}[0-9]{4}.")

    def __init__(self, *args, readers=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["model_version_id"].queryset = readers if readers is not None else ModelVersion.objects.none()
