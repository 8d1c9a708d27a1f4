"""The learned scorer: P(click) from pair features, plus the therapist's track record.

Two signals are kept apart (see docs/model.md):

1. :class:`ClickModel`, a calibrated classifier of a good early relationship;
2. :class:`TrackRecord`, each therapist's improvement on each concern, shrunk
   toward the mean by empirical Bayes so a handful of cases cannot make a
   therapist look best or worst.

:class:`LearnedScorer` combines them with a documented weight and satisfies
the :class:`~matcher.scoring.Scorer` interface, so ranking does not change.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import expit
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.exceptions import NotFittedError
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import check_is_fitted

from ..ranking.features import CLICK_FEATURES
from ..vocab import RELIABLE_CHANGE
from .prior_offset import PriorOffsetLogistic

#: Below this many labelled pairs, isotonic calibration overfits; sigmoid is used.
ISOTONIC_MIN_ROWS = 5000
#: Default share of the final score taken by the track record (the rest is P(click)).
TRACK_RECORD_WEIGHT = 0.3
#: The shrinkage prior always counts for at least this many cases.
MIN_PRIOR_CASES = 5.0
#: A learned scorer's uncertainty about a score before training measures it (its held-out
#: calibration error, at least MIN_MODEL_UNCERTAINTY): what the exploring policy reads.
MODEL_UNCERTAINTY = 0.03
MIN_MODEL_UNCERTAINTY = 0.01


def logistic_candidate(C: float = 1.0) -> Pipeline:
    """A regularised logistic regression on standardised features."""
    return Pipeline(
        [("scale", StandardScaler()), ("classifier", LogisticRegression(C=C, max_iter=1000))]
    )


def prior_offset_candidate() -> Pipeline:
    """Logistic corrections to the prior, shrunk toward it (see :mod:`.prior_offset`)."""
    return Pipeline([("classifier", PriorOffsetLogistic())])


def boosted_candidate(random_state: int = 0) -> Pipeline:
    """A small gradient-boosted tree model; captures interactions the linear one cannot."""
    return Pipeline(
        [
            (
                "classifier",
                HistGradientBoostingClassifier(
                    max_iter=150,
                    learning_rate=0.05,
                    max_leaf_nodes=15,
                    l2_regularization=1.0,
                    random_state=random_state,
                ),
            )
        ]
    )


class ClickModel(ClassifierMixin, BaseEstimator):
    """Calibrated P(click | pair features).

    Parameters
    ----------
    estimator : Pipeline, optional
        Template whose last step is named ``classifier``; cloned in ``fit``.
        Defaults to :func:`logistic_candidate`.
    calibration : {"auto", "sigmoid", "isotonic"}
        "auto" picks sigmoid below ``ISOTONIC_MIN_ROWS`` rows, isotonic above.
    n_splits : int
        Folds (grouped by client) for the out-of-fold scores the calibrator learns from.

    Notes
    -----
    It follows the estimator contract (``__init__`` stores parameters, ``fit``
    clones its template and returns ``self``, ``check_is_fitted`` guards
    prediction), but not every check in ``sklearn.utils.estimator_checks``: it
    takes a DataFrame with the ``CLICK_FEATURES`` columns (checks that pass bare
    numeric arrays fail by design, with a ``ValueError`` naming the missing
    columns), and it needs both labels and at least two groups to calibrate.
    """

    def __init__(self, estimator=None, calibration: str = "auto", n_splits: int = 3):
        self.estimator = estimator
        self.calibration = calibration
        self.n_splits = n_splits

    def fit(self, X: pd.DataFrame, y, sample_weight=None, groups=None) -> ClickModel:
        """Fit on all rows; calibrate on out-of-fold scores from client-grouped folds."""
        if self.calibration not in {"auto", "sigmoid", "isotonic"}:
            raise ValueError(
                f"calibration must be 'auto', 'sigmoid' or 'isotonic', got {self.calibration!r}"
            )
        self.__dict__.pop(_LINEAR, None)
        X = _feature_frame(X)
        y = np.asarray(y, dtype=int)
        if len(np.unique(y)) < 2:
            raise ValueError("y must contain both clicks (1) and non-clicks (0)")
        weight = np.ones(len(y)) if sample_weight is None else np.asarray(sample_weight, float)
        groups = np.arange(len(y)) if groups is None else np.asarray(groups)
        template = self.estimator if self.estimator is not None else logistic_candidate()
        n_splits = min(self.n_splits, len(np.unique(groups)))
        if n_splits < 2:
            raise ValueError(f"need at least 2 clients to calibrate, got {n_splits}")
        out_of_fold = np.zeros(len(y))
        for train, test in GroupKFold(n_splits).split(X, y, groups):
            model = _fit(clone(template), X.iloc[train], y[train], weight[train])
            out_of_fold[test] = model.predict_proba(X.iloc[test])[:, 1]
        self.calibration_method_ = self.calibration
        if self.calibration == "auto":
            self.calibration_method_ = "isotonic" if len(y) >= ISOTONIC_MIN_ROWS else "sigmoid"
        self.calibrator_ = _fit_calibrator(self.calibration_method_, out_of_fold, y, weight)
        self.model_ = _fit(clone(template), X, y, weight)
        self.classes_ = np.array([0, 1])
        self.feature_names_in_ = np.array(CLICK_FEATURES, dtype=object)
        return self

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """(n, 2) calibrated probabilities of no-click and click."""
        check_is_fitted(self, "model_")
        linear = _linear_form(self)
        if linear is not None:  # the same numbers, without scikit-learn's per-call checks
            raw = linear(_feature_matrix(X))
        else:
            raw = self.model_.predict_proba(_feature_frame(X))[:, 1]
        click = _apply_calibrator(self.calibrator_, raw)
        return np.column_stack([1.0 - click, click])

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(int)


def _feature_matrix(X: pd.DataFrame) -> np.ndarray:
    """(n, len(CLICK_FEATURES)) float64, column by column (cheaper than a reindexed frame)."""
    _check_columns(X)
    matrix = np.column_stack(
        [X[name].to_numpy(dtype=np.float64, na_value=np.nan) for name in CLICK_FEATURES]
    )
    if not np.isfinite(matrix).all():  # as scikit-learn's own check would say
        raise ValueError("Input X contains NaN or infinity.")
    return matrix


def _feature_frame(X: pd.DataFrame) -> pd.DataFrame:
    _check_columns(X)
    return X[list(CLICK_FEATURES)]


def _check_columns(X: pd.DataFrame) -> None:
    missing = [name for name in CLICK_FEATURES if name not in X.columns]
    if missing:
        raise ValueError(f"X is missing feature columns: {', '.join(missing)}")


def _fit(pipeline: Pipeline, X: pd.DataFrame, y: np.ndarray, weight: np.ndarray) -> Pipeline:
    last = pipeline.steps[-1][0]
    return pipeline.fit(X, y, **{f"{last}__sample_weight": weight})


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


def _fit_calibrator(method: str, scores: np.ndarray, y: np.ndarray, weight: np.ndarray):
    """A non-decreasing map from raw scores to probabilities: calibration may rescale the
    model's ranking but must never reverse it."""
    if method == "sigmoid":
        sigmoid = LogisticRegression(C=1e6).fit(_logit(scores)[:, None], y, sample_weight=weight)
        if sigmoid.coef_[0, 0] > 0:
            return sigmoid
        # A slope <= 0 (few or noisy labels) would turn the ranking upside down; isotonic
        # regression is monotone by construction, at worst flat.
    return IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(
        scores, y, sample_weight=weight
    )


