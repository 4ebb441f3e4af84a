"""Issue 3's "done means", end to end: an operator tags, segments, layers (RFM, lifecycle)
and reads every board on the demo brand — over real HTTP against a ``siyu serve`` process
and through the CLI — and DuckDB and ClickHouse (chdb) return the same numbers.

One demo brand of 400 customers is built once for the module; the tests run in file order
on it (later ones read what earlier ones wrote, e.g. the RFM tags).
"""

from __future__ import annotations

import csv
import io
import json
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from siyu.analytics.models import FUNNEL_PRESETS
from siyu.core.clock import utcnow
from siyu.core.config import Settings
from siyu.core.runtime import open_runtime
from siyu.demo import build, content_seed
from siyu.demo.brand import CHANNELS, draw_brand
from siyu.demo.messages import people_of
from siyu.segments.rfm import RfmSegment
from tests.e2e.conftest import Server, free_port, siyu

USERS = 400
SEED = 7
ENGINES = ("duckdb", "clickhouse")
ATTRIBUTION_MODELS = (
    "first_touch",
    "last_touch",
    "linear",
    "time_decay",
    "position_based",
    "markov",
)
# Fields that differ between two runs by design (clocks, the engine's own name, timings).
VOLATILE = {"computed_at", "as_of", "dialect", "fitted_at", "seconds"}


@dataclass
class Brand:
    """The demo brand being served."""

    data_dir: Path
    workspace_id: str
    http: httpx.Client
    member_ids: list[str]
    today: date  # local (Asia/Shanghai)

    @property
    def month(self) -> dict[str, str]:
        """The 30 complete local days before today, as from/to query parameters."""
        return {
            "from": (self.today - timedelta(days=30)).isoformat(),
            "to": (self.today - timedelta(days=1)).isoformat(),
        }


@pytest.fixture(scope="module")
def brand(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Brand]:
    data_dir = Path(tmp_path_factory.mktemp("walkthrough"))
    now = utcnow()
    rt = open_runtime(Settings(data_dir=data_dir))
    try:
        keys, _ = build.prepare_workspace(rt, users=USERS, seed=SEED, rebuild=False, now=now)
        build.build_demo(rt, workspace_id=keys.workspace_id, users=USERS, seed=SEED, now=now)
    finally:
        rt.close()
    drawn = draw_brand(users=USERS, seed=SEED, now=now)
    people = people_of(drawn)
    members = [people.member_id[u] for u in range(USERS) if drawn.customers.member[u]]
    server = Server(data_dir, f"http://127.0.0.1:{free_port()}")
    server.start()
    headers = {"Authorization": f"Bearer {keys.secret_key}"}
    try:
        with httpx.Client(base_url=server.url, headers=headers, timeout=120) as http:
            yield Brand(
                data_dir=data_dir,
                workspace_id=keys.workspace_id,
                http=http,
                member_ids=members,
                today=now.astimezone(ZoneInfo("Asia/Shanghai")).date(),
            )
    finally:
        server.stop()


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, f"{response.request.url}: {response.text}"
    return response.json() if response.content else None


def stable(body: Any) -> Any:
    """``body`` without the fields that differ between runs by design."""
    if isinstance(body, dict):
        return {k: stable(v) for k, v in body.items() if k not in VOLATILE}
    if isinstance(body, list):
        return [stable(v) for v in body]
    return body


def on_both(
    http: httpx.Client,
    method: str,
    path: str,
    *,
    param: str = "engine",
    params: dict[str, Any] | None = None,
    json_body: Any = None,
) -> Any:
    """The body on DuckDB, after asserting ClickHouse answers the same (``param`` names the
    engine: ``engine`` on analytics and measure routes, ``dialect`` on layers and value)."""
    bodies = []
    for engine in ENGINES:
        response = http.request(
            method, path, params={**(params or {}), param: engine}, json=json_body
        )
        bodies.append(ok(response))
    assert stable(bodies[0]) == stable(bodies[1]), f"{path}: the engines disagree"
    return bodies[0]


