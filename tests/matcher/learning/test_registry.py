"""The model registry: checksums, champion/challenger promotion, rollback, train.py."""

from __future__ import annotations

import json

import numpy as np
import pytest

import train as train_script
from matcher import Matcher, Ranking
from matcher.errors import ModelArtifactError, NotFoundError
from matcher.learning import registry
from matcher.learning.model import LearnedScorer
from matcher.ranking.scoring import PriorScorer
from matcher.simulation import simulate_world


@pytest.fixture(scope="module")
def world_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("world")
    simulate_world(40, 600, seed=5).write_csv(folder)
    return folder


def _train(world_dir, model_dir, fake_embedder, *extra, force=True):
    """Train on the module's world; forced by default, since these tests need a current
    model whatever the promotion gate decides (the gate has tests of its own)."""
    argv = [
        "--therapists",
        str(world_dir / "therapists.csv"),
        "--intakes",
        str(world_dir / "intakes.csv"),
        "--outcomes",
        str(world_dir / "outcomes.csv"),
        "--model-dir",
        str(model_dir),
        *(["--force"] if force else []),
        *extra,
    ]
    return train_script.main(argv, embedder=fake_embedder)


def test_empty_or_missing_folder_means_the_prior(tmp_path):
    assert isinstance(registry.load_current(tmp_path / "nothing-here"), PriorScorer)
    assert isinstance(registry.load_current(""), PriorScorer)


def test_train_saves_card_plot_and_checksum_and_promotes(
    world_dir, tmp_path, fake_embedder, capsys
):
    assert _train(world_dir, tmp_path, fake_embedder) == 0
    assert "promoted to current" in capsys.readouterr().out
    state = registry.read_registry(tmp_path)
    version = state["current"]
    folder = tmp_path / version
    assert {p.name for p in folder.iterdir()} == {"model.joblib", "card.json", "calibration.png"}
    card = json.loads((folder / "card.json").read_text())
    assert (
        card["sha256"]
        == state["versions"][version]["sha256"]
        == registry.sha256_of(folder / "model.joblib")
    )
    scorer = registry.load_current(tmp_path)
    assert isinstance(scorer, LearnedScorer) and scorer.version == version


def test_matcher_load_picks_up_the_current_model(world_dir, tmp_path, fake_embedder):
    assert _train(world_dir, tmp_path, fake_embedder) == 0
    matcher = Matcher.load(tmp_path, world_dir / "therapists.csv", embedder=fake_embedder)
    ranking = matcher.rank({"concerns": "anxiety", "language": "english", "modality": "telehealth"})
    assert ranking.model_version == registry.read_registry(tmp_path)["current"]
    assert all(s.model_version == ranking.model_version for s in ranking)


def test_a_tampered_artifact_is_refused(world_dir, tmp_path, fake_embedder):
    assert _train(world_dir, tmp_path, fake_embedder) == 0
    version = registry.read_registry(tmp_path)["current"]
    with (tmp_path / version / "model.joblib").open("ab") as handle:
        handle.write(b"tampered")
    with pytest.raises(ModelArtifactError, match="failed its checksum"):
        registry.load_current(tmp_path)


def test_a_challenger_that_is_not_better_is_not_promoted(
    world_dir, tmp_path, fake_embedder, capsys
):
    assert _train(world_dir, tmp_path, fake_embedder) == 0
    first = registry.read_registry(tmp_path)["current"]
    # the same data and seed give the same model: not better, so it stays a challenger
    assert _train(world_dir, tmp_path, fake_embedder, force=False) == 0
    assert "saved, not promoted" in capsys.readouterr().out
    state = registry.read_registry(tmp_path)
    assert state["current"] == first and len(state["versions"]) == 2
    # --force overrides
    assert _train(world_dir, tmp_path, fake_embedder, "--force") == 0
    assert registry.read_registry(tmp_path)["current"] != first


