"""Several workers on one study: each combination evaluated once, a killed worker's share
taken over, on a real sqlite store and on a real PostgreSQL one (``.ci/postgres.sh``)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

CLI = [sys.executable, "-c", "import sys; from routerlab.cli import main; sys.exit(main())"]


def _study(tmp_path: Path, name: str) -> Path:
    path = tmp_path / f"{name}.toml"
    path.write_text(
        f'name = "{name}"\nbenchmarks = ["mt_bench"]\nseeds = [0, 1, 2]\nn_boot = 20\n'
        '[[grid]]\nlabels = ["arena"]\nrouters = ["knn"]\n'
        '[[systems]]\nrouter = "random"\n'
    )
    return path


def _claim_of(pid: int, name: str) -> str | None:
    """The key a worker process holds a running claim on, if any."""
    from studies.claims import ClaimBoard

    board = ClaimBoard(name, worker="observer")
    try:
        import sqlalchemy as sa

        with board.engine.begin() as conn:
            rows = conn.execute(sa.select(board.table)).fetchall()
    finally:
        board.close()
    for row in rows:
        if row.study == name and row.state == "running" and f":{pid}:" in row.worker:
            return str(row.key)
    return None


def _three_workers_one_killed(tmp_path: Path, data_dir: Path, name: str) -> None:
    from harness.tracking import find_runs
    from studies.runner import StudyLoader, keyed_combinations
    from studies.spec import load_study

    study_file = _study(tmp_path, name)
    env = {**os.environ, "ROUTERLAB_DATA_DIR": str(data_dir)}
    cmd = [*CLI, "run", str(study_file), "--no-progress", "--lease-seconds", "30"]
    def start() -> subprocess.Popen[str]:
        return subprocess.Popen(
            cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )

    # The first worker starts alone, so that it surely claims a combination before the
    # others can finish them all (a combination takes about a second now); the other two
    # start as soon as it holds one, and it is killed while they run. (The race of several
    # processes creating one fresh store is the four-process test below.)
    victim = start()
    workers = [victim]
    try:
        # Kill the first worker with SIGKILL while it evaluates a combination.
        killed_key = None
        deadline = time.monotonic() + 300
        while killed_key is None and time.monotonic() < deadline and victim.poll() is None:
            try:
                killed_key = _claim_of(victim.pid, name)
            except Exception:  # the claims table is not there yet
                pass
            time.sleep(0.2)
        if killed_key is None:
            victim.kill()
            pytest.fail(f"the first worker never claimed a combination: {victim.communicate()}")
        workers += [start(), start()]
        os.kill(victim.pid, signal.SIGKILL)
        victim.wait()
        results = [w.communicate(timeout=600) for w in workers[1:]]
    finally:
        for w in workers:
            if w.poll() is None:
                w.kill()
    for w, (_out, err) in zip(workers[1:], results, strict=True):
        assert w.returncode == 0, err[-3000:]
        assert "Traceback" not in err, err[-3000:]

    keys = {c.key for c in keyed_combinations(load_study(study_file), StudyLoader(data_dir))}
    assert len(keys) == 6
    runs = find_runs(filter={"routerlab.study": name, "routerlab.kind": "evaluation"})
    finished = [r for r in runs if r.info.status == "FINISHED"]
    # Exactly one FINISHED run per combination, and it is the complete one.
    assert sorted(r.data.tags["routerlab.key"] for r in finished) == sorted(keys)
    assert all(r.data.tags.get("routerlab.complete") == "1" for r in finished)
    # The killed worker's run (if it had got that far) is closed, not left RUNNING.
    assert not [r for r in runs if r.info.status == "RUNNING"]
    for r in runs:
        if r.info.status != "FINISHED":
            assert r.data.tags["routerlab.key"] == killed_key
            assert r.info.status == "KILLED"
    # One parent run shared by all workers.
    parents = find_runs(filter={"routerlab.study": name, "routerlab.kind": "parent"})
    assert len(parents) == 1
    assert {r.data.tags["mlflow.parentRunId"] for r in runs} == {parents[0].info.run_id}


@pytest.mark.slow
def test_three_workers_on_sqlite_one_killed_each_combination_once(
    tmp_path: Path, data_dir: Path
) -> None:
    # A fresh store: the three workers also race MLflow's first-time schema setup.
    _three_workers_one_killed(tmp_path, data_dir, "workers_sqlite")


@pytest.mark.slow
@pytest.mark.postgres
def test_three_workers_on_postgres_one_killed_each_combination_once(
    tmp_path: Path, data_dir: Path, fresh_postgres_store: str
) -> None:
    _three_workers_one_killed(tmp_path, data_dir, "workers_postgres")


def test_a_claim_is_held_once_and_taken_over_when_its_worker_is_gone(tmp_path: Path) -> None:
    from studies.claims import ClaimBoard

    url = f"sqlite:///{tmp_path / 'claims.db'}"
    # A lease long enough that a loaded machine cannot let it lapse between two statements.
    a = ClaimBoard("s", url, lease_seconds=3.0, worker="elsewhere:1:a")
    b = ClaimBoard("s", url, lease_seconds=3.0, worker="elsewhere:2:b")
    claim = a.try_claim("k")
    assert claim is not None
    claim.stop()  # a worker on another machine that stopped beating (killed)
    assert b.try_claim("k") is None  # still within its lease
    assert b.held_by_others({"k"}) == {"k": "elsewhere:1:a"}
    time.sleep(3.2)
    taken = b.try_claim("k")
    assert taken is not None
    assert not claim.confirm()  # the old holder learns it lost the claim
    b.finish(taken, "done")
    # A worker on this machine whose process is gone is taken over at once.
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    c = ClaimBoard("s", url, lease_seconds=3600, worker=f"{os.uname().nodename}:{dead.pid}:c")
    c.try_claim("k2").stop()  # type: ignore[union-attr]
    assert b.try_claim("k2") is not None
    # The parent run is agreed on: the first registered wins.
    assert a.agree_parent("run-a") == "run-a"
    assert b.agree_parent("run-b") == "run-a"


def test_four_processes_opening_one_fresh_sqlite_store_all_succeed(tmp_path: Path) -> None:
    # MLflow's first-time schema setup, run by several processes at once, used to fail
    # with "duplicate column name: step" or leave a half-migrated file.
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}"}
    code = "from harness.tracking import open_store; print('experiment', open_store())"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code], env=env, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True,
        )
        for _ in range(4)
    ]
    outs = [p.communicate(timeout=300) for p in procs]
    for p, (out, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0, err[-2000:]
        assert out.strip() == "experiment 1"


@pytest.mark.slow
def test_run_workers_flag_starts_processes_that_share_the_study(
    tmp_path: Path, data_dir: Path
) -> None:
    from harness.tracking import find_runs

    study_file = _study(tmp_path, "workers_flag")
    env = {**os.environ, "ROUTERLAB_DATA_DIR": str(data_dir)}
    proc = subprocess.run(
        [*CLI, "run", str(study_file), "--workers", "2"],
        env=env, capture_output=True, text=True, timeout=900,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "1 helper worker exited with [0]" in proc.stdout  # this process is the other
    runs = find_runs(filter={"routerlab.study": "workers_flag", "routerlab.kind": "evaluation"})
    keys = [r.data.tags["routerlab.key"] for r in runs if r.info.status == "FINISHED"]
    assert len(keys) == 6 and len(set(keys)) == 6
    summaries = [line for line in proc.stdout.splitlines() if line.startswith("study workers")]
    assert len(summaries) == 2, proc.stdout


@pytest.mark.slow
def test_rerun_closes_a_killed_runs_leftovers_and_leaves_one_finished_run(
    tmp_path: Path, data_dir: Path
) -> None:
    """What a study killed with SIGKILL leaves behind: a child run still RUNNING (killed
    mid-evaluation) and a FINISHED run without the complete tag (killed right before it).
    The next run closes both and leaves exactly one FINISHED run per combination."""
    from harness.tracking import client, find_runs, open_store
    from studies.runner import StudyLoader, keyed_combinations, run_study
    from studies.spec import load_study

    path = tmp_path / "leftovers.toml"
    path.write_text(
        'name = "leftovers"\nbenchmarks = ["mt_bench"]\nn_boot = 20\n'
        '[[grid]]\nlabels = ["arena"]\nrouters = ["knn"]\n[[systems]]\nrouter = "random"\n'
    )
    study = load_study(path)
    first, second = (c.key for c in keyed_combinations(study, StudyLoader(data_dir)))
    mlflow_client = client()
    exp = open_store()
    left = {}
    for key, status in ((first, "RUNNING"), (second, "FINISHED")):
        run = mlflow_client.create_run(
            exp,
            tags={"routerlab.study": "leftovers", "routerlab.key": key,
                  "routerlab.kind": "evaluation"},
        )
        if status == "FINISHED":
            mlflow_client.set_terminated(run.info.run_id, status="FINISHED")
        left[run.info.run_id] = status

    outcome = run_study(study, data_dir=data_dir, progress=False)
    assert len(outcome.ran) == 2 and not outcome.failed

    runs = find_runs(filter={"routerlab.study": "leftovers", "routerlab.kind": "evaluation"})
    status = {r.info.run_id: r.info.status for r in runs}
    assert [status[i] for i in left] == ["KILLED", "FAILED"]
    finished = [r for r in runs if r.info.status == "FINISHED"]
    assert sorted(r.data.tags["routerlab.key"] for r in finished) == sorted([first, second])
    assert all(r.data.tags.get("routerlab.complete") == "1" for r in finished)


def test_auto_workers_one_per_core_for_a_large_study_only(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from routerlab.cli.run import auto_workers

    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    assert auto_workers(124) == 2  # the paper grid on two cores
    assert auto_workers(6) == 1  # a helper's start-up would cost more than it wins
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(32)), raising=False)
    assert auto_workers(124) == 4  # each worker holds the benchmarks in memory: at most 4
