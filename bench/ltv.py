"""BG/NBD fit on synthetic customers drawn from the model with known parameters.

Reports the seconds to fit, how well the parameters are recovered, the CDNOW check against
the published estimates, and — when the ``lifetimes`` library is importable here or in the
interpreter named by ``SIYU_BENCH_LIFETIMES_PYTHON`` — the same fit by ``lifetimes``
(``BetaGeoFitter``) on the same data, for time and agreement. ``lifetimes`` is not a siyu
dependency: it is unmaintained and pulls in autograd, dill and pandas; install it in a
separate virtualenv to compare.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from siyu.analytics import bgnbd
from siyu.analytics import gamma_gamma as gg

TRUTH = bgnbd.BGNBDParams(r=0.243, alpha=4.414, a=0.793, b=2.426)  # CDNOW's, in weeks
WEEKS = 39.0
CDNOW = Path(__file__).parent.parent / "tests" / "analytics" / "data" / "cdnow_summary.csv"
PUBLISHED = {
    "r": 0.243,
    "alpha": 4.414,
    "a": 0.793,
    "b": 2.426,
    "p": 6.25,
    "q": 3.74,
    "gamma": 15.44,
}

_LIFETIMES = """
import json, sys, time
import numpy as np
from lifetimes import BetaGeoFitter
d = np.load(sys.argv[1])
start = time.perf_counter()
f = BetaGeoFitter().fit(d["x"], d["t_x"], d["T"])
print(json.dumps({"seconds": time.perf_counter() - start,
                  **{k: float(v) for k, v in f.params_.items()}}))
"""


def _lifetimes_python() -> str | None:
    named = os.environ.get("SIYU_BENCH_LIFETIMES_PYTHON")
    if named:
        return named
    try:
        import lifetimes  # type: ignore[import-not-found]  # noqa: F401
    except ImportError:
        return None
    return sys.executable


def _lifetimes_fit(x: np.ndarray, t_x: np.ndarray, big_t: np.ndarray) -> dict[str, Any] | None:
    python = _lifetimes_python()
    if python is None:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "summary.npz"
        np.savez(path, x=x, t_x=t_x, T=big_t)
        done = subprocess.run(
            [python, "-c", _LIFETIMES, str(path)], capture_output=True, text=True, check=False
        )
    if done.returncode != 0:
        return {"error": done.stderr.strip().splitlines()[-1] if done.stderr else "failed"}
    found: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return found


def _cdnow() -> dict[str, Any]:
    d = np.genfromtxt(CDNOW, delimiter=",", names=True)
    start = time.perf_counter()
    purchases = bgnbd.fit(d["x"], d["t_x"], d["T"])
    spend = gg.fit(d["x"], d["zbar"])
    seconds = time.perf_counter() - start
    found = {
        "r": purchases.r,
        "alpha": purchases.alpha,
        "a": purchases.a,
        "b": purchases.b,
        "p": spend.p,
        "q": spend.q,
        "gamma": spend.gamma,
    }
    worst = max(abs(found[k] - v) / v for k, v in PUBLISHED.items())
    return {
        "seconds": seconds,
        **{k: round(v, 4) for k, v in found.items()},
        "max_rel_diff_vs_published": worst,
    }


def run(customers: int = 100_000, *, seed: int = 1, compare: bool = True) -> dict[str, Any]:
    """Simulate ``customers``, fit, and report seconds and recovery."""
    start = time.perf_counter()
    x, t_x, big_t = bgnbd.simulate(TRUTH, customers, WEEKS, seed=seed)
    simulate_s = time.perf_counter() - start
    start = time.perf_counter()
    fitted = bgnbd.fit(x, t_x, big_t)
    fit_s = time.perf_counter() - start
    truth = TRUTH.__dict__
    recovered = {k: round(getattr(fitted, k), 4) for k in truth}
    result: dict[str, Any] = {
        "customers": customers,
        "repeat_customers": int((x > 0).sum()),
        "simulate_seconds": simulate_s,
        "siyu_fit_seconds": fit_s,
        "truth": truth,
        "siyu": recovered,
        "max_rel_error_vs_truth": max(abs(recovered[k] - v) / v for k, v in truth.items()),
        "cdnow": _cdnow(),
    }
    other = _lifetimes_fit(x, t_x, big_t) if compare else None
    if other is None:
        result["lifetimes"] = "not installed (set SIYU_BENCH_LIFETIMES_PYTHON to compare)"
    elif "error" in other:
        result["lifetimes"] = other
    else:
        result["lifetimes"] = {k: round(v, 4) for k, v in other.items()}
        result["lifetimes_fit_seconds"] = other["seconds"]
        result["speedup_vs_lifetimes"] = other["seconds"] / fit_s
        result["max_rel_diff_vs_lifetimes"] = max(
            abs(recovered[k] - other[k]) / other[k] for k in truth
        )
    return result


if __name__ == "__main__":
    print(json.dumps(run(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000), indent=2))
