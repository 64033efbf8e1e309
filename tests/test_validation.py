"""Every bad value is one clear line before any data loads and before MLflow is touched."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from harness.errors import ConfigError
from routerlab.cli import main

BASE = 'name = "s"\nbenchmarks = ["gsm8k"]\n'
SYSTEMS = '[[systems]]\nrouter = "random"\n'
KNN = '[[grid]]\nlabels = ["arena"]\nrouters = ["knn"]\n'


def _store_untouched() -> None:
    home = Path(os.environ["ROUTERLAB_HOME"])
    assert not (home / "mlflow.db").exists(), "an MLflow store was written"
    assert not (home / "optuna.db").exists(), "an Optuna storage was written"


def _one_line_error(capsys: pytest.CaptureFixture[str], argv: list[str], *expected: str) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert "Traceback" not in err
    for text in expected:
        assert text in err, err
    _store_untouched()
    return err


@pytest.mark.parametrize(
    ("router", "param", "expected"),
    [
        ("knn", "k=abc", "k='abc' is not allowed; want a whole number from 1 to 100000"),
        ("knn", "k=-1", "k=-1 is not allowed"),
        ("knn", "k=0", "k=0 is not allowed"),
        ("knn", "k=2.5", "k=2.5 is not allowed"),
        ("knn", "k=100000000", "k=100000000 is not allowed"),
        ("knn", "kk=3", "did you mean 'k'"),
        ("knn", "weights=uniforn", "did you mean 'uniform'"),
        ("mlp", "hidden_size=-5", "hidden_size=-5 is not allowed; want a whole number from 1"),
        ("mlp", "dropout=1.5", "dropout=1.5"),
        ("sw_ranking", "gamma=abc", "gamma='abc'"),
    ],
)
def test_bad_router_param_is_one_line_before_any_data_loads(
    capsys: pytest.CaptureFixture[str], router: str, param: str, expected: str
) -> None:
    # A data directory that does not exist: the check must come before anything loads.
    argv = ["evaluate", "-b", "gsm8k", "-r", router, "-l", "arena", "--router-param", param,
            "--data-dir", "/nonexistent"]
    _one_line_error(capsys, argv, f"router {router}", expected)


def test_bad_label_param_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["evaluate", "-b", "gsm8k", "-r", "knn", "-l", "se", "--label-param", "tau=high",
            "--data-dir", "/nonexistent"]
    _one_line_error(capsys, argv, "label source se", "tau='high' is not allowed")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (BASE + 'seeds = ["a"]\n' + SYSTEMS, "seeds = ['a']: 'a' is not allowed"),
        (BASE + 'n_boot = "x"\n' + SYSTEMS, "n_boot = 'x' is not allowed"),
        (BASE + "n_boot = -3\n" + SYSTEMS, "n_boot = -3 is not allowed; want a whole number >= 0"),
        (BASE + 'grid = "oops"\n', "grid = 'oops' is not allowed; write [[grid]] blocks"),
        (BASE + KNN + '[label_params.arena]\nsplit = 3\n', "split=3 is not allowed; want text"),
        (
            BASE + '[[grid]]\nlabels = ["se"]\nrouters = ["knn"]\n[label_params.se]\n'
            'tau = "high"\n',
            "[label_params.se]: tau='high' is not allowed",
        ),
        (BASE + KNN + "[router_params.knn]\nk = 2.5\n", "k=2.5 is not allowed"),
        (BASE + KNN + "[router_params.knn]\nk = 100000000\n", "k=100000000 is not allowed"),
        (BASE + KNN + "[router_params.knnn]\nk = 3\n", "did you mean 'knn'"),
        (BASE + KNN + 'router = ["mlp"]\n', "grid[0] has unknown field(s) ['router']"),
        (BASE + SYSTEMS + 'label = "arena"\n', "systems[0] has unknown field(s) ['label']"),
        (BASE + SYSTEMS + "[tuning]\ntrials = 0\n", "tuning.trials = 0 is not allowed"),
        (BASE + SYSTEMS + "[tuning]\ntrails = 3\n", "did you mean 'trials'"),
        (BASE + SYSTEMS + '[model_pair]\nstrnog = "x"\n', "did you mean 'strong'"),
        (BASE + SYSTEMS + '[judge]\nendpont = "x"\n', "did you mean 'endpoint'"),
    ],
)
def test_bad_study_file_is_one_line_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, expected: str
) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    err = _one_line_error(capsys, ["run", str(path), "--data-dir", "/nonexistent"], expected)
    assert str(path) in err


def test_whole_number_float_runs_and_logs_as_an_integer(tmp_path: Path) -> None:
    from studies.spec import load_study

    path = tmp_path / "s.toml"
    path.write_text(BASE + KNN + "[router_params.knn]\nk = 3.0\n")
    (combo,) = load_study(path).combinations()
    assert combo.router_params == {"k": 3} and isinstance(combo.router_params["k"], int)


def test_study_file_with_a_byte_order_mark_is_read(tmp_path: Path) -> None:
    from studies.spec import load_study

    path = tmp_path / "bom.toml"
    path.write_bytes(b"\xef\xbb\xbf" + (BASE + SYSTEMS).encode())
    assert load_study(path).name == "s"


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--trials", "0"], "trials = 0 is not allowed"),
        (["--validation-fraction", "1.5"], "validation_fraction = 1.5 is not allowed"),
    ],
)
def test_bad_tune_flags_are_one_line_and_write_nothing(
    capsys: pytest.CaptureFixture[str], argv: list[str], expected: str
) -> None:
    base = ["tune", "-r", "knn", "-l", "arena", "-b", "mt_bench", "--data-dir", "/nonexistent"]
    _one_line_error(capsys, base + argv, expected)


def test_tune_refuses_one_database_for_optuna_and_mlflow(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    url = "postgresql://user:pw@127.0.0.1:1/shared"  # never connected to: refused first
    monkeypatch.setenv("MLFLOW_TRACKING_URI", url)
    argv = ["tune", "-r", "knn", "-l", "arena", "-b", "mt_bench", "--storage", url,
            "--data-dir", "/nonexistent"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "separate databases" in err and "pw" not in err


def test_run_flags_are_checked(capsys: pytest.CaptureFixture[str]) -> None:
    _one_line_error(capsys, ["run", "smoke", "--workers", "0"], "--workers 0")


def test_check_params_rules() -> None:
    from harness.params import check_params
    from routers.knn import KNNRouter
    from routers.mlp import MLPRouter

    assert check_params(KNNRouter, {"k": 2.0, "weights": "similarity"}, "x") == {
        "k": 2,
        "weights": "similarity",
    }
    assert check_params(MLPRouter, {"lr": 1}, "x") == {"lr": 1.0}  # an int where a float goes
    for bad in ({"k": True}, {"k": float("nan")}, {"chunk_size": 0}, {"duplicates": "x"}):
        with pytest.raises(ConfigError, match="is not allowed"):
            check_params(KNNRouter, bad, "x")


@pytest.mark.postgres
def test_bare_postgresql_tracking_uri_works(
    monkeypatch: pytest.MonkeyPatch, fresh_postgres_store: str
) -> None:
    """``MLFLOW_TRACKING_URI=postgresql://...`` (no driver named) uses the installed driver."""
    from harness.tracking import find_runs, open_store

    bare = "postgresql://" + fresh_postgres_store.split("://", 1)[1]
    monkeypatch.setenv("MLFLOW_TRACKING_URI", bare)
    assert open_store()
    assert isinstance(find_runs(filter={"routerlab.study": "never-such"}), list)
