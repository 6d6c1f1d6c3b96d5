"""Where each kind of integration sends its events, as a full URL for its settings.

Kinds whose producers cannot set headers (webhooks, SNS subscriptions) get the key in the path;
kinds that send a bearer key or a key in the body get the fixed endpoint.
"""

from django.conf import settings

from pipelines.models import AlertSource, DeploymentPipeline, Integration

_PIPELINE_PATHS = {
    DeploymentPipeline.Kind.GENERIC: "/api/v1/changes",
    DeploymentPipeline.Kind.GITHUB: "/api/v1/pipelines/{key}/events",
    DeploymentPipeline.Kind.GITLAB: "/api/v1/pipelines/{key}/events",
    DeploymentPipeline.Kind.CODEPIPELINE: "/api/v1/changes",
    DeploymentPipeline.Kind.PAGERDUTY: "/v2/change/enqueue",
    # Producers that cannot add a header of their choosing: the key in the path (the signing
    # ones are checked by their signature too).
    DeploymentPipeline.Kind.JENKINS: "/api/v1/pipelines/{key}/events",
    DeploymentPipeline.Kind.FLUX: "/api/v1/pipelines/{key}/events",
    DeploymentPipeline.Kind.TERRAFORM_CLOUD: "/api/v1/pipelines/{key}/events",
    DeploymentPipeline.Kind.LAUNCHDARKLY: "/api/v1/pipelines/{key}/events",
    DeploymentPipeline.Kind.FLAGSMITH: "/api/v1/pipelines/{key}/events",
    # Producers configured with an Authorization header.
    DeploymentPipeline.Kind.ARGOCD: "/api/v1/changes",
    DeploymentPipeline.Kind.UNLEASH: "/api/v1/changes",
    DeploymentPipeline.Kind.CDEVENTS: "/api/v1/changes",
}
_ALERT_SOURCE_PATHS = {
    AlertSource.Kind.GENERIC: "/api/v1/incidents",
    AlertSource.Kind.CLOUDWATCH_SNS: "/api/v1/alert-sources/{key}/alerts",
    AlertSource.Kind.EVENTBRIDGE: "/api/v1/alerts",
    AlertSource.Kind.ALERTMANAGER: "/api/v1/alerts",
    AlertSource.Kind.GRAFANA: "/api/v1/alerts",
    AlertSource.Kind.WEBHOOK: "/api/v1/alert-sources/{key}/alerts",
    AlertSource.Kind.PAGERDUTY: "/v2/enqueue",
}


def ingest_url(integration: Integration, key: str | None) -> str:
    """The URL to give the producer. Without the clear key, a placeholder stands in for it."""
    paths = _PIPELINE_PATHS if isinstance(integration, DeploymentPipeline) else _ALERT_SOURCE_PATHS
    path = paths[integration.kind].format(key=key or "<integration-key>")
    return settings.PUBLIC_URL + path
