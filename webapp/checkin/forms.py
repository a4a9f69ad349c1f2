from django import forms
from django.core.exceptions import ValidationError

from webapp.checkin.models import CheckInPhoto, Member


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


class MemberForm(forms.ModelForm):
    class Meta:
        model = Member
        fields = ["name", "external_id", "active"]

    def clean_external_id(self):
        return self.cleaned_data["external_id"] or None


class EnrolForm(forms.Form):
    photos = MultipleImageField(label="Photos of the member's face",
                                help_text="Several photos, each showing only this person, from slightly different angles.")


class CheckInForm(forms.Form):
    photo = forms.FileField(label="Photo", widget=forms.ClearableFileInput(attrs={"accept": "image/*", "capture": "user"}))
    source = forms.ChoiceField(choices=CheckInPhoto.Source.choices, initial="upload", widget=forms.HiddenInput, required=False)


class CheckInFilterForm(forms.Form):
    member = forms.ModelChoiceField(queryset=Member.objects.all(), required=False, empty_label="All members")
    strangers = forms.BooleanField(required=False, label="Strangers only")
    date_from = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}), label="From")
    date_to = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}), label="To")

    def clean(self):
        data = super().clean()
        if data.get("date_from") and data.get("date_to") and data["date_from"] > data["date_to"]:
            raise ValidationError("“From” must be on or before “To”.")
        return data
