"""Types that cross the UGC domain's boundary: posts, moderation, rewards, KOC ranking."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import AwareDatetime, BaseModel, Field, model_validator

DEFAULT_CAMPAIGN = "*"
"""The reward rule used when a post's campaign has none of its own."""


class Platform(StrEnum):
    """Where the customer posted."""

    XIAOHONGSHU = "xiaohongshu"  # 小红书 note
    DOUYIN = "douyin"  # 抖音 video
    WEIBO = "weibo"
    MOMENTS = "wechat_moments"  # 朋友圈 (a screenshot the customer sent in)
    MALL_REVIEW = "mall_review"  # a review in the brand's own mall / mini program


class PostStatus(StrEnum):
    """Moderation state: pending until an operator approves or rejects."""

    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


class Metrics(BaseModel):
    """Counts as the platform reports them (cumulative since the post went up)."""

    views: int = Field(default=0, ge=0)
    likes: int = Field(default=0, ge=0)
    shares: int = Field(default=0, ge=0)
    comments: int = Field(default=0, ge=0)

    @property
    def reach(self) -> int:
        """Views + likes + shares + comments."""
        return self.views + self.likes + self.shares + self.comments


class MetricsUpdate(Metrics):
    """A report of a post's metrics at a time (default: now)."""

    at: AwareDatetime | None = Field(default=None, description="When measured; default now.")


class PostCreate(BaseModel):
    """A customer's post or review, and who wrote it (a person id or any identifier)."""

    platform: Platform
    external_id: str | None = Field(
        default=None, min_length=1, max_length=200,
        description="The platform's id of the post; a re-sent post with it answers the first.",
    )  # fmt: skip
    url: str | None = Field(default=None, max_length=2000)
    text: str | None = Field(default=None, max_length=20_000)
    images: list[str] = Field(default_factory=list, max_length=50, description="Image URLs.")
    rating: int | None = Field(default=None, ge=1, le=5, description="Stars, for reviews.")
    product_ids: list[str] = Field(default_factory=list, max_length=100)
    campaign: str | None = Field(
        default=None, min_length=1, max_length=100,
        description="The UGC campaign (e.g. a hashtag drive); picks its reward rule.",
    )  # fmt: skip
    posted_at: AwareDatetime
    person_id: str | None = Field(default=None, description="The author, if known by id.")
    author: dict[str, str] = Field(
        default_factory=dict,
        description="The author's identifiers by type (phone, member_id, mp_openid, unionid…); "
        "the identity graph resolves them (a new person when none is known).",
    )
    metrics: Metrics | None = Field(default=None, description="Counts known at collection.")

    @model_validator(mode="after")
    def _has_author(self) -> PostCreate:
        if not self.person_id and not self.author:
            raise ValueError("name the author: person_id or author identifiers")
        return self


class RewardGiven(BaseModel):
    """What loyalty paid for a post (once, keyed by the post)."""

    kind: Literal["points", "coupon"]
    amount: int | None = None
    template: str | None = None
    idempotency_key: str


class Post(BaseModel):
    """A stored post with its moderation state, reward and latest metrics."""

    id: str
    person_id: str
    platform: Platform
    external_id: str | None
    url: str | None
    text: str | None
    images: list[str]
    rating: int | None
    product_ids: list[str]
    campaign: str | None
    posted_at: datetime
    status: PostStatus
    reason: str | None = Field(description="Why rejected.")
    moderated_by: str | None
    moderated_at: datetime | None
    reward: RewardGiven | None
    rewarded_at: datetime | None
    metrics: Metrics
    metrics_at: datetime | None
    created_at: datetime
    replayed: bool = Field(default=False, description="True when this answers a re-sent post.")


class PostsPage(BaseModel):
    """One page of posts, newest first."""

    items: list[Post]
    total: int
    limit: int
    offset: int


class PostFilter(BaseModel):
    """Which posts to list."""

    status: PostStatus | None = None
    platform: Platform | None = None
    person_id: str | None = None
    campaign: str | None = None
    since: datetime | None = Field(default=None, description="Posted at or after.")
    until: datetime | None = Field(default=None, description="Posted before.")
    limit: int = Field(default=50, ge=1, le=500)
    offset: int = Field(default=0, ge=0)


class Rejection(BaseModel):
    """Why an operator rejects a post."""

    reason: str = Field(min_length=1, max_length=500)


class RewardRule(BaseModel):
    """What an approved post earns: points or a coupon of a template."""

    kind: Literal["points", "coupon"]
    amount: int | None = Field(default=None, ge=1, le=1_000_000, description="Points.")
    template: str | None = Field(default=None, min_length=1, description="Coupon template id.")

    @model_validator(mode="after")
    def _complete(self) -> RewardRule:
        if self.kind == "points" and self.amount is None:
            raise ValueError("points rewards need an amount")
        if self.kind == "coupon" and not self.template:
            raise ValueError("coupon rewards need a template")
        return self


class RewardRuleView(RewardRule):
    """A stored rule and the campaign it is for (``*`` = the workspace default)."""

    campaign: str
    updated_at: datetime


class KocFacts(BaseModel):
    """What one author's posts did over a period (inputs of the score)."""

    person_id: str
    posts: int = 0
    approved: int = 0
    rejected: int = 0
    reach: int = Field(default=0, description="Reported reach growth + tracked clicks.")
    clicks: int = 0
    orders: int = 0
    buyers: int = 0
    gmv_fen: int = 0


class KocRank(KocFacts):
    """An author's place in the ranking."""

    rank: int
    score: float
    approval_rate: float
    koc: bool = Field(description="Holds the koc tag after this ranking (when tags applied).")


class KocRanking(BaseModel):
    """KOCs of a period, best first, and the settings the score used."""

    start: datetime
    end: datetime
    window_days: int
    top: int
    items: list[KocRank]
    tagged: int = Field(default=0, description="Persons who gained the koc tag.")
    untagged: int = Field(default=0, description="Persons who lost it.")


class RowError(BaseModel):
    """A rejected CSV row: which row (1 = first data row), which field, why."""

    row: int
    field: str
    message: str


class ImportSummary(BaseModel):
    """What an import did; every row is a post, a duplicate or a rejected row."""

    rows_read: int = 0
    created: int = 0
    duplicates: int = 0
    metrics_updated: int = Field(default=0, description="Duplicates whose metrics were recorded.")
    rejected: int = 0
    errors: list[RowError] = Field(default_factory=list)
    reject_file: str | None = None