def person_of_member(brand: Brand, member_id: str) -> str:
    found = ok(
        brand.http.get(
            "/api/persons", params={"identifier_type": "member_id", "identifier": member_id}
        )
    )
    person_id: str = found["person_id"]
    return person_id


def cli(brand: Brand, *args: str) -> subprocess.CompletedProcess[bytes]:
    return siyu(brand.data_dir, *args, check=False)


def cli_json(brand: Brand, *args: str) -> Any:
    done = cli(brand, *args)
    assert done.returncode == 0, done.stderr.decode()
    return json.loads(done.stdout)


def cli_fails(brand: Brand, *args: str) -> str:
    """The one readable line a bad command prints, after checking its non-zero exit."""
    done = cli(brand, *args)
    assert done.returncode != 0, done.stdout.decode()
    lines = [line for line in done.stderr.decode().splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr.decode()
    assert "Traceback" not in lines[0]
    return lines[0]


# -- (1) tags ---------------------------------------------------------------------------------


def test_tag_a_person_by_hand_and_a_csv_list(brand: Brand) -> None:
    http = brand.http
    group = ok(
        http.post("/api/tags/groups", json={"name": "兴趣", "description": "what they like"}),
        201,
    )
    assert group["kind"] == "manual"
    tea = ok(http.post("/api/tags", json={"group": "兴趣", "name": "乌龙控"}), 201)
    vip = ok(http.post("/api/tags", json={"group": "兴趣", "name": "礼盒客"}), 201)

    first = person_of_member(brand, brand.member_ids[0])
    gained = ok(
        http.post(
            f"/api/persons/{first}/tags",
            json={"tag": "兴趣/乌龙控", "actor": "小王", "reason": "门店反馈"},
        )
    )
    assert gained == {"gained": 1, "lost": 0}
    held = ok(http.get(f"/api/persons/{first}/tags"))
    assert [(t["tag"], t["group"], t["source"], t["assigned_by"]) for t in held] == [
        ("乌龙控", "兴趣", "manual", "小王")
    ]

    listed = brand.member_ids[:40]
    text = "type,value\n" + "".join(f"member_id,{m}\n" for m in listed) + "member_id,SC0000000\n"
    report = ok(
        http.post(
            f"/api/tags/{vip['id']}/import",
            content=text.encode(),
            headers={"content-type": "text/csv"},
            params={"actor": "小王"},
        )
    )
    assert report["rows"] == 41
    assert [(r["line"], r["value"]) for r in report["unresolved"]] == [(42, "SC0000000")]
    assert 0 < report["persons"] <= 40 and report["gained"] == report["persons"]
    holders = ok(http.get(f"/api/tags/{vip['id']}/persons"))
    assert len(holders) == report["persons"]
    counted = {t["name"]: t["persons"] for t in ok(http.get("/api/tags", params={"counts": True}))}
    assert counted["礼盒客"] == report["persons"] and counted[tea["name"]] == 1
    history = ok(http.get(f"/api/persons/{holders[0]}/tags/history"))
    assert history[0]["change"] == "gained" and history[0]["reason"] == "csv import"

    # Bad input: a CSV without the header, a tag nobody defined, a duplicate group.
    bad = http.post(
        f"/api/tags/{vip['id']}/import", content=b"SC1,x\n", headers={"content-type": "text/csv"}
    )
    assert bad.status_code == 400, bad.text
    assert http.post(f"/api/persons/{first}/tags", json={"tag": "兴趣/没有"}).status_code == 404
    assert http.post("/api/tags/groups", json={"name": "兴趣"}).status_code == 409


# -- (2) segments -----------------------------------------------------------------------------


def test_segment_mixing_a_trait_an_event_and_a_tag(brand: Brand) -> None:
    http = brand.http
    definition = {
        "type": "all",
        "of": [
            {"type": "trait", "name": "gender", "op": "eq", "value": "female"},
            {
                "type": "event",
                "event": "Order Completed",
                "count": {"op": "gte", "value": 1},
                "window": {"days": 120},
            },
            {"type": "tag", "tag": "兴趣/礼盒客"},
        ],
    }
    preview = ok(http.post("/api/segments/preview", json={"definition": definition}))
    holders = set(ok(http.get("/api/tags/兴趣/礼盒客/persons")))
    assert 0 < preview["count"] <= len(holders)
    assert set(preview["sample"]) <= holders
    for person_id in preview["sample"][:5]:
        profile = ok(http.get(f"/api/persons/{person_id}"))["profile"]
        assert profile["traits"]["gender"] == "female" and profile["order_count"] >= 1

    saved = ok(
        http.post(
            "/api/segments",
            json={"name": "女性礼盒买家", "definition": definition, "refresh_minutes": None},
        ),
        201,
    )
    assert saved["members"] == 0 and saved["refreshed_at"] is None
    refreshed = ok(http.post(f"/api/segments/{saved['id']}/refresh"))
    assert (refreshed["members"], refreshed["entered"], refreshed["left"]) == (
        preview["count"],
        preview["count"],
        0,
    )
    members = ok(http.get(f"/api/segments/{saved['id']}/members"))
    assert members["total"] == preview["count"] == len(members["items"])
    assert members["items"] == sorted(members["items"]) and set(members["items"]) <= holders

    # One member loses the tag: the next refresh records that she left.
    leaver = members["items"][0]
    lost = ok(http.delete(f"/api/persons/{leaver}/tags/兴趣/礼盒客", params={"actor": "小王"}))
    assert lost == {"gained": 0, "lost": 1}
    again = ok(http.post(f"/api/segments/{saved['id']}/refresh"))
    assert (again["entered"], again["left"], again["members"]) == (0, 1, preview["count"] - 1)
    changes = ok(http.get(f"/api/segments/{saved['id']}/changes"))["items"]
    assert [c["change"] for c in changes].count("entered") == preview["count"]
    assert [(c["person_id"], c["change"]) for c in changes][-1] == (leaver, "left")

    export = http.get(f"/api/segments/{saved['id']}/export", params={"id_types": "member_id"})
    assert export.status_code == 200 and export.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(export.text)))
    assert rows[0][0] == "person_id" and len(rows) == 1 + again["members"]
    assert {r[0] for r in rows[1:]} == set(members["items"]) - {leaver}
    assert all(r[1].startswith("SC") for r in rows[1:])

    # Bad input: an unknown condition type, an unknown segment.
    bad = http.post("/api/segments/preview", json={"definition": {"type": "bogus"}})
    assert bad.status_code == 422, bad.text
    assert http.post("/api/segments/seg_nope/refresh").status_code == 404


