"""``siyu recommend train | evaluate | show | stock`` with typer's CliRunner."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from siyu.cli.main import app
from siyu.core.config import get_settings
from tests.recommend.synthetic import NOW, SPLIT, open_loaded

runner = CliRunner()


@pytest.fixture
def loaded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("SIYU_DATA_DIR", str(tmp_path))
    get_settings.cache_clear()
    rt, _ = open_loaded(tmp_path, "sqlite")
    rt.close()
    yield tmp_path
    get_settings.cache_clear()


def test_train_show_and_evaluate(loaded: Path) -> None:
    trained = runner.invoke(app, ["recommend", "train", "--json"])
    assert trained.exit_code == 0, trained.output
    assert json.loads(trained.stdout)["persons"] == 120
    shown = runner.invoke(app, ["recommend", "show", "p001", "--k", "3", "--json"])
    assert shown.exit_code == 0, shown.output
    items = json.loads(shown.stdout)["items"]
    assert len(items) == 3 and all(i["product_id"].startswith("b") for i in items)
    window = ["--split-at", SPLIT.isoformat(), "--until", NOW.isoformat()]
    found = runner.invoke(app, ["recommend", "evaluate", "--k", "3", "--json", *window])
    assert found.exit_code == 0, found.output
    score = {m["method"]: m["precision"] for m in json.loads(found.stdout)["methods"]}
    assert set(score) == {"als", "bpr", "bought_together", "popular"}
    assert score["als"] > score["popular"]
    table = runner.invoke(app, ["recommend", "evaluate", "--k", "3", *window])
    assert table.exit_code == 0 and "precision@3" in table.stdout and "popular" in table.stdout


def test_stock_file_marks_products_out_of_stock(loaded: Path) -> None:
    assert runner.invoke(app, ["recommend", "train"]).exit_code == 0
    flags = loaded / "stock.csv"
    flags.write_text("product_id,in_stock,category\nb0,缺货,\nb1,no,限定\n", encoding="utf-8")
    result = runner.invoke(app, ["recommend", "stock", str(flags), "--json"])
    assert result.exit_code == 0, result.output
    by_id = {p["product_id"]: p for p in json.loads(result.stdout)}
    assert not by_id["b0"]["in_stock"] and by_id["b0"]["category"] == "奶茶"
    assert (by_id["b1"]["in_stock"], by_id["b1"]["category"]) == (False, "限定")
    shown = runner.invoke(app, ["recommend", "show", "p001", "--k", "6", "--json"])
    assert {"b0", "b1"}.isdisjoint(i["product_id"] for i in json.loads(shown.stdout)["items"])


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (["recommend", "evaluate", "--k", "0"], "k"),
        (["recommend", "evaluate", "--split-at", "yesterday"], "split_at"),
        (["recommend", "show", "nobody"], "person_id"),
        (["recommend", "show", "p001"], "model"),
        (["recommend", "stock", "missing.csv"], "file"),
    ],
)
def test_bad_input_is_one_line_with_an_exit_code(loaded: Path, args: list[str], field: str) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code in (2, 4)
    assert field in result.output and len(result.output.strip().splitlines()) == 1


def test_a_bad_stock_row_names_the_row(loaded: Path) -> None:
    flags = loaded / "stock.csv"
    flags.write_text("product_id,in_stock\nb0,maybe\n", encoding="utf-8")
    result = runner.invoke(app, ["recommend", "stock", str(flags)])
    assert result.exit_code == 2 and "row 1: in_stock" in result.output
