#!/usr/bin/env bash
# relgate-ci: the CI step of the GitHub Action (action.yml) and of the GitLab CI template
# (ci/gitlab/relgate.gitlab-ci.yml). Both run this one script, through `relgate-ci`.
#
#   version  -> release create -> evidence add -> gates check -> promote
#
# Inputs are environment variables, never command-line text a CI system expands:
#   RELGATE_URL, RELGATE_TOKEN  the server and a ci token (a secret: never printed)
#   RELGATE_CI_SERVICE          the service, as named in relgate.yaml (required)
#   RELGATE_CI_ARTIFACT         the artifact pinned by digest, REF@sha256:<64 hex> (required)
#   RELGATE_CI_VERSION          a SemVer version, or auto (default): `relgate version`
#   RELGATE_CI_REPOSITORY       the git checkout (default .): versions, commit, authors
#   RELGATE_CI_EVIDENCE         lines of KIND=FILE or KIND@ENVIRONMENT=FILE ('#' comments)
#   RELGATE_CI_ENVIRONMENT      the environment to check the gates of and promote into
#                               (none: the step ends once the release and its evidence are in)
#   RELGATE_CI_PROMOTE          true (default) or false: only check the gates
#   RELGATE_CI_WAIT_TIMEOUT     seconds to wait for the deployment to end (default 1800;
#                               0: do not wait)
#   RELGATE_CI_TAG              true: `relgate version --tag --push` (default false)
#   RELGATE_CI_REASON           why, for the deployment's history (default: the CI run's URL)
# Where the results go (each optional):
#   RELGATE_CI_SUMMARY          Markdown summary, appended (default $GITHUB_STEP_SUMMARY)
#   RELGATE_CI_OUTPUT           key=value outputs, appended (default $GITHUB_OUTPUT)
#   RELGATE_CI_DOTENV           RELGATE_RELEASE_VERSION=... lines (a GitLab dotenv report),
#                               written anew
# Exit codes are relgate's: 0 ok (also: nothing to release), 1 a gate failed, a conflict, or a
# deployment that did not succeed, 2 bad input.
set -euo pipefail

PY=${RELGATE_CI_PYTHON:-python3}

say() { printf 'relgate-ci: %s\n' "$*"; }
fail() {
    say "error: $1" >&2
    exit "${2:-2}"
}
relgate() { "$PY" -m relgate "$@"; }
trim() {
    local text=$1
    text=${text#"${text%%[![:space:]]*}"}
    text=${text%"${text##*[![:space:]]}"}
    printf '%s' "$text"
}
is_true() {
    case $1 in # no ${1,,}: macOS's bash is 3.2
        true | True | TRUE | yes | 1) return 0 ;;
        false | False | FALSE | no | 0 | '') return 1 ;;
        *) fail "$2 must be true or false, not '$1'" ;;
    esac
}

service=$(trim "${RELGATE_CI_SERVICE:-}")
artifact=$(trim "${RELGATE_CI_ARTIFACT:-}")
version=$(trim "${RELGATE_CI_VERSION:-}")
version=${version:-auto}
repository=${RELGATE_CI_REPOSITORY:-.}
environment=$(trim "${RELGATE_CI_ENVIRONMENT:-}")
wait_timeout=$(trim "${RELGATE_CI_WAIT_TIMEOUT:-1800}")
summary=${RELGATE_CI_SUMMARY:-${GITHUB_STEP_SUMMARY:-}}
outputs=${RELGATE_CI_OUTPUT:-${GITHUB_OUTPUT:-}}
dotenv=${RELGATE_CI_DOTENV:-}

if [ -n "${RELGATE_TOKEN:-}" ] && [ "${GITHUB_ACTIONS:-}" = true ]; then
    # the token is a secret already when it comes from one; masked in case it does not
    printf '::add-mask::%s\n' "$RELGATE_TOKEN"
fi

