"""The scheduled recommendations job trains a missing or stale model once per hour slot."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from siyu import pipeline
from siyu.pipeline.jobs import run_jobs
from siyu.recommend import service as recommend
from tests.recommend.synthetic import NOW, open_loaded


def test_the_job_trains_a_missing_model_then_leaves_a_fresh_one(tmp_path: Path) -> None:
    rt, ws = open_loaded(tmp_path, "sqlite", persons=30)
    try:
        [first] = run_jobs(runtime=rt, now=NOW, workspace_id=ws, only=["recommendations"])
        assert first.status == "ran" and first.detail["trained"] == 1
        assert recommend.get_model_info(runtime=rt, workspace_id=ws).trained_at == NOW
        [again] = run_jobs(runtime=rt, now=NOW, workspace_id=ws, only=["recommendations"])
        assert again.status == "skipped"  # the same hour slot ran already
        later = NOW + timedelta(hours=1)
        [fresh] = run_jobs(runtime=rt, now=later, workspace_id=ws, only=["recommendations"])
        assert fresh.status == "ran" and fresh.detail["trained"] == 0
        stale = NOW + timedelta(hours=25)
        [retrained] = run_jobs(runtime=rt, now=stale, workspace_id=ws, only=["recommendations"])
        assert retrained.detail["trained"] == 1
        assert "recommendations" in pipeline.jobs.JOB_NAMES
    finally:
        rt.close()
