import numpy as np
import pytest

from mxqc.classes import CLASSES
from mxqc.simulate.labels import reflex_rates, sample_labels


def test_default_rates_follow_refleX():
    labels = sample_labels(5000, np.random.default_rng(0))
    real = reflex_rates()
    assert real["background_ring"] == pytest.approx(3823 / 6311)
    for j, name in enumerate(CLASSES):
        assert abs(labels[:, j].mean() - real[name]) < 0.02


def test_requested_rates_within_two_points_others_kept():
    wanted = {"ice_ring": 0.3, "diffuse_scattering": 0.2, "artifact": 0.5}
    labels = sample_labels(5000, np.random.default_rng(1), wanted)
    rates = dict(zip(CLASSES, labels.mean(axis=0), strict=True))
    for name, rate in {**reflex_rates(), **wanted}.items():
        assert abs(rates[name] - rate) < 0.02, name


def test_strongest_co_occurrence_kept():
    labels = sample_labels(5000, np.random.default_rng(2))
    ar, sb = CLASSES.index("artifact"), CLASSES.index("strong_background")
    p_sb_given_ar = labels[labels[:, ar] == 1, sb].mean()
    assert p_sb_given_ar == pytest.approx(743 / 1008, abs=0.05)  # 0.74 in the real labels


@pytest.mark.parametrize("rates,match", [({"snow": 0.1}, "unknown"),
                                         ({"ice_ring": 1.0}, "between")])
def test_bad_rates(rates, match):
    with pytest.raises(ValueError, match=match):
        sample_labels(10, np.random.default_rng(0), rates)
