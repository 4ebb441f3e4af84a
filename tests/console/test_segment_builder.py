"""The visual rule builder's rows become a valid segment definition, or a readable error."""

from __future__ import annotations

import pytest

from siyu.console.views.segments import RuleRow, csv_text, definition_of, parse_scalar
from siyu.core.errors import InvalidInputError
from siyu.segments.models import All, Any, ComputedTrait, Event, Tag, Trait


def test_scalars_read_as_numbers_and_booleans_when_they_look_like_them() -> None:
    assert parse_scalar(" 42 ") == 42
    assert parse_scalar("4.5") == 4.5
    assert parse_scalar("TRUE") is True
    assert parse_scalar("杭州") == "杭州"


def test_rows_make_the_typed_definition() -> None:
    definition = definition_of(
        "all",
        [
            RuleRow(kind="trait", name="city", op="in", value="杭州, 上海"),
            RuleRow(kind="computed", name="order_count", op="gte", value="2"),
            RuleRow(kind="tag", name="RFM/重要价值客户"),
            RuleRow(kind="event", name="Order Completed", op="gte", value="3", days=30),
        ],
    )
    assert isinstance(definition, All)
    trait, computed, tag, event = definition.of
    assert isinstance(trait, Trait) and trait.value == ["杭州", "上海"]
    assert isinstance(computed, ComputedTrait) and computed.value == 2
    assert isinstance(tag, Tag) and tag.tag == "RFM/重要价值客户"
    assert isinstance(event, Event)
    assert (event.count.value, event.window.days) == (3, 30)


def test_any_and_exists_and_contains() -> None:
    definition = definition_of(
        "any",
        [
            RuleRow(kind="trait", name="email_opt_in", op="exists"),
            RuleRow(kind="trait", name="nickname", op="contains", value="123"),
        ],
    )
    assert isinstance(definition, Any)
    exists, contains = definition.of
    assert isinstance(exists, Trait) and exists.value is None
    # contains keeps the text as typed, even when it reads as a number.
    assert isinstance(contains, Trait) and contains.value == "123"


@pytest.mark.parametrize(
    ("rows", "field"),
    [
        ([], "conditions"),
        ([RuleRow(kind="computed", name="order_count", op="gte", value="many")], "value"),
        ([RuleRow(kind="trait", name="", op="eq", value="x")], "definition"),
        (
            [RuleRow(kind="computed", name="days_since_last_order", op="eq", value="3")],
            "definition",
        ),
        ([RuleRow(kind="trait", name="city", op="in", value=" , ")], "definition"),
    ],
)
def test_bad_rows_answer_with_a_clear_error(rows: list[RuleRow], field: str) -> None:
    with pytest.raises(InvalidInputError) as raised:
        definition_of("all", rows)
    assert raised.value.field == field
    assert str(raised.value)


def test_csv_starts_with_a_bom_for_excel() -> None:
    text = csv_text([["person_id", "phone"], ["p_1", "138****5678"]])
    assert text == "\ufeffperson_id,phone\r\np_1,138****5678\r\n"