def _apply_calibrator(calibrator, scores: np.ndarray) -> np.ndarray:
    if isinstance(calibrator, IsotonicRegression):
        # what ``predict`` computes (linear interpolation, clipped at the ends)
        return np.interp(scores, calibrator.X_thresholds_, calibrator.y_thresholds_)
    slope, intercept = calibrator.coef_[0, 0], calibrator.intercept_[0]
    return expit(slope * _logit(scores) + intercept)


#: Where :func:`_linear_form` keeps its weights (dropped by ``fit``).
_LINEAR = "_linear_weights"


def _linear_form(model: ClickModel):
    """For a fitted standardise-then-logistic pipeline, a function from the feature
    matrix to its raw P(click), as arrays (a request scores each candidate list
    twice, and scikit-learn's input checks cost more than the arithmetic); else None.
    Its weights are worked out on first use and kept on the instance."""
    if _LINEAR not in model.__dict__:
        model.__dict__[_LINEAR] = _linear_weights(model.model_)
    weights = model.__dict__[_LINEAR]
    if weights is None:
        return None
    coef, intercept = weights
    return lambda features: expit(features @ coef + intercept)


def _linear_weights(pipeline) -> tuple[np.ndarray, float] | None:
    """(coef, intercept) on the unscaled features, or None for any other model."""
    steps = dict(pipeline.steps) if isinstance(pipeline, Pipeline) else {}
    scaler, classifier = steps.get("scale"), steps.get("classifier")
    if list(steps) != ["scale", "classifier"] or type(scaler) is not StandardScaler:
        return None
    if type(classifier) is not LogisticRegression or len(classifier.classes_) != 2:
        return None
    mean = scaler.mean_ if scaler.with_mean else 0.0
    scale = scaler.scale_ if scaler.with_std else 1.0
    coef = classifier.coef_[0] / scale
    return coef, float(classifier.intercept_[0] - np.sum(coef * mean))


