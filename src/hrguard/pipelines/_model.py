"""The pipeline format as pydantic models (also its JSON Schema).

A pipeline file names a source system's records and says, per kind of record (a *source*), how each
becomes hrguard events. Everything is data: field paths, ``{field}`` templates, value maps, constants.
Nothing is evaluated as code.
"""

from __future__ import annotations

from typing import Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field

FORMAT_VERSION = 1

Scalar = Union[str, int, float, bool, None]


class Match(BaseModel):
    """A test on one field: ``equals`` one of the values (strings compared case-insensitively),
    ``prefix`` (case-insensitive), or ``present`` (has a value that is not one of the pipeline's
    ``missing`` values)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    equals: list[Scalar] | None = None
    prefix: str | None = None
    present: bool | None = None


Test = Union[Match, list[Scalar], Scalar]
"""A field's test as written: a :class:`Match`, or short forms: a list of values or one value (``equals``)."""


def as_match(test: Test) -> Match:
    """The :class:`Match` a test written in short form stands for."""
    if isinstance(test, Match):
        return test
    return Match(equals=list(test) if isinstance(test, list) else [test])


class Sentinel(BaseModel):
    """Values that together mean "none": when every field of ``fields`` equals its value in ``equals``,
    all of them are missing (Odoo stores "no location" as latitude 0.0, longitude 0.0)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    fields: list[str] = Field(min_length=1, description="source field paths")
    equals: list[Scalar] = Field(min_length=1, description="one value per field, in the same order")


class ValueMap(BaseModel):
    """A closed vocabulary of a source field translated to hrguard's: keys are compared case-insensitively
    (after trimming spaces); a value not listed is rejected unless ``other: keep``."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    map: dict[str, Scalar] = Field(description="source value -> hrguard value")
    other: Literal["reject", "keep"] = Field(default="reject", description="what an unlisted value does")


class EmitSpec(BaseModel):
    """One event made from a record (or from each child row, with ``each``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    kind: str = Field(description="the event kind (built in or from a plugin)")
    id: str = Field(min_length=1, description="the event id: a template such as 'checkin-{name}'")
    when: dict[str, Test] = Field(default_factory=dict,
                                   description="make the event only when every field passes its test")
    each: str | None = Field(default=None, description="a list field: one event per row; 'row.x' is a field of the row")
    fields: dict[str, str] = Field(default_factory=dict,
                                   description="event field -> source field path, or a template with {path}")
    set: dict[str, Any] = Field(default_factory=dict, description="event field -> constant value")
    attrs: Literal["rest", "none"] = Field(
        default="rest", description="rest: the source fields no mapping read are kept in the event's attrs")


class SourceSpec(BaseModel):
    """One kind of source record: which records it takes, and the events each becomes."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str = Field(min_length=1, description="unique in the pipeline; rejections name it")
    where: dict[str, Test] = Field(default_factory=dict,
                                    description="the records this source takes (every test passes); the first "
                                                "source that takes a record maps it")
    skip: bool = Field(default=False, description="the records are read and counted as skipped, on purpose")
    require: list[str] = Field(default_factory=list, description="source fields that must have a value")
    sentinels: list[Sentinel] = Field(default_factory=list)
    values: dict[str, ValueMap] = Field(default_factory=dict, description="source field path -> value map")
    timezone: str | None = Field(default=None, description="this source's zone for naive timestamps")
    emit: list[EmitSpec] = Field(default_factory=list, description="the events of one record")


class PipelineFile(BaseModel):
    """A mapping pipeline file."""

    model_config = ConfigDict(extra="forbid", title="hrguard mapping pipeline")
    version: Literal[1] = Field(default=FORMAT_VERSION, description="pipeline format version")
    pipeline: str | None = Field(default=None, description="the pipeline's name")
    description: str | None = None
    extends: list[str] | str = Field(default_factory=list,
                                     description="other pipelines whose sources come first: paths or bundled names")
    format: Literal["json", "xes"] | None = Field(
        default=None, description="what a path holds: json (JSON Lines or a JSON array, the default) or xes")
    timezone: str | None = Field(default=None, description="IANA zone of the source's naive timestamps")
    epoch: Literal["s", "ms", "us"] | None = Field(default=None,
                                                   description="unit of numbers in timestamp fields (default s)")
    missing: list[Scalar] | None = Field(default=None,
                                         description="values that mean 'no value' besides null (e.g. false, '')")
    record_id: str | None = Field(default=None, description="source field that names a record in rejections (default id)")
    set: dict[str, Any] = Field(default_factory=dict,
                                description="constants for every event that has the field (e.g. tenant)")
    sources: list[SourceSpec] = Field(default_factory=list)


def pipeline_json_schema() -> dict[str, Any]:
    """JSON Schema of the pipeline format (``hrguard schema pipeline``)."""
    return PipelineFile.model_json_schema()