def test_promote_and_rollback(world_dir, tmp_path, fake_embedder, capsys):
    from matcher import cli

    assert _train(world_dir, tmp_path, fake_embedder) == 0
    assert _train(world_dir, tmp_path, fake_embedder, "--force") == 0
    first, second = sorted(registry.read_registry(tmp_path)["versions"])
    assert cli.main(["models", "rollback", "--model-dir", str(tmp_path)]) == 0
    assert registry.read_registry(tmp_path)["current"] == first
    assert cli.main(["models", "promote", second, "--model-dir", str(tmp_path)]) == 0
    assert registry.read_registry(tmp_path)["current"] == second
    assert cli.main(["models", "list", "--model-dir", str(tmp_path)]) == 0
    listing = capsys.readouterr().out
    assert f"* {second}" in listing and f"  {first}" in listing
    with pytest.raises(NotFoundError, match="no model version 'nope'"):
        registry.promote(tmp_path, "nope")


def test_if_missing_does_nothing_when_a_model_exists(world_dir, tmp_path, fake_embedder, capsys):
    assert _train(world_dir, tmp_path, fake_embedder) == 0
    assert _train(world_dir, tmp_path, fake_embedder, "--if-missing") == 0
    assert "not training" in capsys.readouterr().out
    assert len(registry.read_registry(tmp_path)["versions"]) == 1


def test_a_crash_while_promoting_leaves_the_old_model_current(
    world_dir, tmp_path, fake_embedder, monkeypatch
):
    assert _train(world_dir, tmp_path, fake_embedder) == 0
    assert _train(world_dir, tmp_path, fake_embedder, "--force") == 0
    before = registry.read_registry(tmp_path)

    def crash(*args, **kwargs):
        raise KeyboardInterrupt("power cut")

    monkeypatch.setattr(registry.json, "dump", crash)
    with pytest.raises(KeyboardInterrupt):
        registry.rollback(tmp_path)
    assert registry.read_registry(tmp_path) == before
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".registry-")]


def test_train_from_the_database_uses_logged_rankings(
    world_dir, tmp_path, fake_embedder, database_url
):
    from matcher.clinic.store import Store
    from matcher.schema import read_directory

    store = Store(database_url)
    tables = read_directory(world_dir)
    store.import_tables(**tables)
    # each client was shown its placed therapist first
    for client, therapist in zip(
        tables["outcomes"]["client_id"][:300], tables["outcomes"]["therapist_id"][:300], strict=True
    ):
        store.save_ranking(
            client,
            Ranking.from_dict(
                {
                    "suggestions": [
                        {"therapist_id": therapist, "rank": 1, "score": 0.5, "name": therapist}
                    ],
                    "eligible": 10,
                }
            ),
        )
    argv = ["--database-url", database_url, "--model-dir", str(tmp_path), "--force"]
    assert train_script.main(argv, embedder=fake_embedder) == 0
    version = registry.read_registry(tmp_path)["current"]
    card = registry.read_card(tmp_path, version)
    assert card["selection_bias"]["inverse_propensity_weighting"] is True
    assert card["selection_bias"]["propensities_logged"] == 300


def test_a_running_matcher_picks_up_a_newly_promoted_model(world_dir, tmp_path, fake_embedder):
    matcher = Matcher.load(tmp_path, world_dir / "therapists.csv", embedder=fake_embedder)
    intake = {"concerns": "anxiety", "language": "english", "modality": "telehealth"}
    assert matcher.rank(intake).model_version == "prior"
    assert _train(world_dir, tmp_path, fake_embedder) == 0
    assert matcher.rank(intake).model_version == registry.read_registry(tmp_path)["current"]


def _edit_card(model_dir, version, **changes):
    path = model_dir / version / "card.json"
    card = json.loads(path.read_text())
    for key, value in changes.items():
        if isinstance(value, dict):
            card.setdefault(key, {}).update(value)
        else:
            card[key] = value
    path.write_text(json.dumps(card))


def test_a_model_for_another_embedding_model_is_refused_naming_both(
    world_dir, tmp_path, fake_embedder
):
    assert _train(world_dir, tmp_path, fake_embedder) == 0
    version = registry.read_registry(tmp_path)["current"]
    _edit_card(tmp_path, version, embedding_model="other-encoder")
    with pytest.raises(ModelArtifactError, match="'other-encoder'.*'fake-bow'"):
        registry.load_current(tmp_path, embedding_model="fake-bow")
    with pytest.raises(ModelArtifactError, match="other-encoder"):
        Matcher.load(tmp_path, world_dir / "therapists.csv", embedder=fake_embedder)


