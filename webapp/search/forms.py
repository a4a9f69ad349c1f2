from django import forms

from vision.search import INDEX_KINDS
from webapp.core.forms import MultipleImageField, UploadField


class GalleryForm(forms.Form):
    name = forms.CharField(max_length=200, label="Gallery name")


class GalleryUploadForm(forms.Form):
    files = MultipleImageField(label="Photos or zip files",
                               help_text="Several photos at once, or a zip of photos (folders inside are fine).")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["files"].widget.attrs["accept"] = "image/*,.zip,application/zip"


INDEX_KIND_LABELS = {"flat": "Exact (Flat)", "pca_flat": "PCA to 256 dims, then exact (the seed's)",
                     "ivf": "IVF: k-means clusters + nprobe (the seed's clusters)", "hnsw": "HNSW graph"}


def backbone_choices(specs) -> list[tuple[str, str]]:
    """``(name, "Label — cost")`` for a backbone field, from ``BackboneSpec`` s (those whose weights are here)."""
    return [(s.name, f"{s.label} — {s.cost}" if getattr(s, "cost", "") else s.label) for s in specs]


class IndexBuildForm(forms.Form):
    backbone = forms.ChoiceField(label="Backbone", required=False,
                                 help_text="The network that turns each photo into an embedding. A larger one is "
                                           "slower to embed (once per photo) and to query, and usually finds closer "
                                           "matches; photos not embedded with it yet are embedded first.")
    kind = forms.ChoiceField(choices=[(k, INDEX_KIND_LABELS[k]) for k in INDEX_KINDS], initial="hnsw")
    nlist = forms.IntegerField(min_value=0, max_value=65536, initial=0, label="IVF clusters K",
                               help_text="0 picks √n.")
    nprobe = forms.IntegerField(min_value=1, max_value=1024, initial=8, label="nprobe",
                                help_text="Clusters scanned per search (IVF); more is slower and closer to exact.")
    clusters = forms.IntegerField(min_value=1, max_value=100, initial=8, label="Groups to browse",
                                  help_text="k-means groups shown under “Browse by cluster”.")

    def __init__(self, *args, backbones=(), initial_backbone: str = "", **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["backbone"].choices = backbone_choices(backbones)
        self.fields["backbone"].initial = initial_backbone


class SearchForm(forms.Form):
    photo = UploadField(required=False, label="Query photo",
                            widget=forms.ClearableFileInput(attrs={"accept": "image/*"}))
    image = forms.IntegerField(required=False, widget=forms.HiddenInput)
    k = forms.IntegerField(min_value=1, max_value=100, initial=12, label="Top-k", error_messages={
        "invalid": "k must be a whole number.", "min_value": "k must be between 1 and 100.",
        "max_value": "k must be between 1 and 100."})
    min_score = forms.FloatField(required=False, min_value=-1, max_value=1, label="Similarity cut-off",
                                 help_text="Optional: hide photos less similar than this (cosine, -1..1).",
                                 error_messages={m: "The cut-off must be a number between -1 and 1."
                                                 for m in ("invalid", "min_value", "max_value")})


class ClassifyForm(forms.Form):
    photo = UploadField(label="Photo", widget=forms.ClearableFileInput(attrs={"accept": "image/*"}))
