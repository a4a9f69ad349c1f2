from django import forms

from webapp.annotation.detectors import detector_choices
from webapp.core.forms import MultipleFileField, UploadField


class DetectorChoiceField(forms.ChoiceField):
    """Any detector ``user`` may run (``annotation.detectors.detector_choices``: the pretrained
    ones and the active trained detectors of the datasets they may open)."""

    def __init__(self, **kwargs):
        super().__init__(choices=[], error_messages={
            "invalid_choice": "There is no detector “%(value)s” you may use: it is unknown, deleted, not the active "
                              "version of its dataset, or on a dataset not shared with you.",
            "required": "Choose a detector."}, **kwargs)


class _DetectorForm(forms.Form):
    """A form with a ``detector`` field whose choices depend on the user."""

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["detector"].choices = detector_choices(user=user)


class DatasetCreateForm(forms.Form):
    name = forms.CharField(max_length=200)
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    classes = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 4}),
                              help_text="One class per line (its label-map id follows the order: 1, 2, 3…). "
                                        "Any letters, spaces, commas and quotes are fine.")

    def clean_classes(self):
        return [line.strip() for line in self.cleaned_data["classes"].splitlines() if line.strip()]


class ClassAddForm(forms.Form):
    name = forms.CharField(max_length=200, label="New class")


class AnnotatorAddForm(forms.Form):
    username = forms.CharField(max_length=150, label="Assign annotator (user name)")


class PhotosForm(forms.Form):
    photos = MultipleFileField(label="Photos", accept="image/*", required=False)
    archive = UploadField(label="…or a zip of photos", required=False,
                              widget=forms.ClearableFileInput(attrs={"accept": ".zip,application/zip"}))


class ImportForm(forms.Form):
    files = MultipleFileField(label="Annotation files",
                              help_text="annotations.csv, COCO .json, Pascal VOC .xml files (or a zip of them), "
                                        "optionally label_map.pbtxt.")
    add_classes = forms.BooleanField(required=False, label="Add unknown classes to the label map")
    replace = forms.BooleanField(required=False, label="Replace the boxes of the photos these files mention")
    all_or_nothing = forms.BooleanField(required=False, label="All or nothing",
                                        help_text="Import nothing if any row is refused (rows for photos not in "
                                                  "this dataset are skipped either way).")


class PreannotateForm(_DetectorForm):
    detector = DetectorChoiceField()
    min_score = forms.FloatField(required=False, label="Minimum score",
                                 help_text="Detections scoring lower are dropped (higher: fewer, surer boxes). "
                                           "Empty: the detector's own threshold (a trained detector's score with "
                                           "the best F1 on its validation photos, per class).")
    skip_annotated = forms.BooleanField(required=False, initial=True, label="Skip photos already annotated")


class DetectForm(_DetectorForm):
    photo = UploadField(widget=forms.ClearableFileInput(attrs={"accept": "image/*"}))
    detector = DetectorChoiceField()
