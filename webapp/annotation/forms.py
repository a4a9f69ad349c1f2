from django import forms

from vision.detectors import DETECTORS
from webapp.core.forms import MultipleFileField, UploadField

DETECTOR_CHOICES = [(k, v[1]) for k, v in DETECTORS.items()]


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


class PreannotateForm(forms.Form):
    detector = forms.ChoiceField(choices=DETECTOR_CHOICES)
    min_score = forms.FloatField(initial=0.0, label="Minimum score",
                                 help_text="Detections scoring lower are dropped (higher: fewer, surer boxes).")
    skip_annotated = forms.BooleanField(required=False, initial=True, label="Skip photos already annotated")


class DetectForm(forms.Form):
    photo = UploadField(widget=forms.ClearableFileInput(attrs={"accept": "image/*"}))
    detector = forms.ChoiceField(choices=DETECTOR_CHOICES)
