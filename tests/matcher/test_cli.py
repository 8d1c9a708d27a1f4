"""The batch command line, through ``matcher.cli.main`` and ``python -m matcher``."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pandas as pd
import pytest

from matcher import cli
from matcher.clinic import demo_therapist, not_on_track, placements_of, waiting_queue
from matcher.clinic.store import Store
from matcher.learning.registry import MODEL_DIR_ENV


@pytest.fixture
def database_url(any_database_url):
    """Storage, import and placement run on SQLite and on PostgreSQL."""
    return any_database_url


@pytest.fixture(autouse=True)
def fake_model(monkeypatch, fake_embedder, tmp_path):
    """The CLI builds the real embedder; swap in the fake for speed. Its default model
    registry is an empty folder, not the checkout's ./models (a developer's trained
    models must not change what these tests see)."""
    monkeypatch.setattr(cli, "SentenceTransformerEmbedder", lambda: fake_embedder)
    monkeypatch.setattr("matcher.api.SentenceTransformerEmbedder", lambda: fake_embedder)
    monkeypatch.setenv(MODEL_DIR_ENV, str(tmp_path / "default-models"))


def test_import_folder_then_counts(fixtures_dir, database_url, capsys):
    assert cli.main(["--database-url", database_url, "import", str(fixtures_dir)]) == 0
    assert "imported 6 therapists, 2 intakes, 2 outcomes" in capsys.readouterr().out
    assert Store(database_url).counts() == {"therapists": 6, "intakes": 2, "outcomes": 2}


def test_bad_file_is_rejected_whole(fixtures_dir, tmp_path, database_url, capsys):
    folder = tmp_path / "data"
    shutil.copytree(fixtures_dir, folder)
    outcomes = (folder / "outcomes.csv").read_text().replace("C2,T2,2,yes", "C2,T2,two,yes")
    (folder / "outcomes.csv").write_text(outcomes)
    assert cli.main(["--database-url", database_url, "import", str(folder)]) == 2
    err = capsys.readouterr().err
    assert "outcomes.csv, row 3, column 'sessions': expected a whole number" in err
    assert "nothing was changed" in err
    assert Store(database_url).counts() == {"therapists": 0, "intakes": 0, "outcomes": 0}


def test_outcome_for_unknown_therapist_is_rejected_whole(
    fixtures_dir, tmp_path, database_url, capsys
):
    folder = tmp_path / "data"
    shutil.copytree(fixtures_dir, folder)
    (folder / "outcomes.csv").write_text(
        "client_id,therapist_id,sessions,dropped_out\nC1,T99,3,no\n"
    )
    assert cli.main(["--database-url", database_url, "import", str(folder)]) == 2
    assert "unknown therapist 'T99'" in capsys.readouterr().err
    assert Store(database_url).counts()["therapists"] == 0


def test_reimport_replaces_rows_and_keeps_the_rest(fixtures_dir, tmp_path, database_url):
    assert cli.main(["--database-url", database_url, "import", str(fixtures_dir)]) == 0
    changed = tmp_path / "therapists.csv"
    changed.write_text(
        "therapist_id,name,languages,approach,telehealth,in_person,fee,capacity\n"
        "T1,Dr. Ana Ruiz-Lopez,english,Structured and practical.,yes,no,100,5\n"
    )
    assert cli.main(["--database-url", database_url, "import", "--therapists", str(changed)]) == 0
    store = Store(database_url)
    roster = store.therapists().set_index("therapist_id")
    assert roster.loc["T1", "name"] == "Dr. Ana Ruiz-Lopez" and roster.loc["T1", "capacity"] == 5
    assert len(roster) == 6


def test_rank_writes_one_row_per_suggestion(fixtures_dir, tmp_path, capsys):
    out = tmp_path / "ranks.csv"
    code = cli.main(
        [
            "rank",
            "--therapists",
            str(fixtures_dir / "therapists.csv"),
            "--intakes",
            str(fixtures_dir / "intakes.csv"),
            "--model-dir",
            "",
            "--top",
            "3",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    ranks = pd.read_csv(out)
    assert list(ranks.columns) == ["client_id", "rank", "therapist_id", "score", "reasons"]
    assert ranks.groupby("client_id")["rank"].apply(list).to_dict() == {"C1": [1], "C2": [1, 2, 3]}
    assert ranks["score"].between(0, 1).all()
    printed = capsys.readouterr()
    assert "prior scorer" in printed.out
    assert "C1: We found 1 therapist" in printed.err  # C1's budget and times leave one


def test_rank_reports_bad_intakes_without_writing(fixtures_dir, tmp_path, capsys):
    bad = tmp_path / "intakes.csv"
    bad.write_text("client_id,concerns,language,modality\nC9,anxiety,english,carrier pigeon\n")
    out = tmp_path / "ranks.csv"
    code = cli.main(
        [
            "rank",
            "--therapists",
            str(fixtures_dir / "therapists.csv"),
            "--intakes",
            str(bad),
            "--out",
            str(out),
        ]
    )
    assert code == 2 and not out.exists()
    assert "row 2, column 'modality'" in capsys.readouterr().err


def test_style_command_writes_four_axes(tmp_path):
    texts = tmp_path / "texts.csv"
    texts.write_text('id,text\na,"I set an agenda and give homework."\nb,"You lead; I listen."\n')
    out = tmp_path / "styles.csv"
    assert cli.main(["style", "--in", str(texts), "--out", str(out)]) == 0
    styles = pd.read_csv(out)
    assert list(styles.columns) == ["id", "directive", "intensity", "past_focus", "challenge"]
    assert styles["directive"].between(-3, 3).all()
    values = out.read_text().splitlines()[1].split(",")[1:]
    assert all(len(v.split(".")[-1]) <= 2 for v in values), values  # two decimals, as read


def test_python_dash_m_matcher_runs():
    result = subprocess.run(
        [sys.executable, "-m", "matcher", "--help"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0 and "rank" in result.stdout


def test_seed_demo_fills_an_empty_database_once(database_url, capsys, fake_embedder):
    args = [
        "--database-url",
        database_url,
        "seed-demo",
        "--therapists",
        "40",
        "--clients",
        "40",
        "--waiting",
        "8",
    ]
    assert cli.main(args, embedder=fake_embedder) == 0
    store = Store(database_url)
    # The practice is staged through the product's own functions: new clients placed (one
    # course not on track, one referral awaiting its therapist), one who chose a therapist.
    assert store.counts()["intakes"] == 48
    placed = [p for i in range(1, 9) for p in placements_of(store, f"W{i:04d}")]
    assert len(placed) >= 2 and sum(p.awaiting_therapist for p in placed) == 1
    assert len(not_on_track(store)) == 1
    chose = [i for i in waiting_queue(store) if i.choice == "therapist"]
    assert len(chose) == 1 and chose[0].chosen_therapist_id
    assert demo_therapist(store) == next(p.therapist_id for p in placed if p.awaiting_therapist)
    assert cli.main(args, embedder=fake_embedder) == 0
    assert "not seeding" in capsys.readouterr().out


# --- retraining on a schedule: --if-new-outcomes ----------------------------------------------


@pytest.fixture
def trainings(monkeypatch):
    """Record training runs instead of training (the rule under test comes before it)."""
    from matcher.learning.registry import save_version
    from matcher.learning.training import RegisteredModel
    from matcher.ranking import PriorScorer

    runs = []

    def fake_train(ts, model_dir, **options):
        runs.append(model_dir)
        save_version(model_dir, f"v{len(runs)}", PriorScorer(), {"data": {"outcomes": 2}})
        return RegisteredModel(f"v{len(runs)}", False, "a stand-in", {})

    monkeypatch.setattr(cli, "training_set_from_store", lambda store, embedder, **o: None)
    monkeypatch.setattr(cli, "train_and_register", fake_train)
    monkeypatch.setattr(cli, "training_summary", lambda card: "")
    return runs


@pytest.mark.parametrize(
    ("trained_on", "needed", "trains"),
    [
        pytest.param(None, 3, False, id="no-model-2-new-need-3"),
        pytest.param(None, 2, True, id="no-model-2-new-need-2"),
        pytest.param(1, 2, False, id="1-new-need-2"),
        pytest.param(1, 1, True, id="1-new-need-1"),
    ],
)
def test_train_if_new_outcomes_at_its_boundary(
    fixtures_dir, database_url, tmp_path, capsys, trainings, trained_on, needed, trains
):
    """The database holds 2 outcomes; the last model (if any) was trained on ``trained_on``."""
    from matcher.learning.registry import save_version
    from matcher.ranking import PriorScorer

    assert cli.main(["--database-url", database_url, "import", str(fixtures_dir)]) == 0
    models = tmp_path / "models"
    if trained_on is not None:
        save_version(models, "v0", PriorScorer(), {"data": {"outcomes_received": trained_on}})
    capsys.readouterr()
    args = ["--database-url", database_url, "train", "--model-dir", str(models)]
    assert cli.main([*args, "--if-new-outcomes", str(needed)]) == 0
    out = capsys.readouterr().out
    assert len(trainings) == int(trains)
    if trains:
        assert "model v1" in out
    else:
        new = 2 - (trained_on or 0)
        assert out.count("\n") == 1 and f"{new} new outcomes" in out and "not training" in out


def test_train_if_new_outcomes_counts_from_the_newest_training(
    fixtures_dir, database_url, tmp_path, capsys, trainings
):
    """A run that trained (promoted or not) resets the count: the next waits for more."""
    assert cli.main(["--database-url", database_url, "import", str(fixtures_dir)]) == 0
    args = ["--database-url", database_url, "train", "--model-dir", str(tmp_path / "models")]
    assert cli.main([*args, "--if-new-outcomes", "1"]) == 0
    assert cli.main([*args, "--if-new-outcomes", "1"]) == 0
    assert len(trainings) == 1
    assert "0 new outcomes since model v1 was trained" in capsys.readouterr().out
    assert cli.main([*args, "--if-new-outcomes", "-1"]) == 2


def test_rank_with_the_exploring_policy_writes_propensities(fixtures_dir, tmp_path, capsys):
    out = tmp_path / "ranks.csv"
    args = ["rank", "--therapists", str(fixtures_dir / "therapists.csv")]
    args += ["--intakes", str(fixtures_dir / "intakes.csv"), "--model-dir", ""]
    assert cli.main([*args, "--policy", "explore", "--out", str(out)]) == 0
    ranks = pd.read_csv(out)
    assert "propensity" in ranks.columns and ranks["propensity"].between(0, 1).all()
    assert "explore policy" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        cli.main([*args, "--policy", "random", "--out", str(out)])