# -- (3) layers -------------------------------------------------------------------------------


def test_rfm_and_lifecycle_on_both_engines(brand: Brand) -> None:
    http = brand.http
    runs = [ok(http.post("/api/layers/rfm/run", params={"engine": d})) for d in ENGINES]
    assert [r["dialect"] for r in runs] == list(ENGINES)
    assert stable(runs[0]) | {"tags_gained": 0} == stable(runs[1]) | {"tags_gained": 0}
    first, second = runs
    assert first["tags_gained"] == first["buyers"] > 100  # every buyer gets one RFM tag
    assert (second["tags_gained"], second["tags_lost"]) == (0, 0)  # ClickHouse placed all alike
    assert set(first["segments"]) <= {s.value for s in RfmSegment}
    assert sum(first["segments"].values()) == first["buyers"]

    # RFM covers exactly the buyers of all time (repurchase over the whole history).
    history = {"from": (brand.today - timedelta(days=400)).isoformat(), "to": str(brand.today)}
    buyers = on_both(http, "GET", "/api/analytics/repurchase", params=history)["buyers"]
    assert first["buyers"] == buyers

    report = ok(http.get("/api/layers/rfm", params={"limit": 1000}))
    assert report["segments"] == first["segments"] and len(report["items"]) == buyers
    top = report["items"][0]
    assert top["monetary_fen"] == max(i["monetary_fen"] for i in report["items"])
    only = ok(http.get("/api/layers/rfm", params={"segment": top["segment"]}))
    assert {i["segment"] for i in only["items"]} == {top["segment"]}

    lifecycles = [ok(http.post("/api/layers/lifecycle/run", params={"engine": d})) for d in ENGINES]
    a, b = lifecycles
    assert stable(a) | {"tags_gained": 0, "transitions": 0} == stable(b) | {
        "tags_gained": 0,
        "transitions": 0,
    }
    assert (b["transitions"], b["tags_gained"], b["tags_lost"]) == (0, 0, 0)
    assert sum(a["stages"].values()) == sum(a["activities"].values()) == a["persons"] >= USERS
    assert a["transitions"] == 2 * a["persons"]  # first placement: a stage and an activity
    shown = ok(http.get("/api/layers/lifecycle"))
    assert shown["stages"] == a["stages"] and shown["activities"] == a["activities"]
    assert sum(m["persons"] for m in shown["moves"]) == a["transitions"]

    # A buyer's model tags: one RFM segment, one lifecycle stage, one activity status.
    tags = ok(http.get(f"/api/persons/{top['person_id']}/tags"))
    model = [t for t in tags if t["source"] == "model"]
    assert top["segment"] in {t["tag"] for t in model}
    assert len(model) == 3, model
    moves = ok(http.get(f"/api/persons/{top['person_id']}/lifecycle"))
    assert {m["dimension"] for m in moves} == {"stage", "activity"}

    # Bad input: an unknown engine, an unknown RFM segment.
    assert http.post("/api/layers/rfm/run", params={"engine": "oracle"}).status_code == 422
    assert http.get("/api/layers/rfm", params={"segment": "VIP"}).status_code == 422


