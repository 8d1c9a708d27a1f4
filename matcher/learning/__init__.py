"""Learning from outcomes: training sets, the learned scorer, evaluation and the registry.

datasets (labels, pair features, propensities) -> model (click model and track
record) -> training (selection, fit, the promotion gate) -> registry (versions,
checksums, atomic promotion). Imports :mod:`matcher.ranking` and the top-level
contract modules, never :mod:`matcher.clinic`.
"""

from . import registry
from .datasets import TrainingSet, build_training_set, click_labels, training_set_from_files
from .evaluation import evaluate
from .exploration import ExplorationSummary, exploration_summary
from .model import TRACK_RECORD_WEIGHT, ClickModel, LearnedScorer, TrackRecord
from .registry import default_model_dir, load_current
from .training import RegisteredModel, TrainingResult, train, train_and_register

__all__ = [
    "TRACK_RECORD_WEIGHT",
    "ClickModel",
    "ExplorationSummary",
    "LearnedScorer",
    "RegisteredModel",
    "TrackRecord",
    "TrainingResult",
    "TrainingSet",
    "build_training_set",
    "click_labels",
    "default_model_dir",
    "evaluate",
    "exploration_summary",
    "load_current",
    "registry",
    "train",
    "train_and_register",
    "training_set_from_files",
]
