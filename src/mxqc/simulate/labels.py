"""Label sampling that follows the real RefleX label statistics.

Label vectors are drawn from the joint distribution of the 91 label combinations in the
final RefleX labels, so class rates *and* every co-occurrence match the real data. Requested
rates reweight the combinations by iterative proportional fitting, which keeps the
co-occurrence structure as close to the real one as the new rates allow.
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib.resources import files

import numpy as np

from mxqc.classes import CLASSES


@lru_cache(maxsize=1)
def reflex_combinations() -> tuple[np.ndarray, np.ndarray]:
    """(combinations (k, 7) int8, counts (k,)) of the real RefleX labels."""
    data = json.loads(files("mxqc.simulate").joinpath("reflex_label_combinations.json")
                      .read_text())
    if tuple(data["columns"]) != CLASSES:
        raise ValueError(f"label resource columns {data['columns']} differ from {CLASSES}")
    combos = np.array([[int(c) for c in key] for key in data["combinations"]], np.int8)
    counts = np.array(list(data["combinations"].values()), float)
    return combos, counts


def reflex_rates() -> dict[str, float]:
    combos, counts = reflex_combinations()
    return {name: float(rate) for name, rate in
            zip(CLASSES, (counts @ combos) / counts.sum(), strict=True)}


def combination_weights(rates: dict[str, float] | None = None, *, iterations: int = 200
                        ) -> np.ndarray:
    """Probabilities of the real label combinations, adjusted to ``rates`` where given."""
    combos, counts = reflex_combinations()
    weights = counts / counts.sum()
    if not rates:
        return weights
    unknown = set(rates) - set(CLASSES)
    if unknown:
        raise ValueError(f"unknown classes {sorted(unknown)}; expected some of {CLASSES}")
    for name, rate in rates.items():
        if not 0.0 < rate < 1.0:
            raise ValueError(f"rate of {name} must lie strictly between 0 and 1, got {rate}")
    wanted = {**reflex_rates(), **rates}  # classes not overridden keep their real rate
    targets = [(CLASSES.index(n), r) for n, r in wanted.items()]
    for _ in range(iterations):
        for j, rate in targets:
            has = combos[:, j] == 1
            current = weights[has].sum()
            weights[has] *= rate / current
            weights[~has] *= (1.0 - rate) / (1.0 - current)
    return weights / weights.sum()


def sample_labels(n: int, rng: np.random.Generator,
                  rates: dict[str, float] | None = None) -> np.ndarray:
    """(n, 7) int8 label vectors in canonical class order."""
    combos, _ = reflex_combinations()
    return combos[rng.choice(len(combos), size=n, p=combination_weights(rates))]
