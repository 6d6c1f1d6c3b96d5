"""Per-pipeline noise filters: which environments, branches and event types it records."""

from changes.adapters.base import CanonicalChange
from pipelines.models import DeploymentPipeline


def noise_reason(pipeline: DeploymentPipeline, change: CanonicalChange) -> str:
    """Why this pipeline's filters drop the change, or "" to record it. Case-insensitive."""
    checks = (
        ("event type", change.event_type, pipeline.event_types),
        ("environment", change.environment, pipeline.environments),
        ("branch", change.branch, pipeline.branches),
    )
    for label, value, allowed in checks:
        if not allowed:
            continue
        if label == "branch" and not value:
            continue  # deployments carry no branch; the filter is about pushes and runs
        if value.lower() not in {item.lower() for item in allowed}:
            shown = value or "(none)"
            return f"{label} {shown} is not one of this pipeline's {label}s: {', '.join(allowed)}"
    return ""
