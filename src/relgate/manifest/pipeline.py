"""Load relgate.yaml for `relgate apply`: the manifest and its validated pipeline."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from relgate.errors import InvalidConfig
from relgate.manifest.loader import Loc, format_loc, line_of, parse_yaml, read_text, validate
from relgate.manifest.model import Manifest
from relgate.promotion.pipeline import PipelineSpec


@dataclass(frozen=True)
class ServicePipeline:
    service: str
    pipeline: PipelineSpec
    source: str
    file: str = "relgate.yaml"
    lines: dict[Loc, int] = field(default_factory=dict, compare=False, repr=False)

    def error(self, loc: Loc, message: str) -> InvalidConfig:
        """Return an InvalidConfig naming this file, the line of ``loc`` and the field."""
        return InvalidConfig(
            message, file=self.file, line=line_of(loc, self.lines), field=format_loc(loc)
        )


def parse_pipeline(text: str, file: str) -> ServicePipeline:
    """Validate a whole relgate.yaml, pipeline included.

    Raises InvalidConfig naming file, line and field; a file without ``service``
    or ``environments`` is refused, since there is nothing to apply.
    """
    data, lines = parse_yaml(text, file)
    manifest = validate(Manifest, data, lines, file)
    if manifest.service is None:
        raise InvalidConfig("`service` is required to apply a pipeline", file=file, line=1)
    if not manifest.environments:
        raise InvalidConfig(
            "`environments` is required to apply a pipeline",
            file=file,
            line=1,
            field="environments",
        )
    pipeline = validate(PipelineSpec, {"environments": data["environments"]}, lines, file)
    applied = ServicePipeline(
        service=manifest.service, pipeline=pipeline, source=text, file=file, lines=lines
    )
    problems = pipeline.rules_problems()
    if problems:
        loc, message = problems[0]
        raise applied.error(loc, message)
    return applied


def load_pipeline(path: Path) -> ServicePipeline:
    """Read relgate.yaml at ``path`` and validate it with its pipeline; raises InvalidConfig."""
    return parse_pipeline(read_text(path), str(path))
