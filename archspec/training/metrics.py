"""Classification scores as the Inception papers report them, framework-neutral: sums over the
evaluated images (so several processes can add theirs up), then top-1 and top-5 error."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Totals:
    loss: float  # sum of -log(averaged probability of the true class)
    top1: int  # images whose true class scores highest
    top5: int  # images whose true class is among the five highest
    count: int

    def __add__(self, other: Totals) -> Totals:
        return Totals(self.loss + other.loss, self.top1 + other.top1, self.top5 + other.top5, self.count + other.count)

    def as_list(self) -> list[float]:
        return [self.loss, self.top1, self.top5, self.count]

    @classmethod
    def from_list(cls, values: Sequence[float]) -> Totals:
        return cls(values[0], round(values[1]), round(values[2]), round(values[3]))

    def metrics(self) -> dict[str, float]:
        n = max(self.count, 1)
        return {"loss": self.loss / n, "top1": self.top1 / n, "top5": self.top5 / n}

    def errors(self) -> dict[str, float]:
        metrics = self.metrics()
        return {"top1_error": 1.0 - metrics["top1"], "top5_error": 1.0 - metrics["top5"]}


EMPTY = Totals(0.0, 0, 0, 0)


def totals(probs: np.ndarray, labels: np.ndarray) -> Totals:
    """Scores of (images, classes) probabilities against integer labels."""
    true = probs[np.arange(len(labels)), labels]
    # The true class's rank: how many classes score strictly higher (a tie counts in its favour).
    rank = (probs > true[:, None]).sum(1)
    loss = float(-np.log(np.maximum(true.astype(np.float64), 1e-12)).sum())
    return Totals(loss, int((rank < 1).sum()), int((rank < 5).sum()), len(labels))
