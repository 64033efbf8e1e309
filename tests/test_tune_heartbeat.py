"""A tuning worker killed with SIGKILL mid-trial: its trial becomes FAILED and is retried by
another worker, and its MLflow runs are closed (real Optuna RDB storage, real MLflow)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

CLI = [sys.executable, "-c", "import sys; from routerlab.cli import main; sys.exit(main())"]


@pytest.mark.slow
def test_killed_workers_trial_is_failed_retried_and_its_runs_closed(
    tmp_path: Path, data_dir: Path
) -> None:
    import optuna

    from harness.tracking import find_runs

    storage = f"sqlite:///{tmp_path / 'optuna.db'}"
    name = "heartbeat-test"
    cmd = [
        *CLI, "tune", "-r", "knn", "-l", "arena", "-b", "mt_bench", "--storage", storage,
        "--study-name", name, "--no-test", "--heartbeat-seconds", "1", "--grace-seconds", "3",
    ]
    env = {**os.environ, "ROUTERLAB_DATA_DIR": str(data_dir)}
    victim = subprocess.Popen(
        [*cmd, "--trials", "3"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + 300
        running = []
        while not running and time.monotonic() < deadline and victim.poll() is None:
            time.sleep(0.2)
            try:
                trials = optuna.load_study(study_name=name, storage=storage).trials
            except Exception:  # the study is not created yet
                continue
            running = [t for t in trials if t.state == optuna.trial.TrialState.RUNNING]
        assert running, "the worker never started a trial"
        time.sleep(2)  # a trial is RUNNING before its first beat; kill after one is recorded
        os.kill(victim.pid, signal.SIGKILL)
        victim.wait()
    finally:
        if victim.poll() is None:
            victim.kill()
    killed = running[0]
    time.sleep(4)  # past the grace period: the killed trial's heartbeat is stale

    other = subprocess.run([*cmd, "--trials", "2"], env=env, capture_output=True, text=True,
                           timeout=600)
    assert other.returncode == 0, other.stderr[-3000:]

    trials = optuna.load_study(study_name=name, storage=storage).trials
    states = {t.number: t.state for t in trials}
    assert states[killed.number] == optuna.trial.TrialState.FAIL
    assert optuna.trial.TrialState.RUNNING not in states.values()
    retried = [t for t in trials if t.system_attrs.get("failed_trial") == killed.number]
    assert len(retried) == 1 and retried[0].state == optuna.trial.TrialState.COMPLETE
    assert retried[0].params == trials[killed.number].params

    # MLflow: the dead worker's tuning run is KILLED, its trial logged as FAILED.
    tuning = find_runs(filter={"routerlab.kind": "tuning"})
    by_status = sorted(r.info.status for r in tuning)
    assert by_status == ["FINISHED", "KILLED"], by_status
    logged = find_runs(filter={"routerlab.kind": "trial", "routerlab.optuna_study": name})
    failed = [r for r in logged if r.data.tags["routerlab.trial"] == str(killed.number)]
    assert [r.info.status for r in failed] == ["FAILED"]
