"""The model registry: versioned artifacts under one folder, one of them current.

Layout::

    models/
        registry.json          {"current": "20261126-101500", "versions": {v: {"sha256": ...}}}
        20261126-101500/
            model.joblib       the fitted scorer
            card.json          what it was trained on and how well it did
            calibration.png

``registry.json`` is replaced atomically (write a temporary file, then
``os.replace``), so a crash during promotion leaves the previous model
current. Loading checks the artifact's sha256 against the registry before
unpickling, because unpickling runs code.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import tempfile
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
import sklearn

from ..errors import ModelArtifactError, NotFoundError
from ..ranking.scoring import PriorScorer, Scorer

MODEL_DIR_ENV = "MATCHER_MODEL_DIR"
REGISTRY_FILE = "registry.json"
ARTIFACT_FILE = "model.joblib"
CARD_FILE = "card.json"


def default_model_dir() -> Path:
    """``MATCHER_MODEL_DIR`` if set, else ``./models``."""
    return Path(os.environ.get(MODEL_DIR_ENV, "models"))


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_registry(model_dir: Path | str) -> dict[str, Any]:
    """The registry's contents; an empty registry when the folder has none."""
    path = Path(model_dir) / REGISTRY_FILE
    if not path.exists():
        return {"current": None, "versions": {}}
    try:
        registry = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise ModelArtifactError(f"cannot read {path}: {error}") from error
    registry.setdefault("current", None)
    registry.setdefault("versions", {})
    return registry


def write_registry(model_dir: Path | str, registry: dict[str, Any]) -> None:
    """Replace registry.json atomically."""
    model_dir = Path(model_dir)
    model_dir.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=model_dir, prefix=".registry-", suffix=".json")
    try:
        with os.fdopen(fd, "w") as handle:
            json.dump(registry, handle, indent=2, sort_keys=True)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, model_dir / REGISTRY_FILE)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def save_version(model_dir: Path | str, version: str, scorer: Any, card: dict[str, Any]) -> Path:
    """Write a new version's folder and record its checksum (does not promote it)."""
    model_dir = Path(model_dir)
    folder = model_dir / version
    if folder.exists():
        raise ModelArtifactError(f"model version {version!r} already exists in {model_dir}")
    staging = Path(
        tempfile.mkdtemp(dir=model_dir if model_dir.exists() else None, prefix=f".{version}-")
    )
    joblib.dump(scorer, staging / ARTIFACT_FILE)
    card = {**card, "version": version, "sha256": sha256_of(staging / ARTIFACT_FILE)}
    (staging / CARD_FILE).write_text(json.dumps(card, indent=2, sort_keys=True))
    model_dir.mkdir(parents=True, exist_ok=True)
    os.replace(staging, folder)
    registry = read_registry(model_dir)
    registry["versions"][version] = {"sha256": card["sha256"], "created": card.get("created")}
    write_registry(model_dir, registry)
    return folder


def promote(model_dir: Path | str, version: str) -> None:
    """Make ``version`` current, atomically."""
    registry = read_registry(model_dir)
    if version not in registry["versions"]:
        known = ", ".join(sorted(registry["versions"])) or "none"
        raise NotFoundError(f"no model version {version!r}; known versions: {known}")
    registry["previous"] = registry.get("current")
    registry["current"] = version
    write_registry(model_dir, registry)


def rollback(model_dir: Path | str) -> str:
    """Make the version before the current one current again; returns it."""
    registry = read_registry(model_dir)
    versions = sorted(registry["versions"])
    current = registry.get("current")
    if current not in versions or versions.index(current) == 0:
        raise NotFoundError("there is no earlier model version to roll back to")
    target = versions[versions.index(current) - 1]
    promote(model_dir, target)
    return target


def read_card(model_dir: Path | str, version: str) -> dict[str, Any]:
    path = Path(model_dir) / version / CARD_FILE
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise ModelArtifactError(f"cannot read the card of model {version!r}: {error}") from error