class TrackRecord:
    """What each therapist's past clients say, shrunk toward the mean.

    Not a scikit-learn estimator: it learns tables keyed by therapist and concern
    from ``fit(therapist_ids, concerns, improvement, clicked)``, not a function of a
    feature matrix, so it follows only the parts of the contract that fit: ``fit``
    returns ``self`` and learned state ends in ``_``.

    Two tables, both by empirical Bayes (method of moments), so a therapist
    with a handful of cases cannot look best or worst:

    - ``effects_``: improvement per (therapist, concern). With n cases and mean
      residual m (improvement minus that concern's mean), the estimate is
      ``m * n / (n + k)``, ``k = sigma² / tau²`` (within-cell noise over the
      variance of true effects).
    - ``alliance_``: the therapist's early-alliance record, the log-odds of
      their click rate over the overall rate, after beta-binomial shrinkage
      ``(clicks + k·rate) / (n + k)``.

    Therapists or concerns never seen get 0 (the average): the cold start.
    """

    def _check_fitted(self, attributes: str | list[str]) -> None:
        names = [attributes] if isinstance(attributes, str) else attributes
        if not all(hasattr(self, name) for name in names):
            raise NotFittedError("this TrackRecord is not fitted yet; call fit first")

    def fit(
        self,
        therapist_ids: Sequence[str],
        concerns: Sequence[Sequence[str]],
        improvement: Sequence[float],
        clicked: Sequence[int] | None = None,
    ) -> TrackRecord:
        self._fit_improvement(therapist_ids, concerns, improvement)
        self._fit_alliance(therapist_ids, clicked)
        return self

    def _fit_improvement(self, therapist_ids, concerns, improvement) -> None:
        cases = pd.DataFrame(
            {
                "therapist_id": list(therapist_ids),
                "concern": list(concerns),
                "improvement": np.asarray(improvement, dtype=float),
            }
        ).explode("concern")
        cases = cases.dropna(subset=["concern", "improvement"])
        self.effects_ = pd.Series(dtype=float)
        self.shrinkage_ = float("inf")
        if cases.empty:
            return
        by_concern = cases.groupby("concern")["improvement"].transform("mean")
        cases["residual"] = cases["improvement"] - by_concern
        cells = cases.groupby(["therapist_id", "concern"])["residual"].agg(["mean", "count"])
        noise = float(cases["residual"].var(ddof=1)) if len(cases) > 1 else 1.0
        spread = float(cells["mean"].var(ddof=1)) if len(cells) > 1 else 0.0
        effect_variance = max(spread - float(np.mean(noise / cells["count"])), 1e-6)
        self.shrinkage_ = noise / effect_variance
        self.effects_ = cells["mean"] * cells["count"] / (cells["count"] + self.shrinkage_)

    def _fit_alliance(self, therapist_ids, clicked) -> None:
        self.alliance_ = pd.Series(dtype=float)
        self.alliance_shrinkage_ = float("inf")
        self.cases_ = pd.Series(dtype=float)
        self.therapist_sd_ = 0.0
        if clicked is None or not len(clicked):
            return
        cases = pd.DataFrame({"therapist_id": list(therapist_ids), "click": np.asarray(clicked)})
        rate = float(np.clip(cases["click"].mean(), 0.01, 0.99))
        per = cases.groupby("therapist_id")["click"].agg(["sum", "count"])
        observed = per["sum"] / per["count"]
        binomial_noise = float(np.mean(rate * (1 - rate) / per["count"]))
        true_variance = (
            max(float(observed.var(ddof=1)) - binomial_noise, 1e-6) if len(per) > 1 else 1e-6
        )
        self.alliance_shrinkage_ = float(
            np.clip(rate * (1 - rate) / true_variance - 1, MIN_PRIOR_CASES, 1e4)
        )
        shrunk = (per["sum"] + self.alliance_shrinkage_ * rate) / (
            per["count"] + self.alliance_shrinkage_
        )
        self.alliance_ = np.log(shrunk / (1 - shrunk)) - np.log(rate / (1 - rate))
        self.cases_ = per["count"].astype(float)
        # The spread of therapists' true click rates: how far an unknown therapist may be
        # from the average (beta-binomial: rate (1 - rate) / (k + 1)).
        self.therapist_sd_ = float(np.sqrt(rate * (1 - rate) / (self.alliance_shrinkage_ + 1)))

    def therapist_uncertainty(self, therapist_ids: Sequence[str]) -> np.ndarray:
        """(n,) sd of each therapist's click rate around what their record says: the full
        spread for a therapist with no record (they start at the average), shrinking as
        ``sqrt(k / (n + k))`` with their n cases."""
        spread = float(getattr(self, "therapist_sd_", 0.0))
        cases = getattr(self, "cases_", None)
        if not spread or cases is None:
            return np.zeros(len(therapist_ids))
        n = cases.reindex(pd.Index(therapist_ids)).fillna(0.0).to_numpy(float)
        k = self.alliance_shrinkage_
        return spread * np.sqrt(k / (n + k))

    def alliance(self, therapist_ids: Sequence[str]) -> np.ndarray:
        """Each therapist's shrunken early-alliance log-odds over the average (n,)."""
        self._check_fitted("alliance_")
        return self.alliance_.reindex(pd.Index(therapist_ids)).fillna(0.0).to_numpy(float)

    def expected(self, therapist_ids: Sequence[str], concerns: Sequence[str]) -> np.ndarray:
        """Mean shrunken improvement over one client's ``concerns``, per therapist (n,)."""
        self._check_fitted("effects_")
        ids = pd.Index(therapist_ids)
        if not len(concerns) or self.effects_.empty:
            return np.zeros(len(ids))
        table = self.effects_.unstack("concern")
        known = [c for c in concerns if c in table.columns]
        if not known:
            return np.zeros(len(ids))
        rows = table.reindex(index=ids, columns=known).fillna(0.0)
        return rows.sum(axis=1).to_numpy() / len(concerns)

    def lookup(self, therapist_ids: Sequence[str]) -> TrackTable:
        """The record aligned to these therapists, for many fast queries (one per client).

        ``lookup(ids).expected(rows, concerns)`` equals ``expected(ids[rows], concerns)``
        and ``lookup(ids).alliance(rows)`` equals ``alliance(ids[rows])``, bit for bit.
        """
        self._check_fitted(["effects_", "alliance_"])
        ids = pd.Index(therapist_ids)
        if self.effects_.empty:
            table = pd.DataFrame(index=ids, dtype=float)
        else:
            table = self.effects_.unstack("concern").reindex(index=ids).fillna(0.0)
        return TrackTable(
            effects=np.ascontiguousarray(table.to_numpy(dtype=float)),
            concern_column={concern: j for j, concern in enumerate(table.columns)},
            alliance=self.alliance(ids),
        )

    def expected_for_pairs(
        self, therapist_ids: Sequence[str], concerns: Sequence[Sequence[str]]
    ) -> np.ndarray:
        """As :meth:`expected`, one value per (therapist, client concerns) pair."""
        self._check_fitted("effects_")
        pairs = pd.DataFrame({"therapist_id": list(therapist_ids), "concern": list(concerns)})
        if self.effects_.empty or pairs.empty:
            return np.zeros(len(pairs))
        pairs["pair"] = np.arange(len(pairs))
        count = pairs["concern"].map(len).to_numpy()
        long = pairs.explode("concern").dropna(subset=["concern"])
        effects = self.effects_.rename("effect").reset_index()
        long = long.merge(effects, on=["therapist_id", "concern"], how="left")
        total = long.groupby("pair")["effect"].sum(min_count=1).reindex(range(len(pairs)))
        return np.nan_to_num(total.to_numpy(dtype=float)) / np.maximum(count, 1)


