"""What each kind of deployment pipeline and alert source is, for the forms, the settings pages
and configuration as code: the group it belongs to, a line saying what it is, and what it uses (a
signature, branches, the alert-source settings only some producers have)."""

from dataclasses import dataclass, field

from pipelines.models import AlertSource, AuthMode, DeploymentPipeline, Integration

Kind = DeploymentPipeline.Kind
SourceKind = AlertSource.Kind

# Alert-source settings that only some kinds read (the others, windows and defaults, all do).
ALERT_SOURCE_OPTIONS = (
    "insufficient_data",
    "auto_confirm_subscriptions",
    "timestamp_tolerance_seconds",
)


# The authentication modes a kind allows (AuthMode), its default first.
SIGNED = (AuthMode.SIGNATURE,)  # the producer always signs: a signature is required
KEY_ONLY = (AuthMode.KEY,)  # the producer signs nothing: the key alone
SIGNED_BY_DEFAULT = (AuthMode.SIGNATURE, AuthMode.KEY)  # set up either way: the admin chooses
KEY_BY_DEFAULT = (AuthMode.KEY, AuthMode.SIGNATURE)


@dataclass(frozen=True)
class KindInfo:
    group: str  # "" for alert sources: seven kinds need no <optgroup>s
    description: str
    auth_modes: tuple[str, ...]  # the AuthModes it allows, its default first
    has_branches: bool  # its events name a branch that a noise filter can narrow down
    options: frozenset[str] = field(default=frozenset())  # of ALERT_SOURCE_OPTIONS, those it reads

    @property
    def signs(self) -> bool:
        """Whether its producer can sign (or send a shared token) with the signing secret."""
        return AuthMode.SIGNATURE in self.auth_modes

    @property
    def mode_is_chosen(self) -> bool:
        """Whether the admin chooses between a signature and the key alone."""
        return len(self.auth_modes) > 1

    @property
    def default_auth_mode(self) -> str:
        return self.auth_modes[0]


GROUPS = ("CI", "GitOps", "Infrastructure", "Feature flags", "Scripts and standards")

PIPELINE_KINDS: dict[str, KindInfo] = {
    Kind.GITHUB: KindInfo(
        "CI", "Deployments, releases, pushes and workflow runs, signed by GitHub.", SIGNED, True
    ),
    Kind.GITLAB: KindInfo(
        "CI", "Deployment and pipeline hooks, with GitLab's secret token.", SIGNED, True
    ),
    Kind.CODEPIPELINE: KindInfo(
        "CI", "Pipeline executions, through an EventBridge API destination.", KEY_ONLY, True
    ),
    Kind.JENKINS: KindInfo(
        "CI", "Builds from the Notification plugin: started, completed, finalized.", KEY_ONLY, True
    ),
    Kind.FLUX: KindInfo(
        "GitOps",
        "Reconciled Kustomizations and HelmReleases, from a generic-hmac Provider.",
        SIGNED,
        False,
    ),
    Kind.ARGOCD: KindInfo(
        "GitOps", "Application syncs, from an Argo CD notifications webhook.", KEY_ONLY, False
    ),
    Kind.TERRAFORM_CLOUD: KindInfo(
        "Infrastructure",
        "Runs applied or errored, from a workspace notification configuration.",
        SIGNED,
        False,
    ),
    Kind.LAUNCHDARKLY: KindInfo(
        "Feature flags", "Flag changes from LaunchDarkly's audit log webhook.", SIGNED, False
    ),
    Kind.FLAGSMITH: KindInfo(
        "Feature flags", "Flag updates and deletions from an environment webhook.", SIGNED, False
    ),
    Kind.UNLEASH: KindInfo(
        "Feature flags",
        "Flags enabled, disabled or re-targeted, from the webhook addon.",
        KEY_ONLY,
        False,
    ),
    Kind.GENERIC: KindInfo(
        "Scripts and standards",
        "Our JSON API (also Alert24's and ilert's shapes): curl, Terraform, any script.",
        KEY_BY_DEFAULT,
        True,
    ),
    Kind.PAGERDUTY: KindInfo(
        "Scripts and standards", "PagerDuty Change Events v2 (Ansible, scripts).", KEY_ONLY, False
    ),
    Kind.CDEVENTS: KindInfo(
        "Scripts and standards",
        "CDEvents service events (CNCF), in CloudEvents structured or binary mode.",
        KEY_ONLY,
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
        KEY_ONLY,
        False,
        frozenset({"insufficient_data", "auto_confirm_subscriptions"}),
    ),
    SourceKind.EVENTBRIDGE: KindInfo(
        "",
        "CloudWatch alarm state changes and stopped ECS tasks, from an API destination.",
        KEY_ONLY,
        False,
        frozenset({"insufficient_data"}),
    ),
    SourceKind.ALERTMANAGER: KindInfo(
        "", "Firing and resolved alerts from an Alertmanager webhook receiver.", KEY_ONLY, False
    ),
    SourceKind.GRAFANA: KindInfo(
        "",
        "Firing and resolved alerts from a Grafana alerting webhook contact point.",
        KEY_ONLY,
        False,
    ),
    SourceKind.WEBHOOK: KindInfo(
        "",
        "Any producer that signs each body with a timestamped HMAC (AWS DevOps Agent's format).",
        SIGNED_BY_DEFAULT,
        False,
        frozenset({"timestamp_tolerance_seconds"}),
    ),
    SourceKind.PAGERDUTY: KindInfo(
        "",
        "PagerDuty Events API v2: trigger, acknowledge and resolve by dedup key.",
        KEY_ONLY,
        False,
    ),
    SourceKind.GENERIC: KindInfo(
        "",
        "Our incidents API (Alert24's shape): scripts raise, find and resolve incidents.",
        KEY_ONLY,
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
    """Whether the integration's requests must be signed with the signing secret (its auth mode):
    only then does the secret mean anything (shown, rotated)."""
    return integration.auth_mode == AuthMode.SIGNATURE


def default_auth_mode(model: type[Integration], kind: str) -> str:
    """The mode a new integration of this kind gets when none is chosen."""
    info = kind_info(model, kind)
    return info.default_auth_mode if info is not None else AuthMode.KEY


def auth_mode_problem(model: type[Integration], kind: str, mode: str) -> str:
    """Why this kind cannot have this authentication mode; "" when it can."""
    info = kind_info(model, kind)
    if info is None or mode in info.auth_modes:
        return ""
    label = model.Kind(kind).label
    if info.signs:
        return f"{label} always signs its requests: a signature is required."
    return f"{label} signs nothing: it is authenticated by its key alone."
