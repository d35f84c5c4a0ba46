"""The exception tree of relgate.

Every error knows a stable ``code`` (for JSON output and the API) and the exit
code the CLI ends with. Only ``api/errors.py`` maps them to HTTP statuses and
only ``cli/`` prints them.

    RelgateError                      exit 1
     ├── BadInput                     exit 2   bad arguments, files, versions, config
     │    ├── InvalidConfig           exit 2   relgate.yaml: names file, line and field
     │    ├── InvalidVersion          exit 2
     │    ├── InvalidReport           exit 2   a malformed evidence report: names the file
     │    ├── InvalidFlagDefinition   exit 2   a flag document: names the path inside it
     │    ├── InvalidFlagContext      exit 2
     │    ├── NonConventionalCommit   exit 2   --strict: names the SHA and the subject
     │    ├── ShallowClone            exit 2   history does not reach the last tag
     │    ├── NotAGitRepository       exit 2
     │    ├── MaintenanceLineExceeded exit 2   names the commit that needs a larger bump
     │    ├── TooLarge                exit 2   a request body over its endpoint's limit
     │    └── NotFound                exit 2
     ├── Unauthorized                 exit 2   no token, or an unknown one
     ├── Forbidden                    exit 2   the token's role may not do this
     ├── Conflict                     exit 1   immutable bindings, a busy environment
     ├── GateFailed                   exit 1
     └── ExternalError                exit 1   git, a deployer, the server could not be reached
"""

from __future__ import annotations


class RelgateError(Exception):
    """Base of every error relgate reports to a person."""

    code = "error"
    exit_code = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class BadInput(RelgateError):
    code = "bad_input"
    exit_code = 2


class InvalidConfig(BadInput):
    """relgate.yaml (or another input file) is not valid; the message names file, line, field."""

    code = "invalid_config"

    def __init__(
        self, message: str, *, file: str | None = None, line: int | None = None, field: str = ""
    ) -> None:
        where = file or "<input>"
        if line is not None:
            where = f"{where}:{line}"
        prefix = f"{where}: {field}: " if field else f"{where}: "
        super().__init__(prefix + message)
        self.file = file
        self.line = line
        self.field = field


class InvalidVersion(BadInput):
    code = "invalid_version"


class NonConventionalCommit(BadInput):
    code = "non_conventional_commit"


class ShallowClone(BadInput):
    code = "shallow_clone"


class NotAGitRepository(BadInput):
    code = "not_a_git_repository"


class MaintenanceLineExceeded(BadInput):
    code = "maintenance_line_exceeded"


class NotFound(BadInput):
    code = "not_found"


class Unauthorized(RelgateError):
    code = "unauthorized"
    exit_code = 2


class Forbidden(RelgateError):
    code = "forbidden"
    exit_code = 2


class Conflict(RelgateError):
    code = "conflict"
    exit_code = 1


class GateFailed(RelgateError):
    code = "gate_failed"
    exit_code = 1


class ExternalError(RelgateError):
    code = "external_error"
    exit_code = 1


class InvalidReport(BadInput):
    """An evidence report cannot be read; the message names the file and what is wrong."""

    code = "invalid_report"


class WaitTimedOut(RelgateError):
    """`--wait` gave up before a deployment ended; the deployment itself goes on."""

    code = "timed_out"
    exit_code = 1


class InvalidFlagDefinition(BadInput):
    """A feature-flag definition (Unleash features JSON) cannot be compiled; names the path."""

    code = "invalid_flag_definition"


class InvalidFlagContext(BadInput):
    """An evaluation context cannot be read; the message names the field."""

    code = "invalid_flag_context"


class TooLarge(BadInput):
    """A request body is larger than its endpoint accepts; the message names the limit."""

    code = "too_large"