def test_a_model_from_other_library_versions_is_refused(world_dir, tmp_path, fake_embedder):
    assert _train(world_dir, tmp_path, fake_embedder) == 0
    version = registry.read_registry(tmp_path)["current"]
    _edit_card(tmp_path, version, environment={"scikit_learn": "0.99.0"})
    with pytest.raises(ModelArtifactError, match=r"scikit-learn 0\.99\.0, but .* is installed"):
        registry.load_current(tmp_path, embedding_model="fake-bow")


def test_a_running_matcher_keeps_its_model_when_the_new_one_is_incompatible(
    world_dir, tmp_path, fake_embedder
):
    assert _train(world_dir, tmp_path, fake_embedder) == 0
    good = registry.read_registry(tmp_path)["current"]
    matcher = Matcher.load(tmp_path, world_dir / "therapists.csv", embedder=fake_embedder)
    assert _train(world_dir, tmp_path, fake_embedder, "--seed", "1") == 0
    newer = registry.read_registry(tmp_path)["current"]
    assert newer != good
    _edit_card(tmp_path, newer, embedding_model="other-encoder")
    intake = {"concerns": "anxiety", "language": "english", "modality": "telehealth"}
    assert matcher.rank(intake).model_version == good


def test_a_model_trained_on_noise_is_not_promoted_and_the_prior_stays(
    world_dir, tmp_path, fake_embedder, capsys
):
    import pandas as pd

    noise = tmp_path / "noise"
    noise.mkdir()
    for name in ("therapists.csv", "intakes.csv"):
        (noise / name).write_bytes((world_dir / name).read_bytes())
    outcomes = pd.read_csv(world_dir / "outcomes.csv", dtype=str, keep_default_na=False)
    coin = np.random.default_rng(0).random(len(outcomes)) < 0.4
    outcomes["click"] = np.where(coin, "1", "0")  # an explicit label with no signal in it
    outcomes.to_csv(noise / "outcomes.csv", index=False)
    assert _train(noise, tmp_path / "models", fake_embedder, force=False) == 0
    out = capsys.readouterr().out
    assert "saved, not promoted" in out and "stays" in out
    assert registry.read_registry(tmp_path / "models")["current"] is None


def test_a_serving_matcher_ranks_with_the_prior_when_the_model_cannot_load(
    world_dir, tmp_path, fake_embedder, caplog
):
    assert _train(world_dir, tmp_path, fake_embedder) == 0
    version = registry.read_registry(tmp_path)["current"]
    _edit_card(tmp_path, version, embedding_model="other-encoder")
    roster = world_dir / "therapists.csv"
    matcher = Matcher.load(tmp_path, roster, embedder=fake_embedder, strict=False)
    intake = {"concerns": "anxiety", "language": "english", "modality": "telehealth"}
    assert matcher.rank(intake).model_version == "prior"
    assert "other-encoder" in caplog.text


def test_a_model_pickled_under_an_old_code_layout_says_retrain(world_dir, tmp_path, fake_embedder):
    import joblib

    assert _train(world_dir, tmp_path, fake_embedder) == 0
    version = registry.read_registry(tmp_path)["current"]
    artifact = tmp_path / version / "model.joblib"
    scorer = joblib.load(artifact)
    # a pickle naming a module that no longer exists (as matcher.model did before)
    payload = artifact.read_bytes().replace(b"matcher.learning.model", b"matcher.learnXng.model")
    artifact.write_bytes(payload)
    state = registry.read_registry(tmp_path)
    state["versions"][version]["sha256"] = registry.sha256_of(artifact)
    registry.write_registry(tmp_path, state)
    with pytest.raises(ModelArtifactError, match="older version of the code.*matcher train"):
        registry.load_current(tmp_path)
    assert scorer is not None