def outcomes_at_last_training(model_dir: Path | str) -> tuple[str | None, int]:
    """The newest trained version and how many outcome rows it was trained on; (None, 0)
    when nothing was ever trained.

    The newest, whether or not it is current: a candidate the gate turned down has
    already been judged on those outcomes, so ``matcher train --if-new-outcomes N``
    waits for N more rather than retraining on the same data at every scheduled run.
    The count is the card's ``data.outcomes_received`` (every outcome row given), or
    ``data.outcomes`` on cards written before it was recorded.
    """
    registry = read_registry(model_dir)
    if not registry["versions"]:
        return None, 0
    newest = max(
        registry["versions"], key=lambda v: (registry["versions"][v].get("created") or "", v)
    )
    data = read_card(model_dir, newest).get("data", {})
    return newest, int(data.get("outcomes_received", data.get("outcomes", 0)))


def environment() -> dict[str, str]:
    """The library versions a model card records and :func:`check_compatible` compares."""
    return {
        "python": platform.python_version(),
        "scikit_learn": sklearn.__version__,
        "numpy": np.__version__,
        "pandas": pd.__version__,
    }


#: Libraries whose (major, minor) version must match between training and serving:
#: a pickled scikit-learn estimator is only promised to load under the same version.
PINNED_LIBRARIES = ("scikit_learn", "numpy")


def check_compatible(card: dict[str, Any], version: str, embedding_model: str | None) -> None:
    """Refuse a model trained for another embedding model or incompatible libraries.

    Raises
    ------
    ModelArtifactError
        Naming what the card says and what is running.
    """
    trained_with = card.get("embedding_model") or ""
    if embedding_model and trained_with and trained_with != embedding_model:
        raise ModelArtifactError(
            f"model {version!r} was trained on embeddings of {trained_with!r}, but this "
            f"process embeds with {embedding_model!r}; retrain, or configure that model"
        )
    recorded = card.get("environment", {})
    running = environment()
    for library in PINNED_LIBRARIES:
        if library in recorded and _minor(recorded[library]) != _minor(running[library]):
            raise ModelArtifactError(
                f"model {version!r} was trained with {library.replace('_', '-')} "
                f"{recorded[library]}, but {running[library]} is installed; retrain it"
            )


def _minor(version: str) -> tuple[str, ...]:
    return tuple(str(version).split(".")[:2])


def load_version(
    model_dir: Path | str, version: str, *, embedding_model: str | None = None
) -> Scorer:
    """Load one version after checking its sha256 against the registry and its card
    against the running embedding model and libraries (``embedding_model=None``
    skips the embedding check)."""
    model_dir = Path(model_dir).resolve()
    registry = read_registry(model_dir)
    entry = registry["versions"].get(version)
    if entry is None:
        raise NotFoundError(f"no model version {version!r} in {model_dir}")
    path = (model_dir / version / ARTIFACT_FILE).resolve()
    if model_dir not in path.parents:
        raise ModelArtifactError(f"model version {version!r} points outside {model_dir}")
    if not path.exists():
        raise ModelArtifactError(f"model {version!r} has no {ARTIFACT_FILE} in {model_dir}")
    actual = sha256_of(path)
    if actual != entry["sha256"]:
        raise ModelArtifactError(
            f"model {version!r} failed its checksum (expected {entry['sha256'][:12]}…, "
            f"found {actual[:12]}…); it was changed after training and will not be loaded"
        )
    check_compatible(read_card(model_dir, version), version, embedding_model)
    try:
        scorer = joblib.load(path)
    except (ImportError, AttributeError) as error:  # pickled under another code layout
        raise ModelArtifactError(
            f"model {version!r} was saved by an older version of the code and cannot be "
            f"loaded ({error}); retrain with `matcher train`"
        ) from error
    scorer.version = version
    return scorer


def load_current(
    model_dir: Path | str | None = None, *, embedding_model: str | None = None
) -> Scorer:
    """The current model, or the prior scorer when the folder is empty, missing or ``""``.

    Raises
    ------
    ModelArtifactError
        When the current model fails its checksum or does not fit the running
        embedding model or libraries (see :func:`check_compatible`).
    """
    if model_dir is not None and not str(model_dir).strip():
        return PriorScorer()
    model_dir = default_model_dir() if model_dir is None else Path(model_dir)
    current = read_registry(model_dir).get("current")
    if not current:
        return PriorScorer()
    return load_version(model_dir, current, embedding_model=embedding_model)