# -- (4) boards -------------------------------------------------------------------------------


def test_funnel_retention_repurchase_on_both_engines(brand: Brand) -> None:
    http = brand.http
    zone = ZoneInfo("Asia/Shanghai")
    start = f"{brand.today - timedelta(days=60)}T00:00:00+08:00"
    end = f"{brand.today}T00:00:00+08:00"
    for order in ("loose", "strict"):
        funnel = on_both(
            http,
            "POST",
            "/api/analytics/funnel",
            json_body={
                "steps": [{"event": e} for e in FUNNEL_PRESETS["conversion"]],
                "window": 7 * 86400,
                "order": order,
                "start": start,
                "end": end,
                "breakdown": {"kind": "first_touch_channel"},
            },
        )
        counts = [s["persons"] for s in funnel["total"]["steps"]]
        assert counts[0] > 0 and counts == sorted(counts, reverse=True), counts
        assert funnel["total"]["steps"][-1]["conversion_from_first"] == pytest.approx(
            counts[-1] / counts[0]
        )
        split = [series["steps"][0]["persons"] for series in funnel["breakdown"]]
        assert sum(split) == counts[0]
        # First touches: the brand's acquisition channels, or a content link's channel for a
        # visitor whose first event was a click on the demo library's tracked links.
        known = {c[0] for c in CHANNELS} | set(content_seed.LINK_CHANNELS) | {None}
        assert {s["breakdown_value"] for s in funnel["breakdown"]} <= known

    # 45 daily periods: more than one ClickHouse retention() call takes (32 conditions).
    for cohort, period, periods in (("first_visit", "week", 6), ("first_order", "day", 45)):
        retention = on_both(
            http,
            "POST",
            "/api/analytics/retention",
            json_body={
                "cohort_by": cohort,
                "period": period,
                "periods": periods,
                "start": f"{brand.today - timedelta(days=90)}T00:00:00+08:00",
                "end": end,
                "timezone": str(zone),
            },
        )
        assert retention["cohorts"] and len(retention["average"]) == periods + 1
        for c in retention["cohorts"]:
            assert c["returned"][0] == c["persons"] > 0
            assert all(0 <= r <= c["persons"] for r in c["returned"])

    repurchase = on_both(http, "GET", "/api/analytics/repurchase", params=brand.month)
    assert 0 < repurchase["repeat_within"] <= repurchase["repeat_buyers"] <= repurchase["buyers"]
    assert sum(b["intervals"] for b in repurchase["distribution"]) == repurchase["intervals"]
    assert repurchase["intervals"] == repurchase["orders"] - repurchase["buyers"]

    # Bad input: one step, an unknown engine, 'to' before 'from'.
    bad = http.post(
        "/api/analytics/funnel",
        json={"steps": [{"event": "Order Completed"}], "start": start, "end": end},
    )
    assert bad.status_code == 422, bad.text
    wrong = http.get("/api/analytics/repurchase", params={**brand.month, "engine": "oracle"})
    assert wrong.status_code == 422
    reversed_ = {"from": brand.month["to"], "to": brand.month["from"]}
    assert http.get("/api/analytics/repurchase", params=reversed_).status_code == 400


