"""What each kind of deployment pipeline is, for the forms and the settings pages: the group it
belongs to, a line saying what it is, and what it uses (a signature, branches)."""

from dataclasses import dataclass

from pipelines.models import DeploymentPipeline

Kind = DeploymentPipeline.Kind


@dataclass(frozen=True)
class KindInfo:
    group: str
    description: str
    signs: bool  # verifies a signature (or a shared token) made with the signing secret
    has_branches: bool  # its events name a branch that a noise filter can narrow down


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
