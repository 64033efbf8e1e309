"""Study files: which label sources, routers, benchmarks, seeds and tuning budget to run.

A study is a TOML (or YAML) file. Every field has a default except ``name``::

    name = "paper"
    benchmarks = ["mt_bench", "gsm8k", "mmlu"]   # registry names or custom benchmark files
    seeds = [0]
    curve_grid = "exact"                          # or "routellm" (10 quantile thresholds)
    n_boot = 1000                                 # bootstrap resamples for the CPT CIs
    n_folds = 10      # labels sharing prompts with a benchmark (arena votes on MT-Bench):
                      # folds of whole questions; absent = leave one question out
    train_fractions = [1.0]                       # Figure 1: share of the labels used to train

    [model_pair]                                  # checked against each benchmark's pair
    strong = "gpt-4-1106-preview"
    weak = "mistralai/Mixtral-8x7B-Instruct-v0.1"

    [[grid]]                                      # every label source × every router
    labels = ["se", "accuracy", "arena"]
    routers = ["sw_ranking", "mf", "knn", "mlp"]
    # train_fractions = [0.25, 0.5, 1.0]          # per block, overrides the study's

    [[grid]]                                      # the evaluated pair's own outcomes
    labels = ["outcomes"]
    routers = ["knn", "mlp"]
    protocols = ["cross-fit", "leave-one-benchmark-out"]   # default ["transfer"]
    n_folds = 5                                   # per block, overrides the study's
    router_params.knn = { k = 50 }                # per block, over [router_params.knn]

    [[systems]]                                   # single systems (label-free routers)
    router = "random"

    [label_params.se]                             # keyword arguments per label source
    tau = 0.1
    [router_params.knn]                           # keyword arguments per router
    k = 1

    [tuning]                                      # read by ``routerlab tune``
    trials = 20
    objective = "cpt_50"                          # "cpt_50", "cpt_80", "weighted" or "multi"
    weights = { cpt_50 = 0.5, cpt_80 = 0.5 }      # for "weighted"
    validation_fraction = 0.5
    split_seed = 0

    [judge]                                       # Table 3, run after the grid (optional)
    benchmark = "gsm8k"
    endpoint = "qwen-1.5b"
    limit = 300

A combination is (benchmark, label source + params, router + params, seed, train fraction,
curve grid, protocol); its key is a hash of that config, so a rerun finds finished
combinations by key. Protocols (:mod:`harness.protocols`): ``transfer`` (labels from other
data, the default), ``cross-fit`` (the benchmark's own outcomes, folds of whole questions)
and ``leave-one-benchmark-out`` (the outcomes of the study's other benchmarks of the same
model pair; the runner names them in ``train_benchmarks`` and skips a benchmark without
such a partner).
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from baselines.systems import FAMILY_OF_LABELS
from harness.errors import ConfigError
from harness.prompt_features import EMBEDDING, check_features, router_variant
from harness.protocols import TRANSFER, check_protocol

if TYPE_CHECKING:
    from harness.systems import SystemSpec

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

STUDIES_DIR = Path(__file__).resolve().parent
OBJECTIVES = ("cpt_50", "cpt_80", "weighted", "multi")


@dataclass(frozen=True)
class Combination:
    """One cell of a study: a routing system evaluated on one benchmark with one seed."""

    benchmark: str
    router: str
    labels: str | None
    router_params: dict[str, Any]
    label_params: dict[str, Any]
    seed: int
    train_fraction: float = 1.0
    curve_grid: str = "exact"
    n_boot: int = 1000
    n_folds: int | None = None
    # Fingerprint of the benchmark's data files, set by the runner: a rebuilt or changed
    # benchmark file gives new keys, so stale results are never reused.
    data_sha256: str = ""
    # Every keyword parameter of the router and label source, defaults included, set by the
    # runner: a release that changes a default gives new keys too.
    resolved_params: dict[str, Any] = field(default_factory=dict)
    protocol: str = TRANSFER
    # leave-one-benchmark-out: the benchmarks whose outcomes train the router (set by the
    # runner from the study's benchmarks of the same model pair).
    train_benchmarks: tuple[str, ...] = ()
    # cross-fit with nested-tuned parameters: per fold, router parameters over router_params
    # (``routerlab tune --protocol cross-fit``, then ``routerlab run STUDY --tuned``).
    fold_router_params: tuple[dict[str, Any], ...] = ()
    # What the router reads (harness.prompt_features): "embedding" or "embedding+stats".
    features: str = EMBEDDING
    # The grid block's variant name (a display name; part of the key, so two variants with
    # the same parameters stay two systems).
    variant: str = ""

    def config(self) -> dict[str, Any]:
        config = asdict(self)
        # Fields at their default are left out: the same dict, so the same hash, as before
        # they existed; stores made by earlier versions keep matching.
        if not config["resolved_params"]:
            del config["resolved_params"]
        if config["protocol"] == TRANSFER:
            del config["protocol"]
        if not config["train_benchmarks"]:
            del config["train_benchmarks"]
        if not config["fold_router_params"]:
            del config["fold_router_params"]
        if config["features"] == EMBEDDING:
            del config["features"]
        if not config["variant"]:
            del config["variant"]
        return config

    def system_spec(self) -> SystemSpec:
        """The system this combination evaluates, as :func:`harness.systems.score_system`
        takes it."""
        from harness.systems import SystemSpec

        return SystemSpec(
            router=self.router, router_params=dict(self.router_params), labels=self.labels,
            label_params=dict(self.label_params), protocol=self.protocol,
            n_folds=self.n_folds, train_benchmarks=tuple(self.train_benchmarks),
            seed=self.seed, fold_router_params=tuple(self.fold_router_params),
            features=self.features,
        )

    @property
    def key(self) -> str:
        """A stable hash of the combination's config (16 hex digits)."""
        blob = json.dumps(self.config(), sort_keys=True, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    @property
    def system(self) -> str:
        """The display name of the routing system (paper's naming)."""
        return system_name(self.labels, self.router, self.variant)

    @property
    def config_key(self) -> str:
        """The key without the data fingerprint and resolved defaults: the same combination
        on any version of its data and code. Reports keep the newest run per config key, so
        runs on superseded data (a rebuilt benchmark file) or made with older defaults drop
        out of the tables without being deleted."""
        from dataclasses import replace

        return replace(self, data_sha256="", resolved_params={}).key

    def describe(self) -> str:
        frac = "" if self.train_fraction == 1.0 else f" train={self.train_fraction:g}"
        labels = f"{self.labels} × " if self.labels else ""
        protocol = "" if self.protocol == TRANSFER else f", {self.protocol}"
        router = router_variant(self.router, self.features)
        return f"{labels}{router} on {self.benchmark} (seed {self.seed}{frac}{protocol})"


# The paper's names for the label sources (its systems are label source × router).
SYSTEM_NAMES = FAMILY_OF_LABELS


@dataclass(frozen=True)
class GridBlock:
    """A ``[[grid]]`` block: every label source × router, per protocol and train fraction."""

    labels: tuple[str, ...]
    routers: tuple[str, ...]
    train_fractions: tuple[float, ...] | None = None
    protocols: tuple[str, ...] = (TRANSFER,)
    # Folds for this block (cross-fit, or labels sharing questions); None = the study's.
    n_folds: int | None = None
    # Router keyword arguments for this block, over the study's [router_params.<router>].
    router_params: dict[str, dict[str, Any]] = field(default_factory=dict)
    # What the routers read, one combination per entry (harness.prompt_features).
    features: tuple[str, ...] = (EMBEDDING,)
    # Label-source keyword arguments for this block, over the study's [label_params.<name>].
    label_params: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Only these of the study's benchmarks (None: all of them).
    benchmarks: tuple[str, ...] | None = None
    # A name for this block's systems, shown after the family: "Confidence (balanced)".
    variant: str = ""


def system_name(labels: str | None, router: str, variant: str = "") -> str:
    if labels is None:
        return router.replace("_", " ").title() if router != "random" else "Random"
    family = SYSTEM_NAMES.get(labels, labels)
    return f"{family} ({variant})" if variant else family


@dataclass(frozen=True)
class TuningSpec:
    trials: int = 20
    objective: str = "cpt_50"
    weights: dict[str, float] = field(default_factory=lambda: {"cpt_50": 0.5, "cpt_80": 0.5})
    validation_fraction: float = 0.5
    split_seed: int = 0


@dataclass(frozen=True)
class JudgeSpec:
    benchmark: str = "gsm8k"
    judge: str = "best_of_three"
    endpoint: str = "qwen-1.5b"
    limit: int | None = 300
    pcts: tuple[float, ...] = (50.0, 80.0)
    seed: int = 0
    systems: tuple[str, ...] = ("TO-Router", "RouteLLM", "Confidence")
    from_study: str | None = None
    threads: int | None = None
    # Further keyword parameters of the judge class, e.g. {"identical": "ask"}.
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Study:
    name: str
    path: Path | None
    benchmarks: tuple[str, ...]
    seeds: tuple[int, ...]
    grid: tuple[GridBlock, ...]
    systems: tuple[tuple[str, str | None], ...]
    label_params: dict[str, dict[str, Any]]
    router_params: dict[str, dict[str, Any]]
    train_fractions: tuple[float, ...] = (1.0,)
    curve_grid: str = "exact"
    n_boot: int = 1000
    n_folds: int | None = None
    model_pair: dict[str, str] = field(default_factory=dict)
    tuning: TuningSpec = field(default_factory=TuningSpec)
    judge: JudgeSpec | None = None
    description: str = ""
    # Tuned parameters by :func:`tuned_key` (``routerlab run STUDY --tuned``): they override
    # the study's router_params / label_params for that (labels, router, benchmark).
    tuned: dict[str, dict[str, Any]] = field(default_factory=dict)

    def with_tuned(self, records: dict[str, dict[str, Any]]) -> Study:
        """This study with tuned parameters, under the name ``<name>-tuned`` (its runs and
        report stay apart from the untuned ones)."""
        from dataclasses import replace

        return replace(self, name=f"{self.name}-tuned", tuned=dict(records))

    def tuned_record(
        self, labels: str | None, router: str, benchmark: str, protocol: str = TRANSFER,
        features: str = EMBEDDING,
    ) -> dict[str, Any]:
        return self.tuned.get(tuned_key(labels, router, benchmark, protocol, features), {})

    def combinations(self) -> Iterator[Combination]:
        """Every combination, in a stable order (benchmark-major, so data loads once)."""
        pairs: list[
            tuple[str, str | None, tuple[float, ...], str, int | None, dict[str, Any], str,
                  GridBlock | None]
        ] = []
        for block in self.grid:
            fractions = block.train_fractions or self.train_fractions
            folds = block.n_folds if block.n_folds is not None else self.n_folds
            pairs.extend(
                (r, lab, fractions, protocol, folds,
                 {**self.router_params.get(r, {}), **block.router_params.get(r, {})}, feats,
                 block)
                for feats in block.features for protocol in block.protocols
                for lab in block.labels for r in block.routers
            )
        pairs.extend(
            (router, labels, self.train_fractions, TRANSFER, self.n_folds,
             dict(self.router_params.get(router, {})), EMBEDDING, None)
            for router, labels in self.systems
        )
        seen: set[str] = set()
        for benchmark in self.benchmarks:
            for (router, labels, block_fractions, protocol, n_folds, block_params,
                 features, origin) in pairs:
                if origin and origin.benchmarks is not None and benchmark not in origin.benchmarks:
                    continue
                fractions = block_fractions if labels is not None else (1.0,)
                tuned = self.tuned_record(labels, router, benchmark, protocol, features)
                router_params = {**block_params, **tuned.get("router_params", {})}
                fold_params = fold_router_params(tuned, n_folds, benchmark)
                label_params = (
                    {**self.label_params.get(labels, {}),
                     **(origin.label_params.get(labels, {}) if origin else {}),
                     **tuned.get("label_params", {})}
                    if labels else {}
                )
                for fraction in fractions:
                    for seed in self.seeds:
                        if fold_params and seed != tuned["folds"]["fold_seed"]:
                            raise ConfigError(
                                f"tuned cross-fit parameters of {router} on {benchmark} were "
                                f"chosen on the folds of seed {tuned['folds']['fold_seed']}; "
                                f"seed {seed} makes other folds (the choice would have seen "
                                "scored prompts). Tune per seed, or run that seed only"
                            )
                        combo = Combination(
                            benchmark=benchmark,
                            router=router,
                            labels=labels,
                            router_params=dict(router_params),
                            label_params=dict(label_params),
                            seed=seed,
                            train_fraction=fraction,
                            curve_grid=self.curve_grid,
                            n_boot=self.n_boot,
                            n_folds=n_folds,
                            protocol=protocol,
                            fold_router_params=fold_params,
                            features=features if labels is not None else EMBEDDING,
                            variant=origin.variant if origin else "",
                        )
                        if combo.key not in seen:
                            seen.add(combo.key)
                            yield combo


def tuned_key(
    labels: str | None, router: str, benchmark: str, protocol: str = TRANSFER,
    features: str = EMBEDDING,
) -> str:
    """The name of a tuned (labels, router[+stats], benchmark[, protocol]) system's best
    parameters."""
    key = f"{labels or 'none'}-{router_variant(router, features)}-{benchmark}"
    return key if protocol == TRANSFER else f"{key}-{protocol}"


def fold_router_params(
    tuned: dict[str, Any], n_folds: int | None, benchmark: str
) -> tuple[dict[str, Any], ...]:
    """A nested cross-fit tuning record's per-fold parameters (empty for other records)."""
    folds = tuned.get("folds")
    if not folds:
        return ()
    from harness.protocols import DEFAULT_CROSS_FIT_FOLDS

    want = n_folds if n_folds is not None else DEFAULT_CROSS_FIT_FOLDS
    if int(folds["n_folds"]) != want:
        raise ConfigError(
            f"tuned cross-fit parameters for {benchmark} were chosen on {folds['n_folds']} "
            f"folds; the study uses {want}. Tune again with --folds {want}"
        )
    return tuple(dict(p) for p in folds["router_params"])


def resolve_study_path(name_or_path: str | Path) -> Path:
    """A study file by path, or by name in the shipped ``studies/`` folder."""
    path = Path(name_or_path)
    if path.is_file():
        return path
    for suffix in (".toml", ".yaml", ".yml"):
        candidate = STUDIES_DIR / f"{name_or_path}{suffix}"
        if candidate.is_file():
            return candidate
    shipped = sorted(p.stem for p in STUDIES_DIR.glob("*.toml"))
    raise ConfigError(
        f"study file {name_or_path} not found; give a path or one of: {', '.join(shipped)}"
    )


def load_study(name_or_path: str | Path) -> Study:
    """Read and check a study file; errors name the file and the field."""
    path = resolve_study_path(name_or_path)
    try:
        if path.suffix in (".yaml", ".yml"):
            import yaml

            raw = yaml.safe_load(path.read_text(encoding="utf-8-sig")) or {}
        else:  # utf-8-sig: a byte-order mark (some Windows editors write one) is accepted
            raw = tomllib.loads(path.read_text(encoding="utf-8-sig"))
    except Exception as exc:
        raise ConfigError(f"study file {path} cannot be parsed: {exc}") from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"study file {path}: want a table of fields at the top level")
    return parse_study(raw, path)


