from django import forms
from django.core.exceptions import ValidationError

from webapp.checkin.models import CheckInPhoto, MatchingSettings, Member, Mode
from webapp.core.data_urls import upload_from_data_url
from webapp.core.forms import MultipleImageField, UploadField


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
    photo = UploadField(label="Photo", required=False,
                        widget=forms.ClearableFileInput(attrs={"accept": "image/*", "capture": "user"}))
    photo_data = forms.CharField(required=False, widget=forms.HiddenInput,
                                 help_text="Or the photo as a data:image/...;base64 URL (a browser canvas).")
    source = forms.ChoiceField(choices=CheckInPhoto.Source.choices, initial="upload", widget=forms.HiddenInput, required=False)
    mode = forms.ChoiceField(choices=Mode.choices, initial=Mode.KIOSK, required=False, widget=forms.RadioSelect,
                             help_text="Group mode (staff) checks in every face of the photo.")

    def __init__(self, *args, staff: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.staff = staff
        if not staff:  # only staff may log a whole group
            self.fields["mode"].widget = forms.HiddenInput()

    def clean(self):
        data = super().clean()
        if not data.get("photo") and "photo" not in self.errors:
            if data.get("photo_data"):
                try:
                    data["photo"] = upload_from_data_url(data["photo_data"])
                except ValidationError as err:
                    self.add_error("photo", err)
            else:
                self.add_error("photo", ValidationError("Choose a photo, or use the camera.", code="required"))
        return data

    def clean_mode(self):
        mode = self.cleaned_data.get("mode") or Mode.KIOSK
        if mode == Mode.GROUP and not self.staff:
            raise ValidationError("Only staff can check in a whole group.")
        return mode


class MatchingSettingsForm(forms.ModelForm):
    class Meta:
        model = MatchingSettings
        fields = ["policy"]
        widgets = {"policy": forms.RadioSelect}


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