[ -n "${RELGATE_URL:-}" ] || fail "RELGATE_URL is not set: the relgate server, e.g. https://relgate.example.com"
[ -n "${RELGATE_TOKEN:-}" ] || fail "RELGATE_TOKEN is not set: a token with the ci role, from a secret"
[ -n "$service" ] || fail "the service is not set (RELGATE_CI_SERVICE; the action's input 'service')"
[ -n "$artifact" ] || fail "the artifact is not set (RELGATE_CI_ARTIFACT): REF@sha256:<64 hex>"
[[ $wait_timeout =~ ^[0-9]+([.][0-9]+)?$ ]] \
    || fail "the wait timeout must be a number of seconds, not '$wait_timeout'"
promote=false
if is_true "${RELGATE_CI_PROMOTE:-true}" "the promote input"; then promote=true; fi
tag=false
if is_true "${RELGATE_CI_TAG:-false}" "the tag input"; then tag=true; fi
reason=${RELGATE_CI_REASON:-}
if [ -z "$reason" ] && [ -n "${GITHUB_RUN_ID:-}" ]; then
    reason="${GITHUB_SERVER_URL:-https://github.com}/${GITHUB_REPOSITORY:-}/actions/runs/$GITHUB_RUN_ID"
elif [ -z "$reason" ]; then
    reason=${CI_PIPELINE_URL:-}
fi