def _list(
    raw: dict[str, Any],
    key: str,
    path: Path | None,
    default: list[Any],
    where: str = "",
    item: type | tuple[type, ...] = str,
) -> list[Any]:
    """A non-empty list field whose items are of type ``item`` (a lone value is a list of one)."""
    value = raw.get(key, default)
    if isinstance(value, (str, int, float)):
        value = [value]
    if not isinstance(value, list) or not value:
        raise ConfigError(f"study file {path}: field {where}{key!r} must be a non-empty list")
    for v in value:
        if not isinstance(v, item) or isinstance(v, bool):
            raise ConfigError(
                f"study file {path}: {where}{key} = {value!r}: {v!r} is not allowed; "
                f"want {_ITEM_WORDS.get(item, 'text')}"
            )
    return value


_ITEM_WORDS: dict[Any, str] = {int: "whole numbers", (int, float): "numbers", str: "names"}


def _table(raw: dict[str, Any], key: str, path: Path | None, known: set[str] | None) -> dict:
    """A sub-table field, with its keys checked against ``known`` (None: any keys)."""
    value = raw.get(key, {})
    if not isinstance(value, dict):
        raise ConfigError(f"study file {path}: [{key}] = {value!r} must be a table of fields")
    _no_unknown(value, known, f"[{key}]", path)
    return value


