"""The report's small judgements: why a flagged frame has no heatmap, names that wrap."""

from mxqc.report import _breakable, _why_no_heatmap

FLAGGED = {"n_anomalies": 1}


def test_the_page_says_why_a_flagged_frame_has_no_heatmap():
    assert _why_no_heatmap({"n_anomalies": 0}, [], {}) == ""
    assert _why_no_heatmap(FLAGGED, [("ice_ring", "data:…")], {}) == ""
    assert "--no-heatmaps" in _why_no_heatmap(FLAGGED, [], {"heatmaps": False})
    assert "one in 10" in _why_no_heatmap(FLAGGED, [], {"heatmaps": True,
                                                           "heatmap_every": 10})
    assert "Cartesian" in _why_no_heatmap(FLAGGED, [], {"heatmaps": True,
                                                           "heatmap_every": 1})
    assert "images folder" in _why_no_heatmap(FLAGGED, [("ice_ring", None)], {})


def test_file_names_wrap_after_underscores_and_stay_escaped():
    assert str(_breakable("a_b<c>.cbf")) == "a_<wbr>b&lt;c&gt;.cbf"
