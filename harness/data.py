"""The data directory: which files routerlab reads, where they come from, and checks on them.

``harness/data_sources.json`` (the manifest) lists every file the project reads from the
data directory (``ROUTERLAB_DATA_DIR``, see :mod:`harness.paths`): its path inside the data
directory, the public repository and pinned commit it comes from, its size and sha256.

* :func:`require` is what loaders call: it returns the file's path, or raises
  :class:`~harness.errors.DataError` naming the file and the command that fixes it
  (``routerlab data fetch``) when the file is missing or its sha256 is wrong. Hashes are
  cached per process by (path, size, mtime), so a file is hashed once per run.
* :func:`fetch` fills a data directory, from the pinned GitHub URLs or from a local mirror
  (``--from DIR``), writing each file to a temporary name, checking its sha256 and only then
  renaming it into place, so an interrupted fetch never leaves a half-written file.
* :func:`check` reports the state of every file.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import shutil
import tempfile
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from harness import paths
from harness.errors import ConfigError, DataError

MANIFEST_PATH = Path(__file__).with_name("data_sources.json")
FETCH_HINT = "run `routerlab data fetch` (or `routerlab data fetch --from DIR` from a local mirror)"


@dataclass(frozen=True)
class DataFile:
    """One file of the manifest.

    Attributes:
        path: where the file lives inside the data directory (POSIX, relative).
        url: the pinned-commit raw URL it is downloaded from.
        size: its size in bytes.
        sha256: its sha256 (hex).
        source: the manifest source it belongs to ("routellm", "nq_open", ...).
        license: the license of that source.
    """

    path: str
    url: str
    size: int
    sha256: str
    source: str
    license: str


@functools.cache
def manifest() -> dict[str, DataFile]:
    """Every file of ``data_sources.json``, keyed by its path inside the data directory."""
    doc = json.loads(MANIFEST_PATH.read_text(encoding="utf-8"))
    template: str = doc["url_template"]
    files: dict[str, DataFile] = {}
    for source in doc["sources"]:
        for f in source["files"]:
            url = template.format(
                repo=source["repo"], commit=source["commit"], upstream_path=f["upstream_path"]
            )
            files[f["path"]] = DataFile(
                path=f["path"],
                url=url,
                size=int(f["size"]),
                sha256=f["sha256"],
                source=source["name"],
                license=source["license"],
            )
    return files


def files_under(prefix: str) -> list[str]:
    """Manifest paths that start with ``prefix`` (e.g. ``routellm/mmlu/responses/``), sorted."""
    return sorted(p for p in manifest() if p.startswith(prefix))


def data_fingerprint(sha256s: dict[str, str]) -> str:
    """One sha256 over every (file, sha256) pair: a single param that pins the data."""
    h = hashlib.sha256()
    for name, digest in sorted(sha256s.items()):
        h.update(f"{name}:{digest}\n".encode())
    return h.hexdigest()


def sha256_file(path: Path, chunk_size: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(chunk_size), b""):
            h.update(chunk)
    return h.hexdigest()


# (resolved path, size, mtime_ns) -> sha256. Loaders call require() for each file on each
# load; the cache makes repeated loads in one process cost a stat() instead of a hash.
_SHA_CACHE: dict[tuple[str, int, int], str] = {}


def cached_sha256(path: Path) -> str:
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    if key not in _SHA_CACHE:
        _SHA_CACHE[key] = sha256_file(path)
    return _SHA_CACHE[key]


def _entry(relpath: str) -> DataFile:
    try:
        return manifest()[relpath]
    except KeyError:
        raise ConfigError(
            f"{relpath}: not in the data manifest {MANIFEST_PATH}; add it there with its "
            "source URL and sha256"
        ) from None


def require(relpath: str, data_dir: Path | None = None) -> Path:
    """The path of manifest file ``relpath`` in ``data_dir``, checked for presence and sha256.

    Raises:
        DataError: the file is missing or corrupt; the message names it and the fix.
        ConfigError: ``relpath`` is not in the manifest (a programming error).
    """
    entry = _entry(relpath)
    root = Path(data_dir) if data_dir is not None else paths.data_dir()
    path = root / relpath
    if not path.is_file():
        raise DataError(
            f"{path}: benchmark data file missing (data directory {root}, set by "
            f"ROUTERLAB_DATA_DIR); {FETCH_HINT}"
        )
    digest = cached_sha256(path)
    if digest != entry.sha256:
        raise DataError(
            f"{path}: corrupt data file (sha256 {digest[:12]}…, expected "
            f"{entry.sha256[:12]}…); delete it and {FETCH_HINT}"
        )
    return path


def sha256_of(relpath: str) -> str:
    """The manifest sha256 of ``relpath`` (what :func:`require` verified)."""
    return _entry(relpath).sha256


# -- check / fetch ---------------------------------------------------------------------------

FileState = Literal["ok", "missing", "corrupt"]


@dataclass(frozen=True)
class FileStatus:
    path: str
    state: FileState
    detail: str = ""


def check(data_dir: Path | None = None) -> list[FileStatus]:
    """The state of every manifest file in ``data_dir``: ok, missing or corrupt."""
    root = Path(data_dir) if data_dir is not None else paths.data_dir()
    out: list[FileStatus] = []
    for rel, entry in sorted(manifest().items()):
        path = root / rel
        if not path.is_file():
            out.append(FileStatus(rel, "missing"))
            continue
        digest = cached_sha256(path)
        if digest != entry.sha256:
            out.append(FileStatus(rel, "corrupt", f"sha256 {digest[:12]}… != {entry.sha256[:12]}…"))
        else:
            out.append(FileStatus(rel, "ok"))
    return out


FetchAction = Literal["present", "fetched", "failed"]


@dataclass(frozen=True)
class FetchResult:
    path: str
    action: FetchAction
    detail: str = ""


def _download(url: str, dest: Path, timeout: float) -> None:
    req = urllib.request.Request(url, headers={"User-Agent": "routerlab-data-fetch"})
    with urllib.request.urlopen(req, timeout=timeout) as resp, open(dest, "wb") as out:
        shutil.copyfileobj(resp, out)


def _place(entry: DataFile, dest: Path, produce: Callable[[Path], None]) -> None:
    """Write ``entry`` to ``dest`` through a temporary file in the same folder.

    ``produce(tmp)`` writes the bytes; the sha256 is checked before the rename, so ``dest``
    is either absent, the old file, or the verified new file.
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        produce(tmp)
        digest = sha256_file(tmp)
        if digest != entry.sha256:
            raise DataError(
                f"{entry.path}: downloaded bytes have sha256 {digest[:12]}…, expected "
                f"{entry.sha256[:12]}… (source {entry.url}); the source changed or the copy is "
                "damaged, nothing was written"
            )
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)


