"""obsgen: synthetic, correlated, labelled observability datasets (Kubernetes, Sentry,
CloudWatch, Grafana) from one simulated platform, with the ground truth on every row.

    import obsgen
    tables = obsgen.generate(start="2026-11-23T08:00:00Z", hours=1, seed=42,
                             tables=["kubernetes/pod_logs", "sentry/errors"])
    logs = tables["kubernetes/pod_logs"]          # a pyarrow.Table
    import polars as pl; pl.from_arrow(logs)      # or logs.to_pandas()

    obsgen.generate_to("out", hours=24)           # the CLI's Parquet dataset

The `obsgen` command (the CLI) is installed with the package.
"""

from typing import Dict, Iterable, Optional

import pyarrow as pa

from ._obsgen import __version__, _generate, _generate_to, table_names

__all__ = ["generate", "generate_to", "table_names", "__version__"]


def _names(v: Optional[Iterable[str]]):
    if v is None:
        return None
    if isinstance(v, str):
        return [v]
    return list(v)


def generate(
    start: Optional[str] = None,
    hours: int = 24,
    seed: Optional[int] = None,
    tables: Optional[Iterable[str]] = None,
    sources: Optional[Iterable[str]] = None,
    scale: Optional[float] = None,
    incidents: bool = True,
    config: Optional[str] = None,
    threads: Optional[int] = None,
) -> Dict[str, pa.Table]:
    """Generates `hours` hours from `start` (RFC 3339 or a date; default: the
    configuration's start) in memory and returns one pyarrow Table per table, keyed by
    `source/table` (`kubernetes/pod_logs`...), rows in time order, the label columns last.
    Nothing is written. The tables are those `obsgen generate` writes as Parquet, value for
    value: `tables` (names as `source/table`, or a name one source alone has) or `sources`
    pick them; `incidents=False` gives the counterfactual twin; `config` is a directory of
    YAML files (default: the embedded configuration)."""
    rendered = _generate(
        start=start,
        hours=hours,
        seed=seed,
        tables=_names(tables),
        sources=_names(sources),
        scale=scale,
        incidents=incidents,
        config=None if config is None else str(config),
        threads=threads,
    )
    return {
        name: pa.Table.from_batches(batches, schema=schema)
        for name, schema, batches in rendered
    }


def generate_to(
    path: str,
    start: Optional[str] = None,
    hours: int = 24,
    seed: Optional[int] = None,
    tables: Optional[Iterable[str]] = None,
    sources: Optional[Iterable[str]] = None,
    scale: Optional[float] = None,
    incidents: bool = True,
    config: Optional[str] = None,
    threads: Optional[int] = None,
    overwrite: bool = False,
) -> dict:
    """Writes the dataset into the directory `path` as `obsgen generate` does (Parquet,
    labels and incident tables, manifest.json last) and returns
    `{"tables": {name: {"rows", "files", "bytes"}}, "seconds": ...}`."""
    return _generate_to(
        str(path),
        start=start,
        hours=hours,
        seed=seed,
        tables=_names(tables),
        sources=_names(sources),
        scale=scale,
        incidents=incidents,
        config=None if config is None else str(config),
        threads=threads,
        overwrite=overwrite,
    )
