"""Imports every domain's tables so :data:`siyu.core.db.metadata` is complete."""

from siyu.accounts import tables as accounts_tables
from siyu.activities import tables as activities_tables
from siyu.analytics import spend_tables as analytics_spend_tables
from siyu.assistant import tables as assistant_tables
from siyu.channels import tables as channels_tables
from siyu.channels import wechat_tables as channels_wechat_tables
from siyu.collect import tables as collect_tables
from siyu.community import tables as community_tables
from siyu.content import tables as content_tables
from siyu.core.db import metadata
from siyu.identity import tables as identity_tables
from siyu.journeys import tables as journeys_tables
from siyu.loyalty import coupon_tables as loyalty_coupon_tables
from siyu.loyalty import points_tables as loyalty_points_tables
from siyu.loyalty import tier_tables as loyalty_tier_tables
from siyu.pipeline import channel_tables as pipeline_channel_tables
from siyu.pipeline import job_tables as pipeline_job_tables
from siyu.privacy import tables as privacy_tables
from siyu.profiles import tables as profiles_tables
from siyu.profiles import tag_tables as profiles_tag_tables
from siyu.referral import tables as referral_tables
from siyu.segments import layer_tables as segments_layer_tables
from siyu.segments import tables as segments_tables
from siyu.ugc import tables as ugc_tables
from siyu.workspaces import tables as workspaces_tables

__all__ = [
    "accounts_tables",
    "activities_tables",
    "analytics_spend_tables",
    "assistant_tables",
    "channels_tables",
    "channels_wechat_tables",
    "collect_tables",
    "community_tables",
    "content_tables",
    "identity_tables",
    "journeys_tables",
    "loyalty_coupon_tables",
    "loyalty_points_tables",
    "loyalty_tier_tables",
    "metadata",
    "pipeline_channel_tables",
    "pipeline_job_tables",
    "privacy_tables",
    "profiles_tables",
    "profiles_tag_tables",
    "referral_tables",
    "segments_layer_tables",
    "segments_tables",
    "ugc_tables",
    "workspaces_tables",
]
