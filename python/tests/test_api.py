"""The Python API against the CLI: the tables `obsgen.generate` returns for one hour equal
the Parquet files `obsgen generate` (the command the wheel installs) writes for that hour,
value for value; `generate_to` writes that very dataset."""

import json
import os
import shutil
import subprocess
import sys
import tempfile

import pyarrow as pa
import pyarrow.parquet as pq

import obsgen

START = "2026-11-23T10:00:00Z"


def read_table(root, name):
    d = os.path.join(root, name)
    files = sorted(
        os.path.join(dp, f) for dp, _, fs in os.walk(d) for f in fs if f.endswith(".parquet")
    )
    return pa.concat_tables([pq.read_table(f) for f in files])


def test_api_tables_equal_the_cli_parquet():
    exe = shutil.which("obsgen")
    assert exe, "the wheel installs the obsgen command"
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "cli")
        subprocess.run([exe, "generate", "--start", START, "--duration-hours", "1",
                        "--seed", "7", "-q", "-o", out], check=True)
        manifest = json.load(open(os.path.join(out, "manifest.json")))
        tables = obsgen.generate(start=START, hours=1, seed=7)
        assert sorted(tables) == sorted(obsgen.table_names())
        for name, t in tables.items():
            cli = read_table(out, name)
            assert t.num_rows == cli.num_rows, name
            assert t.schema.equals(cli.schema, check_metadata=False), (name, t.schema, cli.schema)
            assert t.equals(cli), f"{name}: the API's rows differ from the CLI's"
            rows = sum(x["rows"] for x in manifest["tables"]
                       if f"{x['source']}/{x['table']}" == name)
            assert rows == t.num_rows, name
        # polars and pandas take them as they are.
        import polars as pl
        df = pl.from_arrow(tables["sentry/errors"])
        assert df.height == tables["sentry/errors"].num_rows
        assert df["is_anomaly"].dtype == pl.Boolean

        # generate_to writes the CLI's dataset, byte for byte.
        again = os.path.join(tmp, "api")
        summary = obsgen.generate_to(again, start=START, hours=1, seed=7)
        assert summary["tables"]["kubernetes/pod_logs"]["rows"] == tables["kubernetes/pod_logs"].num_rows
        assert open(os.path.join(again, "manifest.json")).read() == open(os.path.join(out, "manifest.json")).read()


def test_tables_and_errors():
    t = obsgen.generate(start=START, hours=1, tables=["pod_logs", "cloudwatch/alarms"])
    assert sorted(t) == ["cloudwatch/alarms", "kubernetes/pod_logs"]
    twin = obsgen.generate(start=START, hours=1, tables="sentry/errors", incidents=False)
    assert twin["sentry/errors"]["incident_id"].null_count == twin["sentry/errors"].num_rows
    for bad, says in [({"tables": ["metrics"]}, "ambiguous"),
                      ({"sources": ["nope"]}, "unknown source"),
                      ({"hours": 0}, "hours"),
                      ({"start": "yesterday"}, "start")]:
        try:
            obsgen.generate(**{"start": START, "hours": 1, **bad})
        except ValueError as e:
            assert says in str(e), (bad, e)
        else:
            raise AssertionError(f"{bad} was accepted")


def test_version_and_cli():
    assert obsgen.__version__
    out = subprocess.run([shutil.which("obsgen"), "--version"], check=True,
                         capture_output=True, text=True).stdout
    assert obsgen.__version__ in out


if __name__ == "__main__":
    sys.exit(subprocess.call([sys.executable, "-m", "pytest", "-q", __file__]))
