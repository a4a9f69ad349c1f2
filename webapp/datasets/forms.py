from django import forms

from webapp.core.forms import MultipleImageField, UploadField
from webapp.datasets.models import Dataset


class DatasetForm(forms.ModelForm):
    class Meta:
        model = Dataset
        fields = ["name", "kind", "description", "validation_fraction", "split_seed"]
        widgets = {"description": forms.Textarea(attrs={"rows": 2})}

    def clean_validation_fraction(self):
        v = self.cleaned_data["validation_fraction"]
        if not 0.05 <= v <= 0.5:
            raise forms.ValidationError("Choose a validation share between 0.05 and 0.5 (the seed uses 0.3).")
        return v


class UploadForm(forms.Form):
    """Photos, or one zip (for classification: one folder per class)."""

    photos = MultipleImageField(required=False, label="Photos")
    archive = UploadField(required=False, label="…or a zip file",
                              widget=forms.ClearableFileInput(attrs={"accept": ".zip,application/zip"}))
    class_name = forms.CharField(required=False, max_length=200, label="Class of these photos",
                                 help_text="Classification datasets: the class of the photos uploaded one by one.")

    def clean(self):
        data = super().clean()
        chosen_but_refused = self.has_error("photos") or self.has_error("archive")  # its own error says why
        if not data.get("photos") and not data.get("archive") and not chosen_but_refused:
            raise forms.ValidationError("Choose some photos or a zip file.")
        return data
