"""Form pieces shared by every app."""

from django import forms
from django.core.exceptions import ValidationError


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleImageField(forms.FileField):
    """Several files in one field (Django docs, "Uploading multiple files");
    each is checked by content later, one by one, so one bad photo does not
    refuse the others."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput(attrs={"accept": "image/*", "multiple": True}))
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        files = [d for d in (data if isinstance(data, (list, tuple)) else [data]) if d]
        if not files and self.required:
            raise ValidationError(self.error_messages["required"], code="required")
        return files
