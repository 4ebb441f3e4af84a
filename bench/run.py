"""Run every benchmark, print a table, write ``bench/results/<name>.json``.

``python -m bench.run [--quick] [name ...]``; ``--quick`` uses small sizes (the CI smoke
variant); names pick benchmarks (``python -m bench.run faults load``).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from bench import (
    collect,
    eventstore,
    faults,
    funnel,
    identity_rebuild,
    journeys,
    ledger,
    load,
    ltv,
    segments,
)

RESULTS = Path(__file__).parent / "results"


def _rows(name: str, result: dict[str, Any]) -> list[tuple[str, str]]:
    flat: list[tuple[str, str]] = []
    for key, value in result.items():
        if isinstance(value, dict):
            flat.extend((f"{key}.{k}", _fmt(v)) for k, v in value.items())
        else:
            flat.append((key, _fmt(value)))
    return flat


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.3f}" if value < 100 else f"{value:,.0f}"
    return str(value)


def main(argv: list[str]) -> None:
    quick = "--quick" in argv
    runs = {
        "collect": lambda: collect.run(events=5_000 if quick else 400_000),
        "eventstore": lambda: eventstore.run(events=20_000 if quick else 1_000_000),
        "identity_rebuild": lambda: identity_rebuild.run(links=50_000 if quick else 10_000_000),
        "segments": lambda: segments.run(persons=20_000 if quick else 10_000_000),
        "funnel": lambda: funnel.run(events=50_000 if quick else 20_000_000),
        "ltv": lambda: ltv.run(customers=5_000 if quick else 100_000),
        "ledger": lambda: ledger.run(
            clients=32, ops_per_client=20 if quick else 500, processes=1 if quick else 4
        ),
        "journeys": lambda: journeys.run(20_000 if quick else 1_000_000),
        # Sustained load on a real server: collect and the management API, each for minutes.
        "load": lambda: load.run(seconds=10 if quick else 180),
        "faults": lambda: faults.run(quick=quick),
    }
    # ``python -m bench.run [--quick] [name ...]``: every benchmark, or only those named.
    wanted = [a for a in argv if not a.startswith("--")]
    unknown = sorted(set(wanted) - set(runs))
    if unknown:
        raise SystemExit(f"unknown benchmark {', '.join(unknown)}; known: {', '.join(runs)}")
    console = Console()
    RESULTS.mkdir(exist_ok=True)
    for name, bench in runs.items():
        if wanted and name not in wanted:
            continue
        console.print(f"[bold]running {name}…")
        result = bench()
        suffix = "-quick" if quick else ""
        (RESULTS / f"{name}{suffix}.json").write_text(json.dumps(result, indent=2, default=str))
        table = Table(title=name)
        table.add_column("measure")
        table.add_column("value", justify="right")
        for key, value in _rows(name, result):
            table.add_row(key, value)
        console.print(table)


if __name__ == "__main__":
    main(sys.argv[1:])