def iter_fetch(
    data_dir: Path | None = None,
    *,
    from_dir: Path | None = None,
    force: bool = False,
    timeout: float = 60.0,
) -> Iterator[FetchResult]:
    """Fetch every manifest file into ``data_dir``, yielding one result per file.

    Args:
        data_dir: target (default :func:`harness.paths.data_dir`).
        from_dir: a local mirror laid out like the data directory; when given, files are
            copied from it instead of downloaded.
        force: re-fetch files that are already present and correct.
        timeout: seconds per download.

    A file that fails (network error, sha256 mismatch, missing in the mirror) is reported as
    ``failed`` and the others are still fetched.
    """
    root = Path(data_dir) if data_dir is not None else paths.data_dir()
    for rel, entry in sorted(manifest().items()):
        dest = root / rel
        if not force and dest.is_file() and cached_sha256(dest) == entry.sha256:
            yield FetchResult(rel, "present")
            continue
        try:
            if from_dir is not None:
                src = Path(from_dir) / rel
                if not src.is_file():
                    raise DataError(f"{src}: not in the mirror {from_dir}")
                if src.resolve() == dest.resolve():
                    raise DataError(f"{src}: is the target file itself and it is corrupt")
                _place(entry, dest, functools.partial(shutil.copyfile, src))
            else:
                _place(entry, dest, functools.partial(_download, entry.url, timeout=timeout))
        except DataError as exc:
            yield FetchResult(rel, "failed", str(exc))
            continue
        except OSError as exc:  # network or disk; say where from
            where = from_dir / rel if from_dir is not None else entry.url
            yield FetchResult(rel, "failed", f"{exc} ({where})")
            continue
        yield FetchResult(rel, "fetched")


def fetch(
    data_dir: Path | None = None,
    *,
    from_dir: Path | None = None,
    force: bool = False,
    timeout: float = 60.0,
) -> list[FetchResult]:
    """:func:`iter_fetch` as a list; raises :class:`DataError` if any file failed."""
    results = list(iter_fetch(data_dir, from_dir=from_dir, force=force, timeout=timeout))
    failed = [r for r in results if r.action == "failed"]
    if failed:
        first = failed[0]
        raise DataError(
            f"{len(failed)} data file(s) could not be fetched; first: {first.path}: {first.detail}"
        )
    return results