def test_value_boards_on_both_engines(brand: Brand) -> None:
    http = brand.http
    pareto = on_both(http, "GET", "/api/analytics/pareto", param="engine")
    shares = pareto["pareto"]["shares"]
    assert [s["top"] for s in shares] == [0.01, 0.02, 0.2]
    assert [s["revenue_fen"] for s in shares] == sorted(s["revenue_fen"] for s in shares)
    assert shares[-1]["revenue_share"] > 0.2  # the top 20% buy more than their share
    rfm_buyers = sum(ok(http.get("/api/layers/rfm"))["segments"].values())
    assert pareto["pareto"]["buyers"] == rfm_buyers
    assert all(k["referred_buyers"] <= k["referred"] for k in pareto["koc"])

    until = str(brand.today - timedelta(days=1))
    everything = {"until": str(brand.today)}  # every order so far, as Pareto counts
    past = on_both(http, "GET", "/api/analytics/ltv", param="engine", params=everything)
    assert sum(c["customers"] for c in past["cohorts"]) == past["customers"]
    assert sum(c["revenue_fen"] for c in past["cohorts"]) == past["revenue_fen"]
    assert past["margin_fen"] <= past["revenue_fen"]
    assert past["revenue_fen"] == pareto["pareto"]["revenue_fen"]

    fits = [
        ok(
            http.post(
                "/api/analytics/ltv/fit",
                params={"engine": d},
                json={"until": until, "time_unit": "day"},
            )
        )
        for d in ENGINES
    ]
    assert stable(fits[0]) == stable(fits[1])
    model = fits[0]
    assert 0 < model["repeat_customers"] < model["customers"] <= past["customers"]
    assert all(model[k] > 0 for k in ("r", "alpha", "a", "b"))
    predicted = on_both(
        http,
        "GET",
        "/api/analytics/ltv/predictions",
        param="engine",
        params={"as_of": until, "horizon_days": 90, "limit": 20},
    )
    assert predicted["customers"] == model["customers"] and len(predicted["items"]) == 20
    assert all(0 <= i["p_alive"] <= 1 for i in predicted["items"])
    clv = [i["clv_fen"] for i in predicted["items"]]
    assert clv == sorted(clv, reverse=True)

    # Bad input: a top share outside (0, 1], a fit on an unknown unit.
    assert http.get("/api/analytics/pareto", params={"tops": 1.5}).status_code == 400
    bad = http.post("/api/analytics/ltv/fit", json={"until": until, "time_unit": "month"})
    assert bad.status_code == 422


