"""API shapes of the assistant: entries, synonyms, rules, settings, groups, replies, stats."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, Field

DEFAULT_THRESHOLD = 0.15
DEFAULT_MIN_MARGIN = 0.05
DEFAULT_HANDOVER = "这个问题我先记下了，稍后由人工客服为您解答～"
DEFAULT_WELCOME = "欢迎加入{group}！有问题直接在群里问我，说「别回复我」我就不再打扰您。"


class EntryCreate(BaseModel):
    """A question and its answer."""

    id: str | None = Field(
        default=None,
        max_length=60,
        pattern=r"^[A-Za-z0-9_.\-]+$",
        description="Stable id (e.g. ship-free); generated when absent.",
    )
    question: str = Field(min_length=1, max_length=500)
    alternatives: list[str] = Field(
        default_factory=list, max_length=50, description="Other phrasings of the question."
    )
    answer: str = Field(min_length=1, max_length=4000)
    tags: list[str] = Field(default_factory=list, max_length=20)
    enabled: bool = True


class EntryUpdate(BaseModel):
    """Fields of an entry to change; absent ones stay."""

    question: str | None = Field(default=None, min_length=1, max_length=500)
    alternatives: list[str] | None = Field(default=None, max_length=50)
    answer: str | None = Field(default=None, min_length=1, max_length=4000)
    tags: list[str] | None = Field(default=None, max_length=20)
    enabled: bool | None = None


class Entry(EntryCreate):
    """A stored knowledge-base entry."""

    id: str
    created_at: datetime
    updated_at: datetime


class Synonym(BaseModel):
    """``word`` is read as ``canonical`` when indexing and when asking (包邮 → 免运费)."""

    word: str = Field(min_length=1, max_length=50)
    canonical: str = Field(min_length=1, max_length=50)


class RuleCreate(BaseModel):
    """A keyword or regex that answers before retrieval; higher priority is checked first."""

    id: str | None = Field(default=None, max_length=60, pattern=r"^[A-Za-z0-9_.\-]+$")
    pattern: str = Field(min_length=1, max_length=300)
    is_regex: bool = False
    answer: str = Field(min_length=1, max_length=4000)
    priority: int = Field(default=0, ge=-1000, le=1000)
    enabled: bool = True


class Rule(RuleCreate):
    """A stored keyword rule."""

    id: str
    created_at: datetime


class AssistantSettings(BaseModel):
    """How sure the assistant must be, and what it says when it is not."""

    threshold: float = Field(default=DEFAULT_THRESHOLD, ge=0, le=1)
    min_margin: float = Field(default=DEFAULT_MIN_MARGIN, ge=0, le=1)
    handover_text: str = Field(default=DEFAULT_HANDOVER, min_length=1, max_length=1000)
    welcome_text: str = Field(
        default=DEFAULT_WELCOME, min_length=1, max_length=1000, description="{group} is replaced."
    )
    robot_webhook_url: str | None = Field(
        default=None,
        max_length=300,
        description="Default group-robot webhook (with its key); stored sealed, read masked.",
    )


class GroupSet(BaseModel):
    """A customer group the assistant serves."""

    name: str = Field(default="", max_length=200)
    robot_webhook_url: str | None = Field(
        default=None, max_length=300, description="Stored sealed, read masked."
    )
    muted: bool = False


class Group(GroupSet):
    """A stored group."""

    chat_id: str


class Unanswered(BaseModel):
    """A question handed over to a human, with how often it was asked."""

    question: str
    count: int
    best_entry_id: str | None
    best_confidence: float
    chat_id: str | None
    first_at: datetime
    last_at: datetime


class Outcome(StrEnum):
    """What the assistant did with a group message."""

    ANSWERED = "answered"
    RULE = "rule"
    HANDOVER = "handover"
    IGNORED = "ignored"  # not a question, opted out, muted group, or a retry
    OPTED_OUT = "opted_out"


class Reply(BaseModel):
    """The assistant's decision on one message; ``text`` is what to send, if anything."""

    outcome: Outcome
    text: str | None = None
    entry_id: str | None = None
    rule_id: str | None = None
    confidence: float = 0.0
    margin: float = 0.0


class ImportSummary(BaseModel):
    """What a CSV import did."""

    created: int
    updated: int
    rejected: list[str] = Field(default_factory=list, description="Row number: reason.")


class GroupStats(BaseModel):
    """A group's activity between two instants."""

    chat_id: str
    name: str
    members: int = Field(
        description="Members now: the group's current members (syncs and callbacks); for a "
        "微信客服 conversation, customers who opened it minus leaves."
    )
    joins: int
    leaves: int
    active_speakers: int
    messages: int
    questions: int
    answered: int
    handed_over: int


class EvalCase(BaseModel):
    """A held-out question and the entry id (or ``handover``) it should get."""

    question: str
    expected: str


class EvalResult(BaseModel):
    """One method's figures on the held-out set."""

    method: str
    questions: int
    accuracy: float
    handover_rate: float
    wrong_rate: float
    misses: list[str] = Field(default_factory=list)


class EvalReport(BaseModel):
    """The assistant against its baselines."""

    threshold: float
    min_margin: float
    results: list[EvalResult]
