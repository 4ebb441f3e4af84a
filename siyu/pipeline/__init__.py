"""The one place where the stages are chained: collect → identity → profiles → inbox → events.

Each function reads like a recipe; the stages themselves live in their domains. One module
per concern — ingest, persons, segments, referral, loyalty — re-exported here so callers
write ``pipeline.ingest(...)``.
"""

from siyu.pipeline.ingest import GroupCommitter, flush, ingest, ingest_events, ingest_many
from siyu.pipeline.jobs import JOB_NAMES, JobRun, run_jobs
from siyu.pipeline.loyalty import apply_loyalty
from siyu.pipeline.persons import (
    PersonView,
    change_identity_rules,
    find_person,
    get_person,
    identity_rules,
    list_conflicts,
    merge_event_lists,
    person_events,
    split_person,
)
from siyu.pipeline.referral import (
    attribute_live_code_events,
    pay_referral_rewards,
    pending_referral_rewards,
    record_live_code_scan,
    refer_person,
)
from siyu.pipeline.segments import (
    check_rule,
    preview_segment,
    refresh_due,
    refresh_rule_tags,
    refresh_scheduled,
    refresh_segment,
    run_definition,
    tag_from_csv,
)

__all__ = [
    "JOB_NAMES",
    "GroupCommitter",
    "JobRun",
    "PersonView",
    "apply_loyalty",
    "attribute_live_code_events",
    "change_identity_rules",
    "check_rule",
    "find_person",
    "flush",
    "get_person",
    "identity_rules",
    "ingest",
    "ingest_events",
    "ingest_many",
    "list_conflicts",
    "merge_event_lists",
    "pay_referral_rewards",
    "pending_referral_rewards",
    "person_events",
    "preview_segment",
    "record_live_code_scan",
    "refer_person",
    "refresh_due",
    "refresh_rule_tags",
    "refresh_scheduled",
    "refresh_segment",
    "run_definition",
    "run_jobs",
    "split_person",
    "tag_from_csv",
]