def test_measure_boards_on_both_engines(brand: Brand) -> None:
    http = brand.http
    month = brand.month
    gmv = on_both(http, "GET", "/api/analytics/gmv", params=month)
    now, before = gmv["current"], gmv["previous"]
    assert now["orders"] > 20 and gmv["change_fen"] == now["gmv_fen"] - before["gmv_fen"]
    assert sum(f["contribution_fen"] for f in gmv["factors"]) == gmv["change_fen"]
    assert sum(s["after"]["gmv_fen"] for s in gmv["buyer_types"]) == now["gmv_fen"]
    assert sum(s["after"]["gmv_fen"] for s in gmv["referral"]) == now["gmv_fen"]
    assert {f["factor"] for f in gmv["factors"]} == {"traffic", "conversion", "frequency", "aov"}

    for model in ATTRIBUTION_MODELS:
        credit = on_both(
            http,
            "GET",
            "/api/analytics/attribution",
            params={**month, "model": model, "lookback_days": 90},
        )
        assert (credit["orders"], credit["revenue_fen"]) == (now["orders"], now["gmv_fen"])
        assert sum(c["conversions"] for c in credit["channels"]) == pytest.approx(now["orders"])
        assert sum(c["revenue_fen"] for c in credit["channels"]) == now["gmv_fen"]
        assert sum(c["share"] for c in credit["channels"]) == pytest.approx(1)

    first = date.fromisoformat(month["from"])
    spend = [
        {"day": str(first + timedelta(days=d)), "channel": "douyin", "spend_fen": 20_000}
        for d in range(10)
    ] + [{"day": str(first), "channel": "xiaohongshu", "spend_fen": 90_000}]
    written = ok(http.post("/api/spend", json={"entries": spend}))
    assert written["stored"] == 11, written
    assert ok(http.get("/api/spend", params=month))["spend_fen"] == 290_000
    roi = on_both(http, "GET", "/api/analytics/roi", params={**month, "model": "linear"})
    assert roi["spend_fen"] == 290_000 and roi["attributed_revenue_fen"] == now["gmv_fen"]
    paid = {c["channel"]: c for c in roi["channels"] if c["spend_fen"]}
    assert set(paid) == {"douyin", "xiaohongshu"}
    assert roi["paid_revenue_fen"] == sum(c["attributed_revenue_fen"] for c in paid.values())
    for c in paid.values():
        assert c["roas"] == pytest.approx(c["attributed_revenue_fen"] / c["spend_fen"])
        assert c["roi"] == pytest.approx(c["roas"] - 1)
    assert roi["new_buyers"] == sum(c["new_buyers"] for c in roi["channels"])

    boards = {
        kind: on_both(http, "GET", f"/api/analytics/boards/{kind}", params=month)
        for kind in ("aarrr", "rarra")
    }
    order = {k: [s["stage"] for s in b["stages"]] for k, b in boards.items()}
    assert order["aarrr"] == ["acquisition", "activation", "retention", "revenue", "referral"]
    assert order["rarra"] == ["retention", "activation", "referral", "revenue", "acquisition"]
    numbers = {
        k: {m["name"]: m["value"] for s in b["stages"] for m in s["metrics"]}
        for k, b in boards.items()
    }
    assert numbers["aarrr"] == numbers["rarra"]
    n = numbers["aarrr"]
    assert n["activated"] <= n["new"] <= n["active"] == now["visitors"]
    assert n["returning"] == n["active"] - n["new"] and n["retained"] <= n["returning"]
    assert (n["buyers"], n["orders"], n["gmv_fen"]) == (
        now["buyers"],
        now["orders"],
        now["gmv_fen"],
    )
    assert n["repeat_buyers"] <= n["buyers"] and n["referred_buyers"] <= n["buyers"]
    acquisition = next(s for s in boards["aarrr"]["stages"] if s["stage"] == "acquisition")
    assert sum(b["value"] for b in acquisition["breakdown"]) == n["new"]

    # Bad input: an unknown attribution model, a negative spend, 'to' before 'from'.
    assert http.get("/api/analytics/attribution", params={"model": "magic"}).status_code == 422
    negative = [{"day": month["from"], "channel": "douyin", "spend_fen": -1}]
    assert http.post("/api/spend", json={"entries": negative}).status_code == 422
    reversed_ = {"from": month["to"], "to": month["from"]}
    assert http.get("/api/analytics/boards/aarrr", params=reversed_).status_code == 400


# -- the same operator flow through the CLI ---------------------------------------------------


