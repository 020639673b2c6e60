"""Each measure against values computed by hand."""

import numpy as np
import pytest

from mxqc.metrics import jaccard_per_image, multilabel_scores, per_class_scores

# 4 images × 3 classes
TRUE = np.array([[1, 0, 1], [0, 1, 0], [1, 1, 0], [0, 0, 0]])
PROB = np.array([[0.9, 0.2, 0.6], [0.7, 0.8, 0.1], [0.4, 0.9, 0.2], [0.1, 0.3, 0.05]])
# predictions at 0.5: [1,0,1], [1,1,0], [0,1,0], [0,0,0]
NAMES = ("a", "b", "c")


def test_multilabel_by_hand():
    s = multilabel_scores(TRUE, PROB)
    # class a: TP1 FP1 FN1 → P=R=F1=F2=0.5; class b: TP2 → 1; class c: TP1 → 1
    assert s["precision_macro"] == pytest.approx((0.5 + 1 + 1) / 3)
    assert s["recall_macro"] == pytest.approx((0.5 + 1 + 1) / 3)
    assert s["f1_macro"] == pytest.approx((0.5 + 1 + 1) / 3)
    assert s["f2_macro"] == pytest.approx((0.5 + 1 + 1) / 3)
    # MCC of class a: TP1 TN1 FP1 FN1 → 0
    assert s["mcc_macro"] == pytest.approx((0 + 1 + 1) / 3)
    # Jaccard per image: 1, 1/2, 1/2, 1 (both empty) → 0.75
    assert s["jaccard"] == pytest.approx(0.75)
    assert s["exact_match"] == pytest.approx(0.5)


def test_zero_division_conventions():
    t = np.array([[0, 1], [0, 1]])
    p = np.array([[0.0, 0.9], [0.0, 0.8]])  # class 0: no true and no predicted positive
    s = multilabel_scores(t, p)
    assert s["precision_macro"] == pytest.approx(0.5)  # 0 (undefined) and 1
    assert s["mcc_macro"] == pytest.approx(0.0)  # both classes constant: zero denominators
    per = per_class_scores(t, p, class_names=("x", "y"))
    assert np.isnan(per["x"]["auc"]) and per["x"]["accuracy"] == 1.0
    assert per["x"]["false_alarm_rate"] == 0.0 and np.isnan(per["y"]["false_alarm_rate"])
    assert jaccard_per_image(np.zeros((1, 3)), np.zeros((1, 3)))[0] == 1.0


def test_per_class_by_hand():
    per = per_class_scores(TRUE, PROB, class_names=NAMES)
    assert per["a"] == pytest.approx(dict(accuracy=0.5, precision=0.5, recall=0.5, f1=0.5,
                                          auc=0.75, false_alarm_rate=0.5))
    # a: scores .9,.4 vs .7,.1 → 3 of 4 pairs; one of its two negatives flagged
    assert per["b"]["auc"] == 1.0 and per["c"]["recall"] == 1.0


def test_reflex_compatible_definitions():
    ours = multilabel_scores(TRUE, PROB)
    theirs = multilabel_scores(TRUE, PROB, reflex_compatible=True)
    # sample F2 at the best of 0.17..0.23: at 0.2 (strict >) predictions are
    # [1,0,1] [1,1,0] [1,1,0] [0,1,0]; per image F2 = 1, 5/6·… computed below
    def f2(t, p):
        tp = (t & p).sum()
        return 0.0 if tp == 0 else 5 * tp / (4 * t.sum() + p.sum())
    best = max(np.mean([f2(TRUE[i], (PROB[i] > th).astype(int)) for i in range(4)])
               for th in (0.17, 0.18, 0.19, 0.2, 0.21, 0.22, 0.23))
    assert theirs["f2_macro"] == pytest.approx(best)
    assert theirs["jaccard"] == ours["jaccard"]
    per = per_class_scores(TRUE, PROB, class_names=NAMES, reflex_compatible=True)
    assert per["a"]["auc"] == pytest.approx(0.5)  # balanced accuracy of the 0/1 predictions


def test_per_class_thresholds():
    per = per_class_scores(TRUE, PROB, threshold=[0.95, 0.5, 0.5], class_names=NAMES)
    assert per["a"]["recall"] == 0.0


@pytest.mark.parametrize("t,p,match", [
    (np.ones((2, 3)), np.ones((2, 2)), "shape"), (np.full((2, 2), 2), np.ones((2, 2)), "0 and 1")])
def test_rejected_inputs(t, p, match):
    with pytest.raises(ValueError, match=match):
        multilabel_scores(t, p)
