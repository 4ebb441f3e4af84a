"""Journeys: versioned automations stepping people through waits, branches and actions.

How the pieces fit (the pipeline and workers wire them; journeys never import loyalty,
referral or the entry points):

* :mod:`.models` / :mod:`.definition` — a definition (trigger, node DAG, settings) from JSON
  or YAML; errors name the field.
* :mod:`.service` — create, publish versions, activate/pause/resume/archive. A person stays on
  the version they entered with until they leave (no migration by node id).
* :mod:`.reactions` — ``on_events`` (ingest: enter event journeys, wake event waits, convert
  on goal events), ``on_segment_changes`` (segment refresh), ``complete_staff_task``;
  :mod:`.triggers` — ``scan_triggers`` for date traits and schedules.
* :mod:`.engine` — ``advance_due`` claims due states in batches (``FOR UPDATE SKIP LOCKED``
  on PostgreSQL), steps them with the pure :mod:`.stepping`, and in one transaction per
  batch writes their new places, the step log, and calls the caller's ``apply_actions``
  with the actions as data (:mod:`.actions`: SendMessage, AddTag, AwardPoints…), each keyed
  ``journey:<state>:<node>:<entry_no>``.
* :mod:`.stats` — per node and per variant (Wilson interval, z test); :mod:`.dryrun` — what
  a journey would do over a date range, writing nothing.
"""
