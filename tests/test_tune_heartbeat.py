"""A tuning worker killed with SIGKILL mid-trial: its trial becomes FAILED and is retried by
another worker, and its MLflow runs are closed (real Optuna RDB storage, real MLflow)."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

CLI = [sys.executable, "-c", "import sys; from routerlab.cli import main; sys.exit(main())"]


def _running_trials_with_a_beat(db: Path, study: str) -> list[int]:
    """Numbers of the study's RUNNING trials that have recorded a heartbeat and drawn a
    parameter.

    Read from Optuna's tables directly: a trial that dies before its first beat is never
    stale to Optuna, and one that dies before drawing a parameter gives the retry nothing to
    repeat, so the test kills a worker only once its trial has done both.
    """
    if not db.exists():
        return []
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as con:
            rows = con.execute(
                "SELECT t.number FROM trials t JOIN studies s ON s.study_id = t.study_id "
                "JOIN trial_heartbeats h ON h.trial_id = t.trial_id "
                "WHERE s.study_name = ? AND t.state = 'RUNNING' AND EXISTS "
                "(SELECT 1 FROM trial_params p WHERE p.trial_id = t.trial_id)",
                (study,),
            ).fetchall()
    except sqlite3.OperationalError:  # tables not created yet, or a writer holds the lock
        return []
    return [number for (number,) in rows]


def _kill_mid_trial(cmd: list[str], env: dict[str, str], db: Path, study: str) -> list[int]:
    """Start a worker with many trials, SIGKILL it while a trial runs; return the trials left
    RUNNING (read after it died, so a trial that ended just before the kill is not counted)."""
    victim = subprocess.Popen(
        [*cmd, "--trials", "500"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and victim.poll() is None:
            if _running_trials_with_a_beat(db, study):
                break
            time.sleep(0.05)
        assert victim.poll() is None, "the worker exited before a trial beat"
        os.kill(victim.pid, signal.SIGKILL)
        victim.wait()
    finally:
        if victim.poll() is None:
            victim.kill()
    import optuna

    trials = optuna.load_study(study_name=study, storage=f"sqlite:///{db}").trials
    return [t.number for t in trials if t.state == optuna.trial.TrialState.RUNNING]


@pytest.mark.slow
def test_killed_workers_trial_is_failed_retried_and_its_runs_closed(
    tmp_path: Path, data_dir: Path
) -> None:
    import optuna

    from harness.tracking import find_runs

    db = tmp_path / "optuna.db"
    storage = f"sqlite:///{db}"
    env = {**os.environ, "ROUTERLAB_DATA_DIR": str(data_dir)}
    # A trial takes about a second, so the kill can land in the few milliseconds between one
    # trial ending and the next one's first beat. Such a run proves nothing; start afresh.
    for attempt in range(3):
        name = f"heartbeat-test-{attempt}"
        cmd = [
            *CLI, "tune", "-r", "knn", "-l", "arena", "-b", "mt_bench", "--storage", storage,
            "--study-name", name, "--no-test", "--heartbeat-seconds", "1",
            "--grace-seconds", "3",
        ]
        left_running = _kill_mid_trial(cmd, env, db, name)
        if left_running and set(left_running) <= set(_running_trials_with_a_beat(db, name)):
            break
    else:
        pytest.fail("three kills all landed between trials")
    assert len(left_running) == 1, left_running
    killed = left_running[0]
    time.sleep(4)  # past the grace period: the killed trial's heartbeat is stale

    other = subprocess.run([*cmd, "--trials", "2"], env=env, capture_output=True, text=True,
                           timeout=600)
    assert other.returncode == 0, other.stderr[-3000:]

    trials = optuna.load_study(study_name=name, storage=storage).trials
    states = {t.number: t.state for t in trials}
    assert states[killed] == optuna.trial.TrialState.FAIL
    assert optuna.trial.TrialState.RUNNING not in states.values()
    retried = [t for t in trials if t.system_attrs.get("failed_trial") == killed]
    assert len(retried) == 1 and retried[0].state == optuna.trial.TrialState.COMPLETE
    # The retry repeats every parameter the killed trial had drawn; one it died before
    # drawing is sampled afresh.
    drawn = trials[killed].params
    assert drawn and {k: retried[0].params.get(k) for k in drawn} == drawn

    # MLflow: the dead worker's tuning run is KILLED, its trial logged as FAILED.
    tuning = [
        r for r in find_runs(filter={"routerlab.kind": "tuning"})
        if r.data.params.get("optuna_study") == name
    ]
    by_status = sorted(r.info.status for r in tuning)
    assert by_status == ["FINISHED", "KILLED"], by_status
    logged = find_runs(filter={"routerlab.kind": "trial", "routerlab.optuna_study": name})
    failed = [r for r in logged if r.data.tags["routerlab.trial"] == str(killed)]
    assert [r.info.status for r in failed] == ["FAILED"]
