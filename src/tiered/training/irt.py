"""Item response theory over an outcome matrix: per-item difficulty and discrimination, per-model ability.

The 2PL logistic model says model j answers item i correctly with probability
`sigmoid(a_i * (theta_j - b_i))`: b_i is how hard the item is, a_i how sharply it separates weak models from
strong ones, theta_j how able the model is. Fitted on the many models of one dataset, these describe the
*item*, not one model pair, which is what lets a text regressor trained on them transfer to model pairs and
datasets it has not seen. Quality in [0, 1] is used as a soft label (binary cross-entropy), missing outcomes
are masked. The fit is full-batch Adam with a small L2 prior (b, theta ~ N(0, 1/l2); log a ~ N(0, 1/l2)).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class IrtFit:
    difficulty: FloatArray
    """b_i, one per item."""
    discrimination: FloatArray
    """a_i > 0, one per item (all 1 for a 1PL fit)."""
    ability: FloatArray
    """theta_j, one per model."""

    def p_correct(self) -> FloatArray:
        """P(model j right on item i) as an (items, models) matrix."""
        z = self.discrimination[:, None] * (self.ability[None, :] - self.difficulty[:, None])
        out: FloatArray = 1.0 / (1.0 + np.exp(-z))
        return out


def fit_irt(outcomes: FloatArray, *, two_pl: bool = True, l2: float = 1.0, steps: int = 600,
            lr: float = 0.05) -> IrtFit:
    """Fit a 1PL/2PL model to `outcomes` (items x models, values in [0, 1], NaN = missing)."""
    y = np.asarray(outcomes, dtype=np.float64)
    mask = ~np.isnan(y)
    y = np.where(mask, y, 0.0)
    n_items = y.shape[0]
    count = max(1.0, float(mask.sum()))
    # Start from the logit of each item's and each model's mean accuracy.
    item_acc = np.clip(np.sum(y, 1) / np.maximum(1, mask.sum(1)), 0.02, 0.98)
    model_acc = np.clip(np.sum(y, 0) / np.maximum(1, mask.sum(0)), 0.02, 0.98)
    params = [
        -np.log(item_acc / (1 - item_acc)),  # b
        np.zeros(n_items),  # log a
        np.log(model_acc / (1 - model_acc)),  # theta
    ]
    first = [np.zeros_like(p) for p in params]
    second = [np.zeros_like(p) for p in params]
    beta1, beta2, eps = 0.9, 0.999, 1e-8
    for step in range(1, steps + 1):
        b, log_a, theta = params
        a = np.exp(log_a) if two_pl else np.ones(n_items)
        diff = theta[None, :] - b[:, None]
        p = 1.0 / (1.0 + np.exp(-a[:, None] * diff))
        resid = np.where(mask, p - y, 0.0) / count  # d loss / d z
        grads = [
            -np.sum(resid * a[:, None], 1) + l2 * b / count,
            (np.sum(resid * diff, 1) * a + l2 * log_a / count) if two_pl else np.zeros(n_items),
            np.sum(resid * a[:, None], 0) + l2 * theta / count,
        ]
        for k, g in enumerate(grads):
            first[k] = beta1 * first[k] + (1 - beta1) * g
            second[k] = beta2 * second[k] + (1 - beta2) * g * g
            m_hat = first[k] / (1 - beta1**step)
            v_hat = second[k] / (1 - beta2**step)
            params[k] = params[k] - lr * m_hat / (np.sqrt(v_hat) + eps)
    b, log_a, theta = params
    # Anchor the scale: abilities centred (difficulty shifts with them), so fits of different datasets compare.
    shift = float(np.mean(theta))
    a = np.exp(log_a) if two_pl else np.ones(n_items)
    return IrtFit(difficulty=b - shift, discrimination=a, ability=theta - shift)
