"""Order and member imports: mappings per source, encodings, Parquet, rejects, re-runs, CLI."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from siyu.collect import imports, normalize
from siyu.collect.imports import ImportKind, ImportPlan, TableFile
from siyu.collect.models import IdType, IngestResult
from siyu.core.crypto import Vault
from siyu.core.errors import InvalidInputError

VAULT = Vault(b"k" * 32)
NOW = datetime(2026, 11, 28, 4, 0, tzinfo=UTC)

TAOBAO_HEADERS = [
    "订单编号",
    "买家会员名",
    "买家应付货款",
    "买家实际支付金额",
    "订单状态",
    "收货人姓名",
    "联系手机",
    "订单创建时间",
    "订单付款时间",
    "宝贝标题",
    "宝贝总数量",
    "店铺名称",
    "退款金额",
]
TAOBAO_ROWS = [
    ["'3912345678901234567", "tea_lover", "58.00", "￥56.00", "交易成功", "张三", "13800138000",
     "2026-10-01 10:00:00", "2026-10-01 10:01:02", "山茶乌龙", "2", "山茶集旗舰店", "0.00"],
    ["3912345678901234568", "小王", "30.00", "30.00", "交易关闭", "王五", "139****1234",
     "2026-10-02 11:00:00", "", "茉莉奶绿", "1", "山茶集旗舰店", "0.00"],
    ["3912345678901234569", "阿梅", "40.00", "40.00", "卖家已发货，等待买家确认", "李梅",
     "138****5678", "2026/10/3 9:05", "2026/10/3 9:06", "桂花拿铁", "1", "山茶集旗舰店", "10.00"],
    ["3912345678901234570", "坏行", "abc", "abc", "交易成功", "赵六", "13700137000",
     "2026-10-04 08:00:00", "2026-10-04 08:00:00", "x", "1", "山茶集旗舰店", ""],
]  # fmt: skip


def write_csv(path: Path, headers: list[str], rows: list[list[str]], encoding: str) -> Path:
    with path.open("w", encoding=encoding, newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(headers)
        writer.writerows(rows)
    return path


def plan_for(table: TableFile, kind: ImportKind, source: str | None = None) -> ImportPlan:
    return imports.plan_import(
        table, kind=kind, source=source, timezone="Asia/Shanghai", vault=VAULT
    )


def map_file(path: Path, kind: ImportKind, source: str | None = None) -> imports.MappedRows:
    table = imports.open_table(path)
    plan = plan_for(table, kind, source)
    rows = [row for chunk in table.chunks() for row in chunk]
    return imports.map_rows(rows, plan)


def parse(messages: list[dict[str, Any]]) -> list[Any]:
    events, rejected = normalize.parse_batch(messages, vault=VAULT, received_at=NOW)
    assert rejected == []
    return events


@pytest.fixture
def taobao_gbk(tmp_path: Path) -> Path:
    return write_csv(tmp_path / "taobao.csv", TAOBAO_HEADERS, TAOBAO_ROWS, "gbk")


def test_taobao_gbk_orders_map_to_order_completed(taobao_gbk: Path) -> None:
    table = imports.open_table(taobao_gbk)
    assert table.encoding == "gb18030"
    assert table.total_rows == 4
    assert plan_for(table, ImportKind.ORDERS).source == "taobao"

    mapped = map_file(taobao_gbk, ImportKind.ORDERS)

    first, third = mapped.messages
    assert first["messageId"] == "import:orders:taobao:3912345678901234567"
    assert first["event"] == "Order Completed"
    assert first["properties"]["revenue"] == "56.00"
    assert first["properties"]["products"] == [{"name": "山茶乌龙", "quantity": 2}]
    assert first["timestamp"] == "2026-10-01T10:01:02+08:00"  # paid time, Shanghai
    assert third["properties"]["revenue"] == "30.00"  # partial refund subtracted
    assert {"type": "phone", "id": "13800138000"} in first["context"]["externalIds"]
    # A masked phone is ignored; the buyer nick still identifies the customer.
    assert third["context"]["externalIds"] == [{"type": "taobao_buyer_id", "id": "阿梅"}]
    assert mapped.lines == [2, 4]
    reasons = {r.line: r.reason for r in mapped.rejected}
    assert reasons[3].startswith("skipped: order status '交易关闭'")
    assert "买家实际支付金额" in reasons[5]

    events = parse(mapped.messages)
    assert [e.revenue_fen for e in events] == [5600, 3000]
    assert events[0].timestamp == datetime(2026, 10, 1, 2, 1, 2, tzinfo=UTC)
    assert events[0].channel == "taobao"
    kinds = {i.type for i in events[0].identifiers}
    assert {IdType.PHONE, IdType.TAOBAO_BUYER_ID, IdType.ANONYMOUS_ID} <= kinds
    assert "13800138000" not in events[0].anonymous_id  # pseudonym, not the phone


def test_jd_utf8_bom_orders(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "jd.csv",
        ["订单号", "商品ID", "商品名称", "订购数量", "下单时间", "订单金额", "应付金额",
         "订单状态", "下单帐号", "联系电话"],
        [["280001", "100012", "山茶礼盒", "1", "2026-09-30 20:00:00", "128.00", "99.90",
          "完成", "jd_user_1", "+86 138-0013-8001"],
         ["280002", "100013", "冷泡茶", "3", "2026-09-30 21:00:00", "60.00", "60.00",
          "已取消", "jd_user_2", ""]],
        "utf-8-sig",
    )  # fmt: skip
    table = imports.open_table(path)
    assert table.encoding == "utf-8-sig"
    assert table.headers[0] == "订单号"

    mapped = map_file(path, ImportKind.ORDERS)

    (message,) = mapped.messages
    assert message["messageId"] == "import:orders:jd:280001"
    assert message["properties"]["revenue"] == "99.90"  # 应付金额 comes before 订单金额
    assert {"type": "jd_buyer_id", "id": "jd_user_1"} in message["context"]["externalIds"]
    assert mapped.rejected[0].skipped
    (event,) = parse(mapped.messages)
    assert event.revenue_fen == 9990


def test_pos_orders_with_member_numbers(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "pos.csv",
        ["order_no", "member_no", "phone", "amount", "paid_at", "store_id", "sku", "qty"],
        [["P1", "M001", "13800138000", "24", "2026-11-01 12:00", "SH-001", "oolong", "1"],
         ["P2", "", "", "18", "2026-11-01 12:05", "SH-001", "", ""]],
        "utf-8",
    )  # fmt: skip
    mapped = map_file(path, ImportKind.ORDERS)
    (message,) = mapped.messages
    assert message["properties"]["store_id"] == "SH-001"
    assert message["properties"]["products"] == [{"product_id": "oolong", "quantity": 1}]
    assert message["context"]["campaign"]["source"] == "store"
    assert mapped.rejected[0].line == 3
    assert "no customer identifier" in mapped.rejected[0].reason
    assert plan_for(imports.open_table(path), ImportKind.ORDERS).source == "pos"


def test_generic_parquet_with_fen_and_datetimes(tmp_path: Path) -> None:
    path = tmp_path / "orders.parquet"
    pq.write_table(
        pa.table(
            {
                "order_id": ["G1", "G2"],
                "user_id": ["u-1", "u-2"],
                "amount_fen": [1234, 800],
                "ordered_at": [datetime(2026, 11, 2, 8, 30), datetime(2026, 11, 2, 9, 0)],  # noqa: DTZ001
            }
        ),
        path,
    )
    table = imports.open_table(path)
    assert table.encoding is None
    assert table.total_rows == 2

    mapped = map_file(path, ImportKind.ORDERS)

    assert plan_for(table, ImportKind.ORDERS).source == "generic"
    assert [m["userId"] for m in mapped.messages] == ["u-1", "u-2"]
    assert "anonymousId" not in mapped.messages[0]
    events = parse(mapped.messages)
    assert [e.revenue_fen for e in events] == [1234, 800]
    assert events[0].timestamp == datetime(2026, 11, 2, 0, 30, tzinfo=UTC)


def test_members_pos_chinese_headers(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "members.csv",
        ["会员卡号", "手机号", "姓名", "性别", "生日", "会员等级", "积分", "注册门店", "注册时间",
         "unionid", "邮箱"],
        [["M001", "13800138000", "张三", "男", "1990/5/1", "金卡", "1,200", "SH-001",
          "2025-01-01 09:00:00", "oUnion1", "Zhang@Example.com"],
         ["M002", "not-a-phone", "李四", "女", "", "银卡", "10", "SH-002", "", "", ""]],
        "gbk",
    )  # fmt: skip
    mapped = map_file(path, ImportKind.MEMBERS)
    first, second = mapped.messages
    assert first["type"] == "identify"
    assert first["traits"] == {
        "member_id": "M001",
        "unionid": "oUnion1",
        "phone": "13800138000",
        "email": "Zhang@Example.com",
        "name": "张三",
        "gender": "male",
        "birthday": "1990-05-01",
        "level": "金卡",
        "points": 1200,
        "registered_store": "SH-001",
        "registered_at": "2025-01-01T09:00:00+08:00",
    }
    assert first["timestamp"] == "2025-01-01T09:00:00+08:00"
    assert first["messageId"].startswith("import:members:pos:")
    assert "13800138000" not in first["messageId"]
    events, rejected = normalize.parse_batch(mapped.messages, vault=VAULT, received_at=NOW)
    assert {i.type for i in events[0].identifiers} >= {IdType.MEMBER_ID, IdType.PHONE, IdType.EMAIL}
    assert rejected[0].index == 1
    assert rejected[0].field == "batch[1].traits.phone"
    assert second["messageId"] != first["messageId"]
    # Same row, same message id: re-importing the file adds nothing.
    assert map_file(path, ImportKind.MEMBERS).messages[0]["messageId"] == first["messageId"]


def test_unknown_source_missing_file_and_unmappable_columns(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="no such file"):
        imports.open_table(tmp_path / "missing.csv")
    path = write_csv(tmp_path / "x.csv", ["a", "b"], [["1", "2"]], "utf-8")
    table = imports.open_table(path)
    with pytest.raises(InvalidInputError, match="unknown source 'shopify'"):
        plan_for(table, ImportKind.ORDERS, "shopify")
    with pytest.raises(InvalidInputError, match="no mappable columns") as caught:
        plan_for(table, ImportKind.ORDERS)
    assert "the file has a, b" in caught.value.message
    with pytest.raises(InvalidInputError, match="the jd mapping"):
        plan_for(
            imports.open_table(write_csv(tmp_path / "t.csv", TAOBAO_HEADERS, [], "gbk")),
            ImportKind.ORDERS,
            "jd",
        )


def test_rejects_keep_source_line_numbers(tmp_path: Path) -> None:
    path = tmp_path / "pos.csv"
    path.write_text(
        "order_no,member_no,amount,paid_at\n"
        "P1,M1,10,2026-11-01 10:00\n"
        'P2,M2,"1\n0",2026-11-01 10:00\n'  # a quoted cell over two lines
        "P3,M3,oops,2026-11-01 10:00\n"
        "P4,M4,10\n"
        "\n"
        "P5,M5,10,yesterday\n"
        "3.7E+18,M6,10,2026-11-01 10:00\n",
        encoding="utf-8",
    )
    mapped = map_file(path, ImportKind.ORDERS)
    assert mapped.lines == [2]
    lines = {r.line: r.reason for r in mapped.rejected}
    assert set(lines) == {3, 5, 6, 8, 9}
    assert "has 3 cells" in lines[6]
    assert "not a date or time" in lines[8]
    assert "scientific notation" in lines[9]


class FakeIngest:
    """Records message ids like the dedupe ledger does; rejects what normalize rejects."""

    def __init__(self) -> None:
        self.seen: set[str] = set()

    def __call__(self, messages: list[dict[str, Any]]) -> IngestResult:
        events, rejected = normalize.parse_batch(
            messages, vault=VAULT, received_at=NOW, prefix="row"
        )
        fresh = [e for e in events if e.message_id not in self.seen]
        self.seen.update(e.message_id for e in fresh)
        return IngestResult(
            accepted=len(fresh), duplicates=len(events) - len(fresh), rejected=rejected
        )


def test_run_import_writes_rejects_and_counts(taobao_gbk: Path, tmp_path: Path) -> None:
    table = imports.open_table(taobao_gbk)
    plan = plan_for(table, ImportKind.ORDERS)
    ingest = FakeIngest()
    progress: list[int] = []

    summary = imports.run_import(table, plan, ingest=ingest, on_rows=progress.append, chunk_rows=2)

    assert progress == [2, 2]
    assert (summary.rows_read, summary.imported, summary.skipped, summary.rejected) == (4, 2, 1, 1)
    assert summary.reject_file == str(tmp_path / "taobao.rejects.csv")
    with open(summary.reject_file, encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["line"] for r in rows] == ["3", "5"]
    assert rows[1]["订单编号"] == "3912345678901234570"

    again = imports.run_import(table, plan, ingest=ingest, rejects_path=tmp_path / "r.csv")
    assert (again.imported, again.duplicates) == (0, 2)


def test_run_import_reports_validation_rejects_by_line(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "m.csv",
        ["member_no", "phone"],
        [["M1", "13800138000"], ["M2", "12"], ["M3", "13900139000"]],
        "utf-8",
    )
    table = imports.open_table(path)
    summary = imports.run_import(table, plan_for(table, ImportKind.MEMBERS), ingest=FakeIngest())
    assert (summary.imported, summary.rejected) == (2, 1)
    with open(str(summary.reject_file), encoding="utf-8-sig") as handle:
        rows = list(csv.DictReader(handle))
    assert rows == [
        {
            "line": "3",
            "reason": "traits.phone: not a phone number",
            "member_no": "M2",
            "phone": "12",
        }
    ]


# -- through the real pipeline and the CLI --------------------------------------------------


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    from siyu.core.config import get_settings

    monkeypatch.setenv("SIYU_DATA_DIR", str(tmp_path / "data"))
    get_settings.cache_clear()
    yield tmp_path / "data"
    get_settings.cache_clear()


def invoke(*args: str) -> Any:
    from siyu.cli.main import app

    return CliRunner().invoke(app, list(args))


def make_workspace() -> str:
    result = invoke("workspace", "create", "Tea", "--json")
    assert result.exit_code == 0, result.output
    return str(json.loads(result.stdout)["workspace_id"])


def test_cli_import_orders_twice_adds_nothing(data_dir: Path, taobao_gbk: Path) -> None:
    from siyu import pipeline
    from siyu.core.runtime import open_runtime

    workspace_id = make_workspace()
    first = invoke("import", "orders", str(taobao_gbk), "--json")
    assert first.exit_code == 0, first.output
    summary = json.loads(first.stdout)
    assert summary["source"] == "taobao"
    assert (summary["imported"], summary["skipped"], summary["rejected"]) == (2, 1, 1)

    second = invoke("import", "orders", str(taobao_gbk), "--workspace", workspace_id, "--json")
    assert second.exit_code == 0, second.output
    assert (json.loads(second.stdout)["imported"], json.loads(second.stdout)["duplicates"]) == (
        0,
        2,
    )

    rt = open_runtime()
    try:
        assert rt.events.count(workspace_id) == 2
        person = pipeline.find_person(
            runtime=rt,
            workspace_id=workspace_id,
            identifier_type="taobao_buyer_id",
            identifier="tea_lover",
        )
        assert person.profile is not None
        assert (person.profile.order_count, person.profile.total_spend_fen) == (1, 5600)
    finally:
        rt.close()


def test_cli_import_members_and_readable_errors(data_dir: Path, tmp_path: Path) -> None:
    make_workspace()
    path = write_csv(
        tmp_path / "members.csv",
        ["member_no", "phone", "level"],
        [["M1", "13800138000", "gold"]],
        "utf-8",
    )
    result = invoke("import", "members", str(path))
    assert result.exit_code == 0, result.output
    assert "imported" in result.stdout

    missing = invoke("import", "orders", str(tmp_path / "nope.csv"))
    assert missing.exit_code == 2
    assert "no such file" in missing.stderr
    unknown = invoke("import", "orders", str(path), "--source", "shopify")
    assert unknown.exit_code == 2
    assert "unknown source" in unknown.stderr
    unmappable = invoke("import", "orders", str(path))
    assert unmappable.exit_code == 2
    assert "no mappable columns" in unmappable.stderr


def test_cli_import_needs_workspace_when_several(data_dir: Path, taobao_gbk: Path) -> None:
    make_workspace()
    make_workspace()
    result = invoke("import", "orders", str(taobao_gbk))
    assert result.exit_code == 2
    assert "--workspace" in result.stderr