# One line per output; a value with a line break would forge another output
output() {
    local key=$1 dotenv_key=$2 value=$3
    case $value in *$'\n'* | *$'\r'*) fail "output $key holds a line break" 1 ;; esac
    if [ -n "$outputs" ]; then printf '%s=%s\n' "$key" "$value" >>"$outputs"; fi
    if [ -n "$dotenv" ]; then printf '%s=%s\n' "$dotenv_key" "$value" >>"$dotenv"; fi
}
summarise() {
    if [ -n "$summary" ]; then printf '%s\n' "$@" >>"$summary"; fi
}
# A text of our own inside the Markdown summary: no markup, no HTML
md() {
    local text=$1
    text=${text//&/&amp;}
    text=${text//</&lt;}
    text=${text//>/&gt;}
    printf '%s' "$text" | sed 's/[][\\`*_|~$]/\\&/g'
}

# ---- the evidence lines, checked before anything is created
kinds=" $("$PY" -c 'from relgate.promotion.kinds import EvidenceKind; print(*EvidenceKind)') "
evidence_kinds=()
evidence_envs=()
evidence_files=()
number=0
while IFS= read -r line || [ -n "$line" ]; do
    number=$((number + 1))
    line=$(trim "$line")
    case $line in '' | '#'*) continue ;; esac
    [[ $line == *=* ]] || fail "evidence line $number: '$line' is not KIND=FILE or KIND@ENVIRONMENT=FILE"
    spec=$(trim "${line%%=*}")
    file=$(trim "${line#*=}")
    kind=${spec%%@*}
    where=""
    if [[ $spec == *@* ]]; then where=${spec#*@}; fi
    [ -n "$kind" ] || fail "evidence line $number: '$line' names no kind (tests, coverage, ...)"
    [[ $kinds == *" $kind "* ]] || fail "evidence line $number: '$kind' is not a kind of evidence (one of:$kinds)"
    [ -n "$file" ] || fail "evidence line $number: '$line' names no file"
    [ -f "$file" ] || fail "evidence line $number: $file: file not found"
    evidence_kinds+=("$kind")
    evidence_envs+=("$where")
    evidence_files+=("$file")
done <<<"${RELGATE_CI_EVIDENCE:-}"

if [ -n "$dotenv" ]; then : >"$dotenv"; fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# ---- version
commit=$(git -C "$repository" rev-parse HEAD 2>/dev/null || printf '%s' "${GITHUB_SHA:-${CI_COMMIT_SHA:-}}")
release_tag=""
if [ "$version" = auto ]; then
    arguments=(version --json --repo "$repository")
    if [ "$tag" = true ]; then arguments+=(--tag --push); fi
    relgate "${arguments[@]}" >"$work/version.json" # a shallow clone stops here (exit 2)
    {
        read -r next
        read -r release_tag
        read -r current
        read -r current_tag
    } < <("$PY" -c '
import json, sys
plan = json.load(sys.stdin)
for key in ("next", "next_tag", "current", "current_tag"):
    print(plan[key] or "")
' <"$work/version.json")
    if [ -n "$next" ]; then
        version=$next
        say "version $version (from the Conventional Commits since ${current_tag:-the first commit})"
    elif [ -n "$current_tag" ] \
        && [ "$(git -C "$repository" rev-parse "$current_tag^{commit}")" = "$commit" ]; then
        # HEAD is that release already (a later job of the pipeline, after the tag was made)
        version=$current
        release_tag=$current_tag
        say "version $version: HEAD is tagged $current_tag"
    else
        say "nothing to release: no commit since ${current_tag:-the first commit} asks for a new version"
        output released RELGATE_RELEASED false
        summarise "## relgate: $(md "$service")" "" \
            "Nothing to release: no commit since $(md "${current_tag:-the first commit}") asks for a new version (fix:, feat: or a breaking change)." ""
        exit 0
    fi
fi

# ---- release create (the same binding again changes nothing)
arguments=(release create "$service" --version "$version" --artifact "$artifact" --repo "$repository")
if [ -n "$commit" ]; then arguments+=(--commit "$commit"); fi
relgate "${arguments[@]}"
release_url="${RELGATE_URL%/}/releases/$service/$version"
output version RELGATE_RELEASE_VERSION "$version"
output tag RELGATE_RELEASE_TAG "$release_tag"
output released RELGATE_RELEASED true
output release-url RELGATE_RELEASE_URL "$release_url"
summarise "## relgate: [$(md "$service@$version")]($release_url)" "" \
    "Artifact \`$(printf '%s' "$artifact" | tr -d '`')\`${commit:+, commit \`${commit:0:12}\`}." ""

# ---- evidence add
index=0
while [ "$index" -lt "${#evidence_kinds[@]}" ]; do # no "${!a[@]}": empty under set -u in bash 3
    arguments=(evidence add "$service@$version" --kind "${evidence_kinds[$index]}" --file "${evidence_files[$index]}")
    if [ -n "${evidence_envs[$index]}" ]; then arguments+=(--env "${evidence_envs[$index]}"); fi
    relgate "${arguments[@]}" | tee -a "$work/evidence.txt"
    index=$((index + 1))
done
if [ -s "$work/evidence.txt" ]; then
    while IFS= read -r line; do summarise "- $(md "$line")"; done <"$work/evidence.txt"
    summarise ""
fi

[ -n "$environment" ] || exit 0

# ---- gates check: the table goes to the summary and the log, whatever it says
status=0
relgate gates check "$service@$version" --env "$environment" --markdown >"$work/gates.md" || status=$?
[ "$status" -le 1 ] || exit "$status"
gates_passed=false
if [ "$status" -eq 0 ]; then gates_passed=true; fi
output gates-passed RELGATE_GATES_PASSED "$gates_passed"
if [ -n "$summary" ]; then cat "$work/gates.md" >>"$summary" && summarise ""; fi
cat "$work/gates.md"

[ "$promote" = true ] || exit 0

# ---- promote; the server checks the gates again, and refuses with exit 1 when one fails
arguments=(promote "$service@$version" --to "$environment" --reason "$reason" --json)
if [ "$wait_timeout" != 0 ] && [ "$wait_timeout" != 0.0 ]; then
    arguments+=(--wait --timeout "$wait_timeout")
fi
status=0
relgate "${arguments[@]}" >"$work/deployment.json" || status=$?
{
    read -r deployment_id
    read -r deployment_state
    read -r message
} < <("$PY" -c '
import json, sys
try:
    answer = json.load(sys.stdin)
except ValueError:
    answer = {}
error = answer.get("error") or {}
print(answer.get("id", ""))
print(answer.get("state", ""))
print(" ".join(str(error.get("message", "")).split()))
' <"$work/deployment.json")
if [ -n "$deployment_id" ]; then
    output deployment-id RELGATE_DEPLOYMENT_ID "$deployment_id"
    output deployment-state RELGATE_DEPLOYMENT_STATE "$deployment_state"
    line="deployment $deployment_id of $service@$version to $environment: $deployment_state"
else
    # refused (the server's message), or no answer to show: a wait that timed out, an error
    line="promotion to $environment: ${message:-relgate promote exited $status (the log says why)}"
fi
say "$line"
summarise "**$(md "$line")**" ""
exit "$status"