@dataclass(frozen=True)
class TrackTable:
    """A :class:`TrackRecord` aligned to one roster's rows (see :meth:`TrackRecord.lookup`)."""

    effects: np.ndarray  # (n, n_concerns) float64, 0 where unknown
    concern_column: dict[str, int]
    alliance: np.ndarray  # (n,) float64

    def expected(self, rows: np.ndarray, concerns: Sequence[str]) -> np.ndarray:
        """Mean shrunken improvement over ``concerns`` for roster ``rows`` (len(rows),)."""
        columns = [self.concern_column[c] for c in concerns if c in self.concern_column]
        if not len(concerns) or not columns:
            return np.zeros(len(rows))
        return self.effects[rows][:, columns].sum(axis=1) / len(concerns)

    def expected_for_clients(
        self, rows: np.ndarray, owner: np.ndarray, concerns: Sequence[Sequence[str]]
    ) -> np.ndarray:
        """:meth:`expected` for many pairs at once, bit for bit: pair ``p`` is roster row
        ``rows[p]`` with the client whose concerns are ``concerns[owner[p]]``."""
        rows, owner = np.asarray(rows), np.asarray(owner)
        known = [
            [self.concern_column[c] for c in cs if c in self.concern_column] for cs in concerns
        ]
        n_known = np.array([len(k) for k in known], dtype=int)
        total = np.array([len(cs) for cs in concerns], dtype=int)
        out = np.zeros(len(rows))
        for size in np.unique(n_known[n_known > 0]):  # same-length column lists stack
            group = np.flatnonzero(n_known == size)
            columns = np.array([known[i] for i in group], dtype=int)
            position = np.full(len(known), -1)
            position[group] = np.arange(len(group))
            pairs = np.flatnonzero(n_known[owner] == size)
            gathered = self.effects[rows[pairs][:, None], columns[position[owner[pairs]]]]
            out[pairs] = gathered.sum(axis=1) / total[owner[pairs]]
        return out


