"""The backbones a gallery can be embedded and searched with: the ImageNet
ones (``vision.backbones.SPECS``) and the similarity embeddings teams learned
from their own groups (issue 17: an ``embedding`` ``ModelVersion``, named
``learned_<version id>`` wherever a backbone name is stored: embeddings,
index parameters, search jobs)."""

from __future__ import annotations

from vision import registry
from vision.backbones import SPECS
from webapp.registry.models import ModelVersion

LEARNED_PREFIX = "learned_"


def learned_name(mv: ModelVersion) -> str:
    return f"{LEARNED_PREFIX}{mv.pk}"


def _learned_version(name: str) -> ModelVersion | None:
    pk = name[len(LEARNED_PREFIX):] if name.startswith(LEARNED_PREFIX) else ""
    if not pk.isdigit():
        return None
    return ModelVersion.objects.filter(pk=int(pk), kind=ModelVersion.Kind.EMBEDDING).select_related("dataset").first()


def _label(mv: ModelVersion) -> str:
    return f"Learned from “{mv.dataset or 'a deleted dataset'}” (v{mv.version})"


def backbone_label(name: str) -> str:
    """For people: the backbone's label, or what became of a learned embedding since deleted."""
    spec = backbone_spec(name)
    return spec.label if spec is not None else f"“{name}”, a learned embedding since deleted (rebuild the index)"


def backbone_spec(name: str):
    """What ``name`` is, without loading it: a ``BackboneSpec`` (label, version, dimensions,
    cost), or ``None`` for a name this platform does not know (a learned embedding deleted)."""
    if name in SPECS:
        return SPECS[name]
    mv = _learned_version(name)
    if mv is None:
        return None
    from vision.backbones import BackboneSpec

    m = mv.metrics
    base = SPECS.get(m.get("backbone", ""))
    return BackboneSpec(name=name, label=_label(mv), version=f"{base.version if base else '?'}+v{mv.version}",
                        embedding_dim=int(m.get("dim", 0)), weights_file="", input_size=int(m.get("image_size", 0)),
                        cost=f"learned from your groups, {m.get('dim')}-d, on {base.label if base else m.get('backbone')}; "
                             f"MAP@R {m.get('metrics', {}).get('map_at_r', 0):.3f} on its held-out groups")


def backbone_load(name: str):
    """The loaded backbone (cached per process): ``registry.load`` for an ImageNet one, a
    ``vision.training.ranking.LearnedBackbone`` for a learned embedding.

    Raises:
        KeyError: an unknown name.
        vision.errors.WeightsMissingError: a weights or model file is missing (sentence).
        ValueError: a learned embedding trained at another side than its backbone embeds at
            (``LearnedBackbone``; the product trains at that side, so only a foreign file).
    """
    if name in SPECS:
        return registry.load(name)
    mv = _learned_version(name)
    if mv is None:
        raise KeyError(name)
    from vision import catalog
    from vision.training.ranking import LearnedBackbone

    def build():
        head, report = catalog.trained_load(ModelVersion.Kind.EMBEDDING, mv.pk, mv.path)
        return LearnedBackbone(name, _label(mv), f"v{mv.version}", registry.load(report["backbone"]), head,
                               image_size=report.get("image_size"))

    return registry.cached(f"learned_backbone:{mv.pk}", build)


def learned_specs(datasets) -> list:
    """The active learned embeddings of ``datasets`` (those a user sees) as ``BackboneSpec`` s,
    for a backbone choice; an embedding is active only when it retrieves at least as well as
    the frozen backbone on its held-out groups."""
    versions = ModelVersion.objects.filter(kind=ModelVersion.Kind.EMBEDDING, active=True, dataset__in=datasets)
    return [backbone_spec(learned_name(mv)) for mv in versions.order_by("-created_at")]
