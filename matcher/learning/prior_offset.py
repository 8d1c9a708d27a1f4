"""A learner that starts from the prior: logistic regression with the prior's logit as
an offset and the learned corrections shrunk toward zero.

``logit P(click) = prior_logit(x) + b + sum_j d_j * z_j(x)`` where ``z`` are the
standardised features and the penalty ``alpha / 2 * |d|^2`` pulls every
correction toward 0. With few outcomes the penalty wins and the ranking is
the prior's; as outcomes accumulate the data term (a sum over rows) outweighs
it, and the model moves away from the prior only where the data say so.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.optimize import minimize
from scipy.special import expit
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_is_fitted

from ..ranking.features import CLICK_FEATURES
from ..ranking.scoring import PRIOR_INTERCEPT, PRIOR_WEIGHTS

#: How many outcomes' worth of evidence the prior counts for, per correction.
DEFAULT_ALPHA = 50.0


class PriorOffsetLogistic(ClassifierMixin, BaseEstimator):
    """Logistic corrections to the prior scorer, shrunk toward it.

    Parameters
    ----------
    alpha : float
        L2 penalty on the corrections (not on the intercept shift); larger keeps
        the model closer to the prior.
    """

    def __init__(self, alpha: float = DEFAULT_ALPHA):
        self.alpha = alpha

    def fit(self, X: pd.DataFrame, y, sample_weight=None) -> PriorOffsetLogistic:
        if not self.alpha >= 0:
            raise ValueError(f"alpha must be >= 0, got {self.alpha!r}")
        X = _frame(X)
        y = np.asarray(y, dtype=float)
        weight = np.ones(len(y)) if sample_weight is None else np.asarray(sample_weight, float)
        weight = weight * len(y) / weight.sum()  # weights shape the fit, not the data's size
        self.mean_ = X.to_numpy(float).mean(axis=0)
        self.scale_ = X.to_numpy(float).std(axis=0)
        self.scale_[self.scale_ == 0] = 1.0
        z = (X.to_numpy(float) - self.mean_) / self.scale_
        offset = _prior_logit(X)

        def loss(params: np.ndarray) -> tuple[float, np.ndarray]:
            shift, correction = params[0], params[1:]
            logit = offset + shift + z @ correction
            p = expit(logit)
            eps = 1e-12
            nll = -np.sum(weight * (y * np.log(p + eps) + (1 - y) * np.log(1 - p + eps)))
            residual = weight * (p - y)
            gradient = np.concatenate([[residual.sum()], z.T @ residual + self.alpha * correction])
            return nll + 0.5 * self.alpha * correction @ correction, gradient

        start = np.zeros(1 + z.shape[1])
        result = minimize(loss, start, jac=True, method="L-BFGS-B")
        self.intercept_shift_ = float(result.x[0])
        self.coef_ = result.x[1:]
        self.classes_ = np.array([0, 1])
        return self

    def decision_function(self, X: pd.DataFrame) -> np.ndarray:
        check_is_fitted(self, "coef_")
        X = _frame(X)
        z = (X.to_numpy(float) - self.mean_) / self.scale_
        return _prior_logit(X) + self.intercept_shift_ + z @ self.coef_

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        p = expit(self.decision_function(X))
        return np.column_stack([1.0 - p, p])

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return (self.decision_function(X) >= 0).astype(int)


def _frame(X: pd.DataFrame) -> pd.DataFrame:
    missing = [name for name in CLICK_FEATURES if name not in X.columns]
    if missing:
        raise ValueError(f"X is missing feature columns: {', '.join(missing)}")
    return X[list(CLICK_FEATURES)]


def _prior_logit(X: pd.DataFrame) -> np.ndarray:
    """The prior scorer's logit on the click features (it gives no weight to history)."""
    weights = np.array([PRIOR_WEIGHTS.get(name, 0.0) for name in CLICK_FEATURES])
    return X.to_numpy(float) @ weights + PRIOR_INTERCEPT
