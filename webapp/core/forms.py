"""Form pieces shared by every app."""

from django import forms
from django.core.exceptions import ValidationError


class UploadField(forms.FileField):
    """Django's ``FileField`` saying "empty" the way the upload checks do
    (``vision.images``), so one empty file reads the same on every form."""

    default_error_messages = {"empty": "The file is empty (0 bytes)."}


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(UploadField):
    """Several files in one field (Django docs, "Uploading multiple files");
    each is checked by content later, one by one, so one bad file does not
    refuse the others."""

    def __init__(self, *args, accept: str = "", **kwargs):
        attrs = {"multiple": True, **({"accept": accept} if accept else {})}
        kwargs.setdefault("widget", MultipleFileInput(attrs=attrs))
        kwargs.setdefault("error_messages", {"required": "Choose at least one file to upload."})
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        files = [d for d in (data if isinstance(data, (list, tuple)) else [data]) if d]
        if not files and self.required:
            raise ValidationError(self.error_messages["required"], code="required")
        return files


class MultipleImageField(MultipleFileField):
    """``MultipleFileField`` whose file picker offers images."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("accept", "image/*")
        super().__init__(*args, **kwargs)


def first_form_error(form, default: str) -> ValidationError:
    """The first problem of an invalid ``form`` as one ``ValidationError`` with its own
    sentence and code ("The file is empty (0 bytes).", ``empty``), for an API's
    ``{message, code}``; a missing field gives ``default`` (a sentence naming what to send)
    with code ``required``."""
    for errors in form.errors.as_data().values():
        err = errors[0]
        if err.code == "required":
            return ValidationError(default, code="required")
        return ValidationError(" ".join(err.messages), code=err.code or "invalid")
    return ValidationError(default, code="invalid")