def _blocks(raw: dict[str, Any], key: str, path: Path | None, known: set[str]) -> list[dict]:
    """An array of tables (``[[grid]]``, ``[[systems]]``), each block's keys checked."""
    value = raw.get(key, [])
    if not isinstance(value, list) or not all(isinstance(b, dict) for b in value):
        raise ConfigError(
            f"study file {path}: {key} = {value!r} is not allowed; write [[{key}]] blocks "
            f"(tables with {', '.join(sorted(known))})"
        )
    for i, block in enumerate(value):
        _no_unknown(block, known, f"{key}[{i}]", path)
    return value


def _no_unknown(
    table: dict[str, Any], known: set[str] | None, where: str, path: Path | None
) -> None:
    if known is None:
        return
    unknown = sorted(set(table) - known)
    if unknown:
        import difflib

        close = difflib.get_close_matches(unknown[0], sorted(known), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ConfigError(
            f"study file {path}: {where} has unknown field(s) {unknown}{hint} "
            f"(known: {', '.join(sorted(known))})"
        )


def _whole(
    raw: dict[str, Any], key: str, path: Path | None, default: Any, minimum: int, where: str = ""
) -> Any:
    """An integer field >= ``minimum`` (``default`` if absent)."""
    value = raw.get(key, default)
    if value is None and default is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(
            f"study file {path}: {where}{key} = {value!r} is not allowed; want a whole number "
            f">= {minimum}"
        )
    return value


def parse_study(raw: dict[str, Any], path: Path | None = None) -> Study:
    """Build a :class:`Study` from parsed TOML/YAML, checking names against the registries."""
    from harness.plugins import LABEL_SOURCES, ROUTERS

    if "name" not in raw:
        raise ConfigError(f"study file {path}: field 'name' is required (e.g. name = \"paper\")")
    known = {
        "n_folds",
        "name",
        "description",
        "benchmarks",
        "seeds",
        "curve_grid",
        "n_boot",
        "train_fractions",
        "model_pair",
        "grid",
        "systems",
        "label_params",
        "router_params",
        "tuning",
        "judge",
    }
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ConfigError(f"study file {path}: unknown field(s) {unknown}; known: {sorted(known)}")

    if not isinstance(raw["name"], str) or not raw["name"].strip():
        raise ConfigError(f"study file {path}: name = {raw['name']!r}; want a non-empty text")
    grid: list[GridBlock] = []
    grid_known = {
        "labels", "routers", "train_fractions", "protocols", "protocol", "n_folds",
        "router_params", "features", "label_params", "benchmarks", "variant",
    }
    for i, block in enumerate(_blocks(raw, "grid", path, grid_known)):
        labels = tuple(_list(block, "labels", path, [], f"grid[{i}]."))
        routers = tuple(_list(block, "routers", path, [], f"grid[{i}]."))
        block_fractions = None
        if "train_fractions" in block:
            block_fractions = tuple(
                float(f)
                for f in _list(block, "train_fractions", path, [], f"grid[{i}].", (int, float))
            )
            if any(not 0 < f <= 1 for f in block_fractions):
                raise ConfigError(
                    f"study file {path}: grid[{i}].train_fractions must lie in (0, 1]"
                )
        protocols = tuple(
            _protocol(p, f"grid[{i}].protocols", path)
            for p in _list(block, "protocols", path, [block.get("protocol", TRANSFER)])
        )
        block_folds = _whole(block, "n_folds", path, None, 2, f"grid[{i}].")
        block_params = _plugin_params(block, "router_params", ROUTERS, path, f"grid[{i}].")
        features = tuple(
            _features(f, f"grid[{i}].features", path)
            for f in _list(block, "features", path, [EMBEDDING], f"grid[{i}].")
        )
        block_labels = _plugin_params(block, "label_params", LABEL_SOURCES, path, f"grid[{i}].")
        block_benchmarks = (
            tuple(str(b) for b in _list(block, "benchmarks", path, [], f"grid[{i}]."))
            if "benchmarks" in block
            else None
        )
        variant = block.get("variant", "")
        if not isinstance(variant, str):
            raise ConfigError(
                f"study file {path}: grid[{i}].variant = {variant!r}; want a short text"
            )
        grid.append(GridBlock(
            labels, routers, block_fractions, protocols, block_folds, block_params, features,
            block_labels, block_benchmarks, variant.strip(),
        ))
        for name in labels:
            _check_name(LABEL_SOURCES.names(), name, f"grid[{i}].labels", path)
        for name in routers:
            _check_name(ROUTERS.names(), name, f"grid[{i}].routers", path)
    systems: list[tuple[str, str | None]] = []
    for i, block in enumerate(_blocks(raw, "systems", path, {"router", "labels"})):
        if "router" not in block:
            raise ConfigError(f"study file {path}: systems[{i}] needs a 'router'")
        _check_name(ROUTERS.names(), block["router"], f"systems[{i}].router", path)
        if block.get("labels") is not None:
            _check_name(LABEL_SOURCES.names(), block["labels"], f"systems[{i}].labels", path)
        systems.append((block["router"], block.get("labels")))
    if not grid and not systems and "judge" not in raw:
        raise ConfigError(
            f"study file {path}: give at least one [[grid]] or [[systems]] block (or a [judge])"
        )

    curve_grid = raw.get("curve_grid", "exact")
    if curve_grid not in ("exact", "routellm"):
        raise ConfigError(
            f"study file {path}: curve_grid = {curve_grid!r} is not allowed; "
            "want 'exact' or 'routellm'"
        )
    fractions = tuple(
        float(f) for f in _list(raw, "train_fractions", path, [1.0], item=(int, float))
    )
    if any(not 0 < f <= 1 for f in fractions):
        raise ConfigError(f"study file {path}: train_fractions must lie in (0, 1]")

    tuning_raw = dict(_table(raw, "tuning", path, set(TuningSpec.__dataclass_fields__)))
    _whole(tuning_raw, "trials", path, 20, 1, "tuning.")
    _whole(tuning_raw, "split_seed", path, 0, 0, "tuning.")
    weights = tuning_raw.get("weights", {})
    if not isinstance(weights, dict) or any(
        k not in ("cpt_50", "cpt_80") or isinstance(w, bool) or not isinstance(w, (int, float))
        or w < 0
        for k, w in weights.items()
    ) or (weights and not sum(weights.values()) > 0):
        raise ConfigError(
            f"study file {path}: tuning.weights = {weights!r} is not allowed; want "
            "{ cpt_50 = W, cpt_80 = W } with numbers >= 0, not all 0"
        )
    if not isinstance(tuning_raw.get("validation_fraction", 0.5), (int, float)):
        raise ConfigError(f"study file {path}: tuning.validation_fraction must be a number")
    tuning = TuningSpec(**tuning_raw)
    if tuning.objective not in OBJECTIVES:
        raise ConfigError(
            f"study file {path}: tuning.objective {tuning.objective!r}; use one of {OBJECTIVES}"
        )
    if not 0 < tuning.validation_fraction < 1:
        raise ConfigError(f"study file {path}: tuning.validation_fraction must lie in (0, 1)")

    judge = None
    if "judge" in raw:
        judge_raw = dict(_table(raw, "judge", path, set(JudgeSpec.__dataclass_fields__)))
        for key in ("pcts", "systems"):
            if key in judge_raw:
                judge_raw[key] = tuple(judge_raw[key])
        try:
            judge = JudgeSpec(**judge_raw)
        except TypeError as exc:
            raise ConfigError(f"study file {path}: [judge] {exc}") from exc

    label_params = _plugin_params(raw, "label_params", LABEL_SOURCES, path)
    router_params = _plugin_params(raw, "router_params", ROUTERS, path)
    model_pair = _table(raw, "model_pair", path, {"weak", "strong"})
    benchmarks = tuple(
        str(b) for b in _list(raw, "benchmarks", path, [] if grid or systems else ["gsm8k"])
    )
    for i, grid_block in enumerate(grid):
        stray = sorted(set(grid_block.benchmarks or ()) - set(benchmarks))
        if stray:
            raise ConfigError(
                f"study file {path}: grid[{i}].benchmarks names {stray}, which the study's "
                f"benchmarks {list(benchmarks)} do not hold; add them there or drop them here"
            )
    return Study(
        name=str(raw["name"]),
        path=path,
        description=str(raw.get("description", "")),
        benchmarks=benchmarks,
        seeds=tuple(_list(raw, "seeds", path, [0], item=int)),
        grid=tuple(grid),
        systems=tuple(systems),
        label_params=label_params,
        router_params=router_params,
        train_fractions=fractions,
        curve_grid=curve_grid,
        n_boot=_whole(raw, "n_boot", path, 1000, 0),
        n_folds=_whole(raw, "n_folds", path, None, 2),
        model_pair={k: str(v) for k, v in model_pair.items()},
        tuning=tuning,
        judge=judge,
    )


def _features(name: str, field_name: str, path: Path | None) -> str:
    try:
        return check_features(name)
    except ConfigError as exc:
        raise ConfigError(f"study file {path}: {field_name}: {exc}") from None


def _protocol(name: str, field_name: str, path: Path | None) -> str:
    try:
        return check_protocol(name)
    except ConfigError as exc:
        raise ConfigError(f"study file {path}: {field_name}: {exc}") from None


def _plugin_params(
    raw: dict[str, Any], key: str, registry: Any, path: Path | None, where: str = ""
) -> dict[str, dict[str, Any]]:
    """``[router_params.NAME]`` / ``[label_params.NAME]``: each NAME registered, each value
    checked against the plugin's declared rules (and coerced: ``k = 2.0`` runs as ``2``)."""
    from harness.params import check_params

    out: dict[str, dict[str, Any]] = {}
    for name, params in _table(raw, key, path, None).items():
        table = f"[{where}{key}.{name}]"
        _check_name(registry.names(), name, table, path)
        if not isinstance(params, dict):
            raise ConfigError(f"study file {path}: {table} must be a table of values")
        out[name] = check_params(registry.get(name), params, f"study file {path}: {table}")
    return out


def _check_name(known: list[str], name: str, field_name: str, path: Path | None) -> None:
    if name not in known:
        import difflib

        close = difflib.get_close_matches(name, known, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ConfigError(
            f"study file {path}: {field_name} names unknown {name!r} "
            f"(known: {', '.join(known)}){hint}"
        )