def track_record_score(effect: np.ndarray) -> np.ndarray:
    """Map expected improvement (points) to [0, 1]; 0 points -> 0.5."""
    return 0.5 + 0.5 * np.tanh(np.asarray(effect, dtype=float) / RELIABLE_CHANGE)


class LearnedScorer:
    """``(1 - w) * P(click) + w * track-record score``; a :class:`~matcher.scoring.Scorer`."""

    def __init__(
        self,
        click_model: ClickModel,
        track_record: TrackRecord | None = None,
        track_record_weight: float = TRACK_RECORD_WEIGHT,
        version: str = "unsaved",
        uncertainty: float = MODEL_UNCERTAINTY,
    ):
        if not 0.0 <= track_record_weight <= 1.0:
            raise ValueError(f"track_record_weight must be in [0, 1], got {track_record_weight!r}")
        self.click_model = click_model
        self.track_record = track_record
        self.track_record_weight = track_record_weight
        self.version = version
        #: sd of any score (training sets it to the held-out calibration error).
        self.uncertainty = uncertainty

    @property
    def exhaustive(self) -> bool:
        """True when scoring every candidate is cheap (a linear click model); a tree
        model scores a shortlist on large rosters (see :func:`matcher.rank.shortlist_scores`)."""
        model = getattr(self.click_model, "model_", None)
        last = model.steps[-1][1] if isinstance(model, Pipeline) else model
        return isinstance(last, LogisticRegression | PriorOffsetLogistic)

    def click_probability(self, features: pd.DataFrame) -> np.ndarray:
        return self.click_model.predict_proba(features)[:, 1]

    def score_uncertainty(self, features: pd.DataFrame, therapist_ids) -> np.ndarray:
        """(n,) the model's own uncertainty about each score, for the exploring policy:
        its calibration error for every pair, widened by how little is known of the
        therapist (a therapist with no track record scores as the average, with the
        whole spread of therapists' click rates as uncertainty)."""
        base = float(getattr(self, "uncertainty", MODEL_UNCERTAINTY))
        record = self.track_record
        if record is None or not hasattr(record, "alliance_"):
            return np.full(len(features), base)
        therapist = (1.0 - self.track_record_weight) * record.therapist_uncertainty(
            list(therapist_ids)
        )
        return np.sqrt(base**2 + therapist**2)

    def score(self, features: pd.DataFrame) -> np.ndarray:
        click = self.click_probability(features)
        if not self.track_record_weight:
            return click
        track = track_record_score(features["effectiveness"].to_numpy())
        return (1.0 - self.track_record_weight) * click + self.track_record_weight * track
