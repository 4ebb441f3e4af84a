"""Benchmark: the identity rebuild core vs scipy's connected_components on the same links.

    .venv/bin/python bench/identity_rebuild.py [links]

Generates a realistic link set (persons with several ids, a few shared store tablets), times
:func:`siyu.identity.rebuild.rebuild_labels` (components + limit check + sequential pass over
the over-limit components) against building a CSR matrix from the same arrays and running
``scipy.sparse.csgraph.connected_components``, and reports peak RSS beside each time.
"""

from __future__ import annotations

import json
import resource
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import psutil

from siyu.identity.rebuild import link_edges, rebuild_labels
from siyu.identity.rules import DEFAULT_RULES

RESULTS = Path(__file__).resolve().parent / "results" / "identity_rebuild.json"
# Identifier slots per person: the type of each slot.
SLOTS = ["user_id", "member_id", "phone", "unionid", "mp_openid", "anonymous_id",
         "anonymous_id", "device_id", "device_id"]  # fmt: skip
SHARED_SHARE = 0.001  # share of links made on a shared store tablet
LINKS_PER_TABLET = 15


def generate(links: int, seed: int = 42) -> dict[str, Any]:
    """A link set as CSR arrays: ~10 links per person, 1–3 identifiers per link."""
    rng = np.random.default_rng(seed)
    persons = max(links // 10, 1)
    type_names = list(DEFAULT_RULES)
    slot_type = np.array([type_names.index(t) for t in SLOTS], dtype=np.int64)
    n_slots = len(SLOTS)
    person = rng.integers(0, persons, links)
    # Every link carries an anonymous id; most a device; some a strong id (login, member…).
    anon = person * n_slots + 5 + rng.integers(0, 2, links)
    has_device = rng.random(links) < 0.7
    device = person * n_slots + 7 + rng.integers(0, 2, links)
    has_strong = rng.random(links) < 0.3
    strong = person * n_slots + rng.integers(0, 5, links)
    tablets = max(int(links * SHARED_SHARE) // LINKS_PER_TABLET, 1)
    shared = rng.random(links) < SHARED_SHARE
    device = np.where(shared, persons * n_slots + rng.integers(0, tablets, links), device)
    has_device |= shared
    has_strong |= shared  # a tablet is used to look members up
    lengths = 1 + has_device.astype(np.int64) + has_strong.astype(np.int64)
    link_ptr = np.concatenate([[0], np.cumsum(lengths)])
    raw = np.full((links, 3), -1, dtype=np.int64)
    raw[:, 0] = anon
    raw[:, 1] = np.where(has_device, device, -1)
    raw[:, 2] = np.where(has_strong, strong, -1)
    flat = raw.ravel()
    flat = flat[flat >= 0]  # row-major, so each link's identifiers stay together and in order
    nodes, members = np.unique(flat, return_inverse=True)
    node_type = np.where(
        nodes >= persons * n_slots, type_names.index("device_id"), slot_type[nodes % n_slots]
    )
    return {
        "link_ptr": link_ptr,
        "members": members.astype(np.int64),
        "node_type": node_type.astype(np.int64),
        "type_names": type_names,
        "persons": persons,
        "tablets": tablets,
    }


@contextmanager
def peak_rss() -> Iterator[dict[str, float]]:
    """Track the highest RSS (MiB) of this process while the block runs."""
    proc, stop = psutil.Process(), threading.Event()
    out = {"peak_rss_mib": proc.memory_info().rss / 2**20}

    def sample() -> None:
        while not stop.wait(0.02):
            out["peak_rss_mib"] = max(out["peak_rss_mib"], proc.memory_info().rss / 2**20)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield out
    finally:
        stop.set()
        thread.join()
        out["peak_rss_mib"] = round(max(out["peak_rss_mib"], proc.memory_info().rss / 2**20), 1)


def timed(fn: Callable[[], Any]) -> tuple[Any, dict[str, float]]:
    with peak_rss() as memory:
        start = time.perf_counter()
        value = fn()
        seconds = time.perf_counter() - start
    return value, {"seconds": round(seconds, 3), **memory}


def scipy_components(data: dict[str, Any]) -> tuple[int, np.ndarray]:
    """The reference: CSR matrix from the same arrays, then connected_components."""
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import connected_components

    n = data["node_type"].size
    u, v = link_edges(data["link_ptr"], data["members"])
    matrix = csr_matrix((np.ones(u.size, dtype=np.int8), (u, v)), shape=(n, n))
    count, labels = connected_components(matrix, directed=False)
    return int(count), labels


def run(links: int = 10_000_000) -> dict[str, Any]:
    """Generate ``links`` links, time both, and return the figures."""
    data = generate(links)
    result, ours = timed(
        lambda: rebuild_labels(
            link_ptr=data["link_ptr"],
            members=data["members"],
            node_type=data["node_type"],
            type_names=data["type_names"],
            rules=DEFAULT_RULES,
        )
    )
    (components, _), reference = timed(lambda: scipy_components(data))
    return {
        "links": links,
        "identifiers": int(data["node_type"].size),
        "link_members": int(data["members"].size),
        "generated_persons": data["persons"],
        "shared_tablets": data["tablets"],
        "scipy_components": components,
        "rebuilt_persons": int(np.unique(result.labels).size),
        "slow_components": result.slow_components,
        "slow_links": result.slow_links,
        "rebuild": ours,
        "scipy": reference,
        "ratio": round(ours["seconds"] / max(reference["seconds"], 1e-9), 2),
        "max_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def main() -> None:
    from rich.console import Console
    from rich.table import Table

    links = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000_000
    figures = run(links)
    table = Table(title=f"identity rebuild, {links:,} links, {figures['identifiers']:,} ids")
    for column in ("", "seconds", "peak RSS MiB", "result"):
        table.add_column(column)
    table.add_row(
        "siyu rebuild_labels",
        str(figures["rebuild"]["seconds"]),
        str(figures["rebuild"]["peak_rss_mib"]),
        f"{figures['rebuilt_persons']:,} persons ({figures['slow_links']:,} links replayed)",
    )
    table.add_row(
        "scipy csr + connected_components",
        str(figures["scipy"]["seconds"]),
        str(figures["scipy"]["peak_rss_mib"]),
        f"{figures['scipy_components']:,} components",
    )
    Console().print(table)
    Console().print(f"ratio siyu / scipy: {figures['ratio']}×")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
