"""``routerlab export``: a trained router as a registered MLflow model that routes prompts.

Examples::

    routerlab export -r knn -l arena --share 0.3 --prompts gsm8k --name gsm8k-router
    routerlab export -r mf -l se --threshold 0.42
    mlflow models serve -m models:/gsm8k-router/1 --env-manager local -p 5001
    curl -s localhost:5001/invocations -H 'Content-Type: application/json' \\
        -d '{"dataframe_records": [{"prompt": "What is 2 + 2?"}]}'

The router is trained on every label of the label source; its threshold is given
(``--threshold``) or calibrated to a share of strong calls on a prompt set (``--share`` with
``--prompts``, as ``routerlab calibrate``). The MLflow run (tag ``routerlab.kind = export``)
holds the model, every resolved hyper-parameter, the embedding model's reference, the label
and data digests and the calibration.
"""

from __future__ import annotations

import argparse
from typing import Any

from routerlab.cli.calibrate import (
    add_calibration_args,
    add_router_args,
    calibrate_from_args,
    check_calibration_args,
    train_from_args,
)


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "export",
        help="log and register a trained, calibrated router as an MLflow model (servable)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_router_args(p)
    p.add_argument("--threshold", type=float, help="score threshold (instead of --share)")
    add_calibration_args(p, required=False)
    p.add_argument("--name", help="registered model name (default routerlab-<labels>-<router>)")
    p.add_argument("--experiment", default=None, help="MLflow experiment (default routerlab)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from harness import tracking
    from harness.errors import ConfigError
    from harness.serving.calibration import describe
    from harness.serving.model import log_router_model
    from harness.tracking import schema

    if (args.threshold is None) == (args.share is None):
        raise ConfigError("give --threshold T, or --share S with --prompts SET (not both)")
    if args.share is not None and not args.prompts:
        raise ConfigError("--share needs --prompts SET: the prompts the threshold is calibrated on")
    check_calibration_args(args)
    name = args.name or f"routerlab-{args.labels}-{args.router}"
    tags = {
        schema.KIND: "export",
        schema.ROUTER: args.router,
        schema.LABEL_SOURCE: args.labels,
    }
    with tracking.open_run(
        tracking.run_name("export", name, f"{args.labels}×{args.router}"), tags,
        experiment=args.experiment or tracking.DEFAULT_EXPERIMENT,
    ) as run:
        trained = train_from_args(args)
        lines: list[str] = []
        if args.threshold is not None:
            trained.threshold = args.threshold
        else:
            calibration = calibrate_from_args(trained, args)
            trained.threshold = calibration.threshold
            run.params({"calibration": calibration.as_dict()})
            lines = list(describe(calibration))
        run.params(trained.describe())
        run.flush()
        info = log_router_model(trained, registered_name=name)
    version = getattr(info, "registered_model_version", None)
    uri = f"models:/{name}/{version}" if version else info.model_uri
    print(f"router {args.router} trained on {trained.n_train} {args.labels} labels")
    for line in lines:
        print(line)
    print(f"threshold {trained.threshold:.6g}; model {uri} (run {run.run_id})")
    print(f"serve: mlflow models serve -m {uri} --env-manager local -p 5001")
    return 0
