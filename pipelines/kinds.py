"""What each kind of deployment pipeline and alert source is, for the forms, the settings pages
and configuration as code: the group it belongs to, a line saying what it is, and what it uses (a
signature, branches, the alert-source settings only some producers have)."""

from dataclasses import dataclass, field

from pipelines.models import AlertSource, DeploymentPipeline, Integration

Kind = DeploymentPipeline.Kind
SourceKind = AlertSource.Kind

# Alert-source settings that only some kinds read (the others, windows and defaults, all do).
ALERT_SOURCE_OPTIONS = (
    "insufficient_data",
    "auto_confirm_subscriptions",
    "timestamp_tolerance_seconds",
)


@dataclass(frozen=True)
class KindInfo:
    group: str  # "" for alert sources: seven kinds need no <optgroup>s
    description: str
    signs: bool  # verifies a signature (or a shared token) made with the signing secret
    has_branches: bool  # its events name a branch that a noise filter can narrow down
    options: frozenset[str] = field(default=frozenset())  # of ALERT_SOURCE_OPTIONS, those it reads


GROUPS = ("CI", "GitOps", "Infrastructure", "Feature flags", "Scripts and standards")

PIPELINE_KINDS: dict[str, KindInfo] = {
    Kind.GITHUB: KindInfo(
        "CI", "Deployments, releases, pushes and workflow runs, signed by GitHub.", True, True
    ),
    Kind.GITLAB: KindInfo(
        "CI", "Deployment and pipeline hooks, with GitLab's secret token.", True, True
    ),
    Kind.CODEPIPELINE: KindInfo(
        "CI", "Pipeline executions, through an EventBridge API destination.", False, True
    ),
    Kind.JENKINS: KindInfo(
        "CI", "Builds from the Notification plugin: started, completed, finalized.", False, True
    ),
    Kind.FLUX: KindInfo(
        "GitOps",
        "Reconciled Kustomizations and HelmReleases, from a generic-hmac Provider.",
        True,
        False,
    ),
    Kind.ARGOCD: KindInfo(
        "GitOps", "Application syncs, from an Argo CD notifications webhook.", False, False
    ),
    Kind.TERRAFORM_CLOUD: KindInfo(
        "Infrastructure",
        "Runs applied or errored, from a workspace notification configuration.",
        True,
        False,
    ),
    Kind.LAUNCHDARKLY: KindInfo(
        "Feature flags", "Flag changes from LaunchDarkly's audit log webhook.", True, False
    ),
    Kind.FLAGSMITH: KindInfo(
        "Feature flags", "Flag updates and deletions from an environment webhook.", True, False
    ),
    Kind.UNLEASH: KindInfo(
        "Feature flags",
        "Flags enabled, disabled or re-targeted, from the webhook addon.",
        False,
        False,
    ),
    Kind.GENERIC: KindInfo(
        "Scripts and standards",
        "Our JSON API (also Alert24's and ilert's shapes): curl, Terraform, any script.",
        False,
        True,
    ),
    Kind.PAGERDUTY: KindInfo(
        "Scripts and standards", "PagerDuty Change Events v2 (Ansible, scripts).", False, False
    ),
    Kind.CDEVENTS: KindInfo(
        "Scripts and standards",
        "CDEvents service events (CNCF), in CloudEvents structured or binary mode.",
        False,
        False,
    ),
}


def grouped_kinds() -> list[tuple[str, list[tuple[str, str]]]]:
    """[(group, [(kind, label), ...]), ...] in GROUPS order, for <optgroup>s."""
    return [
        (
            group,
            [
                (kind, Kind(kind).label)
                for kind, info in PIPELINE_KINDS.items()
                if info.group == group
            ],
        )
        for group in GROUPS
    ]


ALERT_SOURCE_KINDS: dict[str, KindInfo] = {
    SourceKind.CLOUDWATCH_SNS: KindInfo(
        "",
        "CloudWatch alarms through an SNS topic subscription; SNS's own signature is checked.",
        False,
        False,
        frozenset({"insufficient_data", "auto_confirm_subscriptions"}),
    ),
    SourceKind.EVENTBRIDGE: KindInfo(
        "",
        "CloudWatch alarm state changes and stopped ECS tasks, from an API destination.",
        False,
        False,
        frozenset({"insufficient_data"}),
    ),
    SourceKind.ALERTMANAGER: KindInfo(
        "", "Firing and resolved alerts from an Alertmanager webhook receiver.", False, False
    ),
    SourceKind.GRAFANA: KindInfo(
        "",
        "Firing and resolved alerts from a Grafana alerting webhook contact point.",
        False,
        False,
    ),
    SourceKind.WEBHOOK: KindInfo(
        "",
        "Any producer that signs each body with a timestamped HMAC (AWS DevOps Agent's format).",
        True,
        False,
        frozenset({"timestamp_tolerance_seconds"}),
    ),
    SourceKind.PAGERDUTY: KindInfo(
        "", "PagerDuty Events API v2: trigger, acknowledge and resolve by dedup key.", False, False
    ),
    SourceKind.GENERIC: KindInfo(
        "",
        "Our incidents API (Alert24's shape): scripts raise, find and resolve incidents.",
        False,
        False,
    ),
}

KINDS: dict[type[Integration], dict[str, KindInfo]] = {
    DeploymentPipeline: PIPELINE_KINDS,
    AlertSource: ALERT_SOURCE_KINDS,
}


def kind_info(model: type[Integration], kind: str) -> KindInfo | None:
    """What a kind of pipeline or alert source is and uses; None for an unknown kind."""
    return KINDS[model].get(kind)


def signs(integration: Integration) -> bool:
    """Whether the integration's producer signs its requests with the signing secret: only then
    does the secret mean anything (shown, rotated)."""
    info = kind_info(type(integration), integration.kind)
    return info is not None and info.signs