def test_the_cli_walkthrough(brand: Brand, tmp_path: Path) -> None:
    created = cli_json(brand, "tags", "create", "消费力", "高消费", "--exclusive", "--json")
    assert (created["group"], created["name"], created["kind"]) == ("消费力", "高消费", "manual")
    person = person_of_member(brand, brand.member_ids[-1])
    applied = cli_json(brand, "tags", "apply", "消费力/高消费", person, "--actor", "cli", "--json")
    assert applied == {"gained": 1, "lost": 0}
    listed = tmp_path / "ids.csv"
    listed.write_text("type,value\n" + "".join(f"member_id,{m}\n" for m in brand.member_ids[-5:]))
    imported = cli_json(brand, "tags", "import-csv", "消费力/高消费", str(listed), "--json")
    assert imported["rows"] == 5 and imported["unresolved"] == []
    tags = cli_json(brand, "tags", "list", "--json")
    high = next(t for t in tags if t["name"] == "高消费")
    assert high["persons"] == imported["persons"] >= 1

    definition = tmp_path / "big-spenders.json"
    definition.write_text(
        json.dumps(
            {
                "type": "all",
                "of": [
                    {"type": "computed", "name": "total_spend_fen", "op": "gte", "value": 10000},
                    {"type": "trait", "name": "city", "op": "in", "value": ["上海", "杭州"]},
                ],
            }
        )
    )
    preview = cli_json(brand, "segments", "preview", str(definition), "--json")
    assert preview["count"] > 0 and len(preview["sample"]) <= preview["count"]
    same = ok(
        brand.http.post(
            "/api/segments/preview", json={"definition": json.loads(definition.read_text())}
        )
    )
    assert same["count"] == preview["count"]

    rfm = cli_json(brand, "rfm", "run", "--json")
    assert sum(rfm["segments"].values()) == rfm["buyers"] > 100
    assert (rfm["tags_gained"], rfm["tags_lost"]) == (0, 0)  # the API's run placed them so
    rfm_ch = cli_json(brand, "rfm", "run", "--engine", "clickhouse", "--json")
    assert stable(rfm_ch) == stable(rfm)

    month = ["--from", brand.month["from"], "--to", brand.month["to"]]
    funnels = [
        cli_json(
            brand, "analytics", "funnel", "--preset", "conversion", *month, "--engine", e, "--json"
        )
        for e in ENGINES
    ]
    assert funnels[0] == funnels[1]
    counts = [s["persons"] for s in funnels[0]["total"]["steps"]]
    assert [s["name"] for s in funnels[0]["total"]["steps"]] == FUNNEL_PRESETS["conversion"]
    assert counts[0] > 0 and counts == sorted(counts, reverse=True)

    boards = [cli_json(brand, "measure", "aarrr", *month, "--engine", e, "--json") for e in ENGINES]
    assert boards[0] == boards[1]
    api = ok(brand.http.get("/api/analytics/boards/aarrr", params=brand.month))
    assert boards[0] == api
    assert boards[0]["stages"][0]["stage"] == "acquisition"

    spend = tmp_path / "spend.csv"
    spend.write_text(f"日期,渠道,花费\n{brand.month['from']},抖音,100.50\n")
    stored = cli_json(brand, "import", "spend", str(spend), "--json")
    assert (stored["stored"], stored["spend_fen"], stored["rejected"]) == (1, 10_050, 0)

    # One bad input per area: one readable line and a non-zero exit.
    assert "兴趣/没有" in cli_fails(brand, "tags", "apply", "兴趣/没有", person)
    bad = tmp_path / "bad.json"
    bad.write_text('{"type": "trait", "name": "city", "op": "in", "value": "上海"}')
    assert "needs a non-empty list" in cli_fails(brand, "segments", "preview", str(bad))
    assert "oracle" in cli_fails(brand, "rfm", "run", "--engine", "oracle")
    assert "preset" in cli_fails(brand, "analytics", "funnel", "--preset", "viral", "--json")
    assert "engine" in cli_fails(brand, "measure", "aarrr", "--engine", "oracle", "--json")
