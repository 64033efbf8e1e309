"""The data manifest, `routerlab data fetch|check`, and missing/corrupt file errors."""

from __future__ import annotations

import dataclasses
import functools
import http.server
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness import data
from harness.errors import DataError
from routerlab.cli import main

MIRROR_DOCS = {"SOURCE.md", "README.md", "LICENSE"}


def test_manifest_covers_the_data_dir(data_dir: Path) -> None:
    on_disk = {
        p.relative_to(data_dir).as_posix()
        for p in data_dir.rglob("*")
        if p.is_file() and p.name not in MIRROR_DOCS
    }
    assert on_disk == set(data.manifest())
    for entry in data.manifest().values():
        assert entry.url.startswith("https://raw.githubusercontent.com/")
        assert len(entry.sha256) == 64
        commit = entry.url.split("/")[5]  # raw.githubusercontent.com/OWNER/REPO/COMMIT/...
        assert len(commit) == 40 and int(commit, 16) >= 0


def test_check_shared_data_is_ok(data_dir: Path) -> None:
    assert all(s.state == "ok" for s in data.check(data_dir))
    assert main(["data", "check", "--data-dir", str(data_dir)]) == 0


def test_fetch_from_mirror(
    tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "data"
    assert main(["data", "fetch", "--from", str(data_dir), "--data-dir", str(target)]) == 0
    out = capsys.readouterr().out
    n = len(data.manifest())
    assert f"{n} fetched" in out
    assert all(s.state == "ok" for s in data.check(target))
    assert not list(target.rglob("*.part"))
    # A second fetch finds everything in place.
    results = data.fetch(target, from_dir=data_dir)
    assert {r.action for r in results} == {"present"}


def _copy_subset(src: Path, dst: Path, rels: list[str]) -> None:
    for rel in rels:
        (dst / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src / rel, dst / rel)


def test_missing_and_corrupt_files(
    tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rel = "routellm/gsm8k/contaminated_prompts.jsonl"
    with pytest.raises(DataError, match="missing.*routerlab data fetch") as info:
        data.require(rel, tmp_path)
    assert rel in str(info.value)
    _copy_subset(data_dir, tmp_path, [rel])
    assert data.require(rel, tmp_path) == tmp_path / rel
    with open(tmp_path / rel, "a") as fh:
        fh.write("\n")
    with pytest.raises(DataError, match="corrupt.*routerlab data fetch") as info:
        data.require(rel, tmp_path)
    assert rel in str(info.value)
    states = {s.path: s.state for s in data.check(tmp_path)}
    assert states[rel] == "corrupt"
    assert main(["data", "check", "--data-dir", str(tmp_path)]) == 1
    assert "routerlab data fetch" in capsys.readouterr().out
    assert main(["data", "check", "--quiet", "--data-dir", str(tmp_path)]) == 1
    assert capsys.readouterr().out == ""
    # The CLI turns it into one line and exit status 2.
    argv = ["evaluate", "--benchmark", "gsm8k", "--no-mlflow", "--data-dir", str(tmp_path)]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "routerlab data fetch" in err[0]
    # fetch repairs the corrupt file.
    results = {r.path: r.action for r in data.fetch(tmp_path, from_dir=data_dir)}
    assert results[rel] == "fetched"
    assert data.require(rel, tmp_path)


def test_corrupt_mirror_writes_nothing(tmp_path: Path, data_dir: Path) -> None:
    rel = "routellm/mt_bench/question.jsonl"
    mirror = tmp_path / "mirror"
    _copy_subset(data_dir, mirror, [rel])
    (mirror / rel).write_text("{}\n")
    target = tmp_path / "target"
    with pytest.raises(DataError, match="could not be fetched"):
        data.fetch(target, from_dir=mirror)
    assert not (target / rel).exists()
    assert not list(target.rglob("*.part"))


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def http_mirror(data_dir: Path) -> Iterator[str]:
    handler = functools.partial(QuietHandler, directory=str(data_dir))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_download_checks_sha256(
    tmp_path: Path, http_mirror: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The download path, against a real local HTTP server standing in for GitHub."""
    good = "routellm/mt_bench/contaminated_prompts.jsonl"
    wrong = "routellm/gsm8k/contaminated_prompts.jsonl"
    real = data.manifest()
    local = {
        good: dataclasses.replace(real[good], url=f"{http_mirror}/{good}"),
        # serve another file's bytes: the sha256 check must refuse it
        wrong: dataclasses.replace(real[wrong], url=f"{http_mirror}/{good}"),
    }
    monkeypatch.setattr(data, "manifest", lambda: local)
    results = {r.path: r for r in data.iter_fetch(tmp_path)}
    assert results[good].action == "fetched"
    assert data.sha256_file(tmp_path / good) == real[good].sha256
    assert results[wrong].action == "failed" and "sha256" in results[wrong].detail
    assert not (tmp_path / wrong).exists()
    assert not list(tmp_path.rglob("*.part"))
