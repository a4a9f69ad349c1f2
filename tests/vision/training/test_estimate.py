"""The training time estimate (vision.training.estimate): plain arithmetic on measured costs."""

import dataclasses

import pytest

from vision.training import estimate
from vision.training.classifier import ClassifierOptions, _progress_bounds

DEFAULT = ClassifierOptions()
N_TRAIN, N_VAL = 503, 216  # issue 13's trial: 719 photos, 70/30


def test_the_default_training_on_719_photos_is_estimated_in_minutes_with_the_features_first():
    est = DEFAULT.estimate(n_train=N_TRAIN, n_val=N_VAL)
    costs = estimate.COSTS[DEFAULT.backbone]
    assert est.features == pytest.approx(costs.fixed + 719 * costs.features(448))
    assert est.head == pytest.approx(40 * (estimate.HEAD_EPOCH_FIXED + estimate.HEAD_PER_PHOTO * N_TRAIN))
    assert est.fine_tune == 0 and est.save == costs.save
    assert est.seconds == pytest.approx(est.features + est.head + est.save)
    assert 60 < est.seconds < 3 * 3600 and est.features > est.head
    text = est.sentence()
    assert text.startswith(f"About {estimate.duration_text(est.seconds)} on this machine: backbone features of 719 photos")
    assert "up to 40 epochs" in text


def test_the_estimate_follows_size_backbone_fine_tuning_and_the_cache():
    def seconds(**changes):
        return dataclasses.replace(DEFAULT, **changes).estimate(n_train=N_TRAIN, n_val=N_VAL).seconds

    base = seconds()
    assert seconds(image_size=224) < base  # a quarter of the pixels
    assert seconds(backbone="efficientnet_lite0") < base
    assert seconds(fine_tune=True) > base
    cached = DEFAULT.estimate(n_train=N_TRAIN, n_val=N_VAL, n_cached=719)
    assert cached.features == estimate.COSTS[DEFAULT.backbone].fixed and "719 photos already cached" in cached.sentence()
    scratch = ClassifierOptions(model_kind="scratch").estimate(n_train=N_TRAIN, n_val=N_VAL)
    assert scratch.features == 0 and scratch.epochs == 30


def test_per_photo_cost_grows_with_the_pixels_through_both_measured_sides():
    c = estimate.BackboneCosts(features_224=0.1, features_448=0.25, fixed=1, save=1)
    assert c.features(224) == pytest.approx(0.1) and c.features(448) == pytest.approx(0.25)
    assert c.features(640) > c.features(448)


def test_errors_are_refused_in_words():
    with pytest.raises(ValueError, match="No training costs were measured for mobilenet_v2"):
        estimate.training_estimate(model_kind="transfer", backbone="mobilenet_v2", side=224, epochs=40,
                                   fine_tune=False, fine_tune_epochs=3, n_train=10, n_val=4)
    with pytest.raises(ValueError, match="Unknown model kind"):
        estimate.training_estimate(model_kind="svm", backbone="x", side=224, epochs=1, fine_tune=False,
                                   fine_tune_epochs=3, n_train=10, n_val=4)
    with pytest.raises(ValueError):
        DEFAULT.estimate(n_train=10, n_val=4, n_cached=15)


@pytest.mark.parametrize("seconds, text", [(0.2, "1 s"), (42, "42 s"), (333, "5 min 30 s"), (600, "10 min"),
                                           (4200, "1 h 10 min"), (7200, "2 h")])
def test_duration_text(seconds, text):
    assert estimate.duration_text(seconds) == text


def test_the_progress_bar_is_split_by_the_estimate_so_it_moves_at_an_even_pace():
    cold_f, cold_h = _progress_bounds(DEFAULT, N_TRAIN, N_VAL, 0)
    warm_f, warm_h = _progress_bounds(DEFAULT, N_TRAIN, N_VAL, 719)
    assert cold_h == pytest.approx(0.95) and warm_h == pytest.approx(0.95) and warm_f < 0.5 < cold_f  # cold: the features take most of the time
    f, h, t = DEFAULT.estimate(n_train=N_TRAIN, n_val=N_VAL).progress_shares()
    assert cold_f == pytest.approx(0.95 * f) and f + h + t == pytest.approx(1)
    ft_f, ft_h = _progress_bounds(dataclasses.replace(DEFAULT, fine_tune=True), N_TRAIN, N_VAL, 0)
    assert 0 < ft_f < ft_h < 0.95
    # a backbone never measured: the fixed split
    assert _progress_bounds(ClassifierOptions(backbone="mobilenet_v2"), 10, 4, 0) == (0.5, 0.95)
