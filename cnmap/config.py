"""One declared schema for run configurations (``cnmap run``) and scenario files.

A run configuration and a scenario file share their sections: ``[area]`` (with
``population`` and ``postcodes``), ``[network]``, ``[coverage]`` and the ``[[organisations]]``
entries are the same models with the same defaults; a run adds ``[thin]`` and ``[output]``
(``dir``, ``self_contained``, ``type_labels``), a scenario adds ``name``, ``description`` and
``[filter]``. ``cnmap compare`` reads either kind (a run configuration is a scenario named
after its file). A national run (``cnmap run`` on a file with a ``[national]`` table,
:mod:`cnmap.national`) has the run's ``[[organisations]]``, ``[coverage]`` and ``[output]``
and a ``[national]`` section (:class:`NationalFile`). Every value is checked here, before any
data is read:

- **strict types**: no coercion. ``self_contained = "false"`` is an error (not True),
  ``minutes = true`` is an error (not a 1-minute limit), ``speed_kmh = "5"`` is an error (write
  the number without quotes), and a text field given a boolean or a number is an error saying
  to quote it. YAML files are read with PyYAML's safe loader (YAML 1.1), which turns unquoted
  ``yes``/``no``/``on``/``off`` into booleans: in a text field (``label: no``) that is refused
  with the fix (``label: "no"``); in a true/false field it is the boolean it looks like;
- **ranges**: time limits are numbers > 0 and at most 1,440 minutes (a day), walking speeds
  > 0 and at most 100 km/h, ``max_snap_m`` > 0 and at most 10,000 m, ``detour_factor`` from
  1 to 5, thin-rule shares and percentages in range;
- **choices**: ``lsoa_vintage`` 2011 or 2021, ``iod`` 2019 or 2025 (default: the IoD2025 on
  2021 LSOAs, as :func:`cnmap.load_area`), ``population``, ``postcodes``, ``mode``,
  ``residents``, ``persona``, ``coords``, ``[network] build`` and the opening-hours options;
- **LAD codes** are written in capitals: ``e08000025`` is refused with the fix ``E08000025``
  (a lower-case code would otherwise not be found in the data);
- **unknown keys**, in every section and entry, are errors naming the allowed keys (and the
  nearest one, for a typo); a section that is not a table, a file whose top level is a list,
  and ``[[organisations]]`` entries that are neither tables nor path strings are refused;
- files must be UTF-8 (a UTF-8 byte-order mark is accepted): another encoding is refused with
  the position of the first byte that is not UTF-8. YAML keys may not repeat.

Every problem becomes one :class:`cnmap.errors.ValidationError` on one line, naming the file,
the key (``[coverage] speed_kmh``), the value given (shortened) and the fix; when there are
several, the first is described and the others named. See ``docs/configuration.md``.
"""

from __future__ import annotations

import codecs
import difflib
import os
import re
import string
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal, TypeVar, get_args

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainValidator,
    ValidationInfo,
    model_validator,
)
from pydantic import ValidationError as SchemaError
from pydantic_core import PydanticCustomError

from cnmap import _check
from cnmap import columns as C
from cnmap.errors import ValidationError

__all__ = [
    "AreaSection",
    "AreaData",
    "RunArea",
    "NetworkSection",
    "CoverageSection",
    "OrganisationEntry",
    "FilterSection",
    "ColdSpotOptions",
    "ThinSection",
    "OutputSection",
    "RunFile",
    "ScenarioFile",
    "NationalSection",
    "NationalFile",
    "OrganisationSource",
    "DEFAULT_MINUTES",
    "MAX_SNAP_M",
    "MAX_DETOUR_FACTOR",
    "read_config_file",
    "validate",
    "load_document",
    "resolve_path",
    "organisation_sources",
]

#: Time limits when a file gives none (the same for ``cnmap run`` and scenario files, and
#: the default of :func:`cnmap.coverage.coverage`).
DEFAULT_MINUTES: tuple[int | float, ...] = (15,)

#: Largest snapping distance accepted, in metres (farther is not "next to a street").
MAX_SNAP_M = 10_000.0

#: Largest crow-flies detour factor accepted (walking distance / straight-line distance).
MAX_DETOUR_FACTOR = 5.0

#: A local authority district code: a country letter and eight digits.
_LAD_CODE = re.compile(r"^[EWSN]\d{8}$")

_SUFFIXES = {".toml": "TOML", ".yaml": "YAML", ".yml": "YAML"}

M = TypeVar("M", bound=BaseModel)


# ---------------------------------------------------------------------------------------------
# value rules (each returns the value in its normal form or raises ValueError naming the key)


def _show(value: Any) -> str:
    """A short repr of a value for messages (a long value is cut)."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _kind(value: Any) -> str:
    """What a value is, in words (for 'is a boolean, not text')."""
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "a whole number"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, Mapping):
        return "a table"
    if isinstance(value, list | tuple):
        return "a list"
    return "empty" if value is None else type(value).__name__


def _is_yaml(info: ValidationInfo) -> bool:
    return bool(info.context and info.context.get("yaml"))


def _not_text(name: str, value: Any, yaml: bool) -> str:
    if isinstance(value, bool):
        if yaml:
            return (
                f"{name}={_show(value)} is a boolean, not text: YAML reads unquoted yes, no, "
                f'on, off, true and false as booleans; quote the text, e.g. {name}: "no"'
            )
        return f'{name}={_show(value)} is a boolean, not text; quote it: {name} = "{value}"'
    if _check.is_number(value):
        sep = ": " if yaml else " = "
        return f'{name}={_show(value)} is a number, not text; quote it: {name}{sep}"{value}"'
    return f"{name}={_show(value)} is {_kind(value)}, not text; give quoted text"


def _text(value: Any, info: ValidationInfo) -> str:
    """Non-empty text (a string, not a boolean or a number)."""
    name = info.field_name or "value"
    if not isinstance(value, str):
        raise ValueError(_not_text(name, value, _is_yaml(info)))
    if not value.strip():
        raise ValueError(f"{name}={_show(value)} is empty; give some text or leave {name} out")
    return value


def _any_text(value: Any, info: ValidationInfo) -> str:
    """Text that may be empty (descriptions)."""
    if not isinstance(value, str):
        raise ValueError(_not_text(info.field_name or "value", value, _is_yaml(info)))
    return value


def _optional(rule: Callable[[Any, ValidationInfo], Any]) -> Callable[[Any, ValidationInfo], Any]:
    """``rule`` for a key that may also be empty (YAML ``key:`` or ``~``)."""

    def check(value: Any, info: ValidationInfo) -> Any:
        return None if value is None else rule(value, info)

    return check


def _flag(value: Any, info: ValidationInfo) -> bool:
    """true or false, nothing else (``"false"`` and ``0`` are refused)."""
    if isinstance(value, bool):
        return value
    name = info.field_name or "value"
    hint = " without quotes" if isinstance(value, str) else ""
    raise ValueError(
        f"{name}={_show(value)} is {_kind(value)}, not true or false; write true or false{hint}"
    )


def _positive(unit: str, maximum: float | None = None) -> Callable[[Any, ValidationInfo], float]:
    def check(value: Any, info: ValidationInfo) -> float:
        return _check.positive_number(info.field_name or "value", value, unit=unit, maximum=maximum)

    return check


def _non_negative(unit: str) -> Callable[[Any, ValidationInfo], float]:
    def check(value: Any, info: ValidationInfo) -> float:
        return _check.non_negative_number(info.field_name or "value", value, unit=unit)

    return check


def _share(value: Any, info: ValidationInfo) -> float:
    """A share in (0, 1]."""
    name = info.field_name or "value"
    f = _check.number(name, value, unit="share")
    if not 0 < f <= 1:
        raise ValueError(f"{name}={_show(value)} must be a share in (0, 1], e.g. 0.5 for 50%")
    return f


def _percent(value: Any, info: ValidationInfo) -> float:
    """A percentage in (0, 100]."""
    name = info.field_name or "value"
    f = _check.number(name, value, unit="per cent")
    if not 0 < f <= 100:
        raise ValueError(f"{name}={_show(value)} must be a percentage in (0, 100], e.g. 10")
    return f


def _whole(low: int, high: int) -> Callable[[Any, ValidationInfo], int]:
    def check(value: Any, info: ValidationInfo) -> int:
        name = info.field_name or "value"
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(
                f"{name}={_show(value)} is {_kind(value)}, not a whole number; "
                f"give a whole number from {low:,} to {high:,}"
            )
        if not low <= value <= high:
            raise ValueError(
                f"{name}={_show(value)} must be a whole number from {low:,} to {high:,}"
            )
        return value

    return check


def _choice(*choices: Any) -> Callable[[Any, ValidationInfo], Any]:
    """One of ``choices``, of the same type (``"2011"`` is not 2011, ``True`` is not 1)."""

    def check(value: Any, info: ValidationInfo) -> Any:
        for c in choices:
            if type(value) is type(c) and value == c:
                return value
        name = info.field_name or "value"
        listed = ", ".join(repr(c) if isinstance(c, str) else str(c) for c in choices)
        hint = (
            " (write it without quotes)"
            if isinstance(value, str)
            and any(value.strip() == str(c) for c in choices if not isinstance(c, str))
            else ""
        )
        raise ValueError(f"{name}={_show(value)} is not one of {listed}{hint}")

    return check


def _minutes(value: Any, info: ValidationInfo) -> tuple[int | float, ...]:
    """One time limit or a list: numbers > 0 and <= 1,440 minutes, sorted, without repeats."""
    return _check.minutes_tuple(info.field_name or "minutes", value)


def _limit(value: Any, info: ValidationInfo) -> int | float:
    """One time limit in minutes (a whole number of minutes as int: 15, not 15.0)."""
    f = _check.positive_number(
        info.field_name or "minutes", value, unit="minutes", maximum=_check.MAX_MINUTES
    )
    return int(f) if f.is_integer() else f


def _speed(value: Any, info: ValidationInfo) -> float:
    return _check.speed_kmh(info.field_name or "speed_kmh", value)


def _detour(value: Any, info: ValidationInfo) -> float:
    name = info.field_name or "detour_factor"
    f = _check.number(name, value, unit="walking / straight-line distance")
    if not 1 <= f <= MAX_DETOUR_FACTOR:
        raise ValueError(
            f"{name}={_show(value)} must be from 1 to {MAX_DETOUR_FACTOR:g} (a walk "
            "is never shorter than the straight line; 1.3-1.5 is usual), or leave "
            "it out to calibrate it on the street network"
        )
    return f


def _persona(value: Any, info: ValidationInfo) -> str:
    from cnmap.network.speeds import WALKING_SPEEDS

    name = _text(value, info)
    if name not in WALKING_SPEEDS:
        raise ValueError(
            f"persona={_show(value)} is unknown; choose one of "
            f"{sorted(WALKING_SPEEDS)} or give speed_kmh"
        )
    return name


def _lad_code(value: Any, info: ValidationInfo) -> str:
    """A LAD code: text in capitals (``E08000025``); a lower-case code is refused with the fix."""
    code = _text(value, info).strip()
    if code != code.upper() and _LAD_CODE.match(code.upper()):
        raise ValueError(
            f"lad_code={_show(value)} is in lower case; LAD codes are written in "
            f'capitals: lad_code = "{code.upper()}"'
        )
    if not re.fullmatch(r"[A-Za-z0-9]+", code):
        raise ValueError(
            f"lad_code={_show(value)} is not a LAD code (a letter and 8 digits, "
            'e.g. "E08000025" for Birmingham)'
        )
    return code


def _sheet(value: Any, info: ValidationInfo) -> str | int:
    """A sheet name (text) or a sheet position (0 = the first sheet)."""
    if isinstance(value, str):
        return _text(value, info)
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    raise ValueError(
        f"sheet={_show(value)} is {_kind(value)}; give a sheet name (quoted text) "
        "or its position (0 = the first sheet)"
    )


def _encoding(value: Any, info: ValidationInfo) -> str:
    name = _text(value, info)
    try:
        codecs.lookup(name)
    except LookupError:
        raise ValueError(
            f"encoding={_show(value)} is not a text encoding Python knows; use e.g. "
            '"utf-8", "cp1252" or "latin-1"'
        ) from None
    return name


def _types(value: Any, info: ValidationInfo) -> tuple[str, ...]:
    """One type name or a non-empty list of them."""
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list | tuple) or not items:
        raise ValueError(
            f"types={_show(value)} must be a type name or a non-empty list of them, "
            'e.g. ["food_bank", "advice"]'
        )
    for item in items:
        if not isinstance(item, str) or not item.strip():
            raise ValueError(
                f"types={_show(value)}: {_show(item)} is not a type name; quote "
                'each name, e.g. ["food_bank", "advice"]'
            )
    return tuple(items)


def _window(value: Any, info: ValidationInfo) -> str:
    from cnmap.hours import parse_window

    text = _text(value, info)
    parse_window(text)  # raises a ValidationError naming the day or time
    return text


def _domain(value: Any, info: ValidationInfo) -> str:
    from cnmap.iod import INDICES
    from cnmap.layers.domain import TABLE_COLUMNS, is_need_domain
    from cnmap.thin import SERVICE_DOMAINS

    text = _text(value, info)
    if text.strip().lower() not in {*INDICES, *SERVICE_DOMAINS} and not is_need_domain(text):
        raise ValueError(
            f"domain={_show(value)} is neither an IoD index ({', '.join(INDICES)}), "
            f"a service word ({', '.join(sorted(SERVICE_DOMAINS))}) nor a need column "
            f"({', '.join(TABLE_COLUMNS)})"
        )
    return text


def _column_names(value: Any, info: ValidationInfo) -> tuple[str, ...]:
    """The column names of a file without a header row: distinct non-empty texts."""
    name = info.field_name or "columns"
    if not isinstance(value, list | tuple) or len(value) < 2:
        raise ValueError(
            f"{name}={_show(value)} must be a list of the file's column names in "
            'order (a file without a header row), e.g. ["code", "name", '
            '"postcode"]'
        )
    bad = [v for v in value if not isinstance(v, str) or not v.strip()]
    if bad:
        raise ValueError(f"{name}: {_show(bad[0])} is not a column name; quote each name")
    seen = [v for i, v in enumerate(value) if v in value[:i]]
    if seen:
        raise ValueError(f"{name}: {seen[0]!r} is given twice; every column needs its own name")
    return tuple(value)


def _keep_rows(value: Any, info: ValidationInfo) -> dict[str, tuple[str, ...]]:
    """``keep``: column -> the value (text) or values a row must have to be read."""
    name = info.field_name or "keep"
    example = 'keep = { status = "A", prescribing_setting = ["4"] }'
    if not isinstance(value, Mapping) or not value:
        raise ValueError(
            f"{name}={_show(value)} must be a table of column = value(s), e.g. {example}"
        )
    out: dict[str, tuple[str, ...]] = {}
    for col, wanted in value.items():
        items = [wanted] if isinstance(wanted, str) else wanted
        if (
            not isinstance(items, list | tuple)
            or not items
            or not all(isinstance(v, str) for v in items)
        ):
            raise ValueError(
                f"{name}.{col}={_show(wanted)} must be quoted text or a non-empty "
                f"list of quoted texts (values are compared as text), e.g. "
                f"{example}"
            )
        out[str(col)] = tuple(v.strip() for v in items)
    return out


def _type_labels(value: Any, info: ValidationInfo) -> dict[str, str]:
    """``type_labels``: organisation type -> the name readers see (non-empty texts)."""
    name = info.field_name or "type_labels"
    example = 'type_labels = { warm_space = "Warm space", food_bank = "Food bank" }'
    if not isinstance(value, Mapping) or not value:
        raise ValueError(
            f'{name}={_show(value)} must be a table of type = "readable name", e.g. {example}'
        )
    out: dict[str, str] = {}
    for key, label in value.items():
        if not isinstance(key, str) or not key.strip():
            raise ValueError(f"{name}: {_show(key)} is not a type name; e.g. {example}")
        if not isinstance(label, str) or not label.strip():
            raise ValueError(
                f"{name}.{key}={_show(label)} is {_kind(label)}, not a readable "
                f"name; give quoted text, e.g. {example}"
            )
        out[key.strip()] = " ".join(label.split())
    return out


def _need_columns(value: Any, info: ValidationInfo) -> tuple[str, ...]:
    """``need_columns``: names of need-layer columns (:data:`cnmap.layers.TABLE_COLUMNS`)."""
    import difflib

    from cnmap.layers.domain import TABLE_COLUMNS

    name = info.field_name or "need_columns"
    example = 'need_columns = ["disabled_share", "deri_score"]'
    if not isinstance(value, list | tuple) or not value:
        raise ValueError(f"{name}={_show(value)} must be a list of column names, e.g. {example}")
    for v in value:
        if not isinstance(v, str) or v.strip() not in TABLE_COLUMNS:
            close = difflib.get_close_matches(str(v), TABLE_COLUMNS, n=3, cutoff=0.5)
            hint = f"did you mean {' or '.join(close)}? " if close else ""
            raise ValueError(
                f"{name}: {_show(v)} is not a need column; {hint}valid names: "
                f"{', '.join(TABLE_COLUMNS)}"
            )
    return tuple(dict.fromkeys(v.strip() for v in value))


def _rule(rule: Callable[[Any, ValidationInfo], Any], declared: Any) -> PlainValidator:
    """A field checked by ``rule`` alone (no coercion); ``declared`` documents the type."""
    return PlainValidator(rule, json_schema_input_type=declared)


def _pick(choices: Any) -> PlainValidator:
    """A field that takes one of the values of the ``Literal`` type ``choices``."""
    values = get_args(choices)
    return PlainValidator(_choice(*values), json_schema_input_type=choices)


Mode = Literal["network", "crow_flies"]
ResidentMethod = Literal["postcodes", "streets", "centroids"]
CoordMode = Literal["auto", "latlon", "bng", "postcode", "address", "geometry"]
LsoaVintage = Literal[2011, 2021]
IodEdition = Literal[2019, 2025]
PopulationSource = Literal["auto", "iod", "census2021"]
PostcodeSource = Literal["auto", "nspl", "codepoint"]
NetworkBuild = Literal["district"]
WardRule = Literal["ward", "any_lsoa", "either"]
Provision = Literal["share_covered", "mean_reachable", "orgs_per_1000", "mean_walk_min"]
ColdSpotMethod = Literal["gi_star", "local_moran"]
HoursRequire = Literal["any", "all"]
HoursWeeks = Literal["every", "any"]
HoursRules = Literal["osm", "additive"]
HoursUnknown = Literal["exclude", "include"]

Text = Annotated[str, _rule(_text, str)]
OptText = Annotated[str | None, _rule(_optional(_text), str | None)]
Flag = Annotated[bool, _rule(_flag, bool)]


# ---------------------------------------------------------------------------------------------
# sections


class _Section(BaseModel):
    """A table of settings: refuses anything but a table, and unknown keys (naming the allowed
    ones and the nearest for a typo)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    #: Words after the allowed keys in the unknown-key message.
    allowed_note: ClassVar[str] = ""
    #: How to write this section, for the "not a table" message.
    table_hint: ClassVar[str] = "write it as a table of settings (key = value lines)"

    @classmethod
    def _as_table(cls, data: Any) -> Any:
        """An empty section (YAML ``coverage:`` with nothing under it) is an empty table."""
        return {} if data is None else data

    @model_validator(mode="before")
    @classmethod
    def _known_keys(cls, data: Any) -> Any:
        data = cls._as_table(data)
        if isinstance(data, BaseModel):
            return data
        if not isinstance(data, Mapping):
            raise PydanticCustomError(
                "not_a_table", "not a table of settings", {"hint": cls.table_hint}
            )
        unknown = [k for k in data if k not in cls.model_fields]
        if unknown:
            raise PydanticCustomError(
                "unknown_keys",
                "unknown keys",
                {"unknown": unknown, "allowed": list(cls.model_fields), "note": cls.allowed_note},
            )
        return data


class AreaSection(_Section):
    """``[area]``'s core: where the analysis applies and which IoD edition.

    The defaults are those of :func:`cnmap.load_area`: the IoD2025 on 2021 LSOAs. ``iod =
    2019`` alone implies 2011 LSOAs (the IoD2019's geography) and ``lsoa_vintage = 2011``
    alone implies the IoD2019; ``lsoa_vintage = 2021`` with ``iod = 2019`` carries the
    IoD2019 over to 2021 LSOAs; 2011 LSOAs with the IoD2025 are refused.
    """

    lad_code: Annotated[str | None, _rule(_optional(_lad_code), str | None)] = None
    lsoa_vintage: Annotated[LsoaVintage, _pick(LsoaVintage)] = 2021
    iod: Annotated[IodEdition, _pick(IodEdition)] = 2025

    @model_validator(mode="after")
    def _editions_agree(self) -> AreaSection:
        given = self.model_fields_set
        if "iod" in given and "lsoa_vintage" not in given:
            object.__setattr__(self, "lsoa_vintage", 2011 if self.iod == 2019 else 2021)
        elif "lsoa_vintage" in given and "iod" not in given:
            object.__setattr__(self, "iod", 2019 if self.lsoa_vintage == 2011 else 2025)
        if self.iod == 2025 and self.lsoa_vintage == 2011:
            raise ValueError(
                "iod=2025 with lsoa_vintage=2011: the IoD2025 is published on "
                "2021 LSOAs; write lsoa_vintage = 2021 (or iod = 2019)"
            )
        return self


class AreaData(AreaSection):
    """The data of an area (:func:`cnmap.load_area`'s choices): ``[area]`` of a scenario file,
    of a run configuration (:class:`RunArea`) and the options of ``cnmap fetch``. Adds where
    the population comes from and which postcode lookup places the residents."""

    population: Annotated[PopulationSource, _pick(PopulationSource)] = "auto"
    postcodes: Annotated[PostcodeSource, _pick(PostcodeSource)] = "auto"

    @model_validator(mode="after")
    def _census_on_2021_lsoas(self) -> AreaData:
        if self.population == "census2021" and self.lsoa_vintage == 2011:
            raise ValueError(
                'population="census2021" with lsoa_vintage=2011: Census 2021 '
                "residents are counted on 2021 LSOAs; write lsoa_vintage = 2021 "
                '(or population = "iod")'
            )
        return self

    def load_options(self) -> dict[str, Any]:
        """The :func:`cnmap.load_area` keyword arguments this section gives."""
        return {
            "lsoa_vintage": self.lsoa_vintage,
            "iod": self.iod,
            "population": self.population,
            "postcodes": self.postcodes,
        }


class RunArea(AreaData):
    """``[area]`` of a run configuration: ``lad_code`` is required."""

    lad_code: Annotated[str, _rule(_lad_code, str)]


class NetworkSection(_Section):
    """``[network]``: a walk network file (``path``), a catalogue dataset (``dataset``), or a
    network built from OpenStreetMap for the district plus a buffer (``build = "district"``,
    with ``source`` and ``buffer_m``: :func:`cnmap.network.walk_network_for_district`)."""

    path: OptText = None
    dataset: Text = "osm_walk_network"
    build: Annotated[
        NetworkBuild | None, _rule(_optional(_choice(*get_args(NetworkBuild))), NetworkBuild | None)
    ] = None
    source: Annotated[str, _rule(_text, str)] = "auto"
    buffer_m: Annotated[float, _rule(_non_negative("metres"), float)] = 2000.0

    @model_validator(mode="after")
    def _one_source(self) -> NetworkSection:
        given = self.model_fields_set
        if {"path", "dataset"} <= given:
            raise ValueError(
                f"path={_show(self.path)} and dataset={_show(self.dataset)} are "
                "both given; give the network file (path) or the catalogue dataset, "
                "not both"
            )
        if self.build is not None and given & {"path", "dataset"}:
            other = "path" if "path" in given else "dataset"
            raise ValueError(
                f"build={self.build!r} and {other} are both given; build the "
                f"district's network from OpenStreetMap (build, source, buffer_m) "
                f"or read one ({other}), not both"
            )
        if self.build is None and given & {"source", "buffer_m"}:
            keys = " and ".join(sorted(given & {"source", "buffer_m"}))
            raise ValueError(
                f'{keys} set without build = "district": they say how to build '
                "the district's network from OpenStreetMap; add build = "
                '"district" or remove them'
            )
        return self


class CoverageSection(_Section):
    """``[coverage]``: the options of :func:`cnmap.coverage.coverage`."""

    minutes: Annotated[tuple[int | float, ...], _rule(_minutes, list[float] | float)] = (
        DEFAULT_MINUTES
    )
    speed_kmh: Annotated[float | None, _rule(_optional(_speed), float | None)] = None
    persona: Annotated[str | None, _rule(_optional(_persona), str | None)] = None
    mode: Annotated[Mode, _pick(Mode)] = "network"
    residents: Annotated[ResidentMethod, _pick(ResidentMethod)] = "postcodes"
    max_snap_m: Annotated[float, _rule(_positive("metres", MAX_SNAP_M), float)] = 500.0
    detour_factor: Annotated[float | None, _rule(_optional(_detour), float | None)] = None
    type_col: OptText = C.ORG_TYPE

    @model_validator(mode="after")
    def _persona_or_speed(self) -> CoverageSection:
        if self.persona is not None and self.speed_kmh is not None:
            from cnmap.network.speeds import WALKING_SPEEDS

            walks = WALKING_SPEEDS[self.persona]
            if abs(walks - self.speed_kmh) > 1e-9:
                raise ValueError(
                    f"persona={self.persona!r} walks at {walks:g} km/h but "
                    f"speed_kmh={self.speed_kmh:g} was also given; give one of them"
                )
        return self


class OrganisationEntry(_Section):
    """One ``[[organisations]]`` entry: a file, its label, the type that fills blanks, and
    options of :func:`cnmap.read_organisations`. A plain string is a path."""

    allowed_note: ClassVar[str] = (
        "(after type_col: the options of cnmap.read_organisations; "
        "columns, keep and area_postcodes_only prepare a list such "
        "as a national one before it is read)"
    )
    table_hint: ClassVar[str] = (
        'give a table with a path, e.g. [[organisations]] path = "orgs.csv", or a path string'
    )

    path: Text
    label: OptText = None
    type: OptText = None
    type_col: OptText = None
    coords: Annotated[CoordMode, _pick(CoordMode)] = "auto"
    name_col: OptText = None
    services_col: OptText = None
    lat_col: OptText = None
    lon_col: OptText = None
    easting_col: OptText = None
    northing_col: OptText = None
    postcode_col: OptText = None
    address_col: OptText = None
    id_col: OptText = None
    sheet: Annotated[str | int | None, _rule(_optional(_sheet), str | int | None)] = None
    encoding: Annotated[str | None, _rule(_optional(_encoding), str | None)] = None
    keep_outside_m: Annotated[float, _rule(_non_negative("metres"), float)] = 0.0
    duplicate_within_m: Annotated[
        float | None, _rule(_optional(_non_negative("metres")), float | None)
    ] = 50.0
    columns: Annotated[
        tuple[str, ...] | None, _rule(_optional(_column_names), list[str] | None)
    ] = None
    keep: Annotated[
        dict[str, tuple[str, ...]] | None, _rule(_optional(_keep_rows), dict[str, list[str]] | None)
    ] = None
    area_postcodes_only: Flag = False

    #: Keys that are not options of read_organisations (``columns``, ``keep`` and
    #: ``area_postcodes_only`` are applied by :mod:`cnmap.org_lists` before reading).
    OWN_KEYS: ClassVar[tuple[str, ...]] = (
        "path",
        "label",
        "type",
        "type_col",
        "columns",
        "keep",
        "area_postcodes_only",
    )

    @model_validator(mode="after")
    def _keep_names_columns(self) -> OrganisationEntry:
        if self.columns is not None and self.keep is not None:
            unknown = [k for k in self.keep if k not in self.columns]
            if unknown:
                raise ValueError(
                    f"keep names {unknown} but the columns given are "
                    f"{list(self.columns)}; use one of those names"
                )
        if self.area_postcodes_only and self.coords not in ("auto", "postcode"):
            raise ValueError(
                f"area_postcodes_only = true with coords={self.coords!r}: the "
                "rows are chosen by their postcode, so they are placed by it; "
                'use coords = "postcode"'
            )
        return self

    @classmethod
    def _as_table(cls, data: Any) -> Any:
        return {"path": data} if isinstance(data, str) else data

    def read_options(self) -> dict[str, Any]:
        """The read_organisations options set in the file (defaults left to the reader)."""
        return {
            k: getattr(self, k)
            for k in type(self).model_fields
            if k in self.model_fields_set and k not in self.OWN_KEYS
        }


def _entry_list(value: Any) -> Any:
    """``organisations``: one entry (a path or a table) or a list of them."""
    if isinstance(value, str | Mapping):
        return [value]
    if isinstance(value, list | tuple) and value:
        return list(value)
    if value is None or isinstance(value, list | tuple):
        raise PydanticCustomError("no_organisations", "no organisations", {})
    raise PydanticCustomError("not_entries", "organisations must be a path or a list", {})


Entries = Annotated[tuple[OrganisationEntry, ...], BeforeValidator(_entry_list)]


class FilterSection(_Section):
    """``[filter]`` of a scenario: organisation types and an opening-hours window."""

    types: Annotated[tuple[str, ...] | None, _rule(_optional(_types), list[str] | None)] = None
    open_during: Annotated[str | None, _rule(_optional(_window), str | None)] = None
    require: Annotated[HoursRequire, _pick(HoursRequire)] = "any"
    weeks: Annotated[HoursWeeks, _pick(HoursWeeks)] = "every"
    rules: Annotated[HoursRules, _pick(HoursRules)] = "osm"
    unknown_hours: Annotated[HoursUnknown, _pick(HoursUnknown)] = "exclude"


class ColdSpotOptions(_Section):
    """``[thin] cold_spot_options``: options of :func:`cnmap.hotspots.cold_spots`."""

    method: Annotated[ColdSpotMethod, _pick(ColdSpotMethod)] = "gi_star"
    alpha: Annotated[float, _rule(_share, float)] = 0.05
    fdr: Flag = True
    weights: Text = "queen"
    permutations: Annotated[int, _rule(_whole(0, 1_000_000), int)] = 9_999
    seed: Annotated[int | None, _rule(_optional(_whole(0, 2**32 - 1)), int | None)] = 12345


class ThinSection(_Section):
    """``[thin]``: the options of :func:`cnmap.thin.thin_areas`."""

    allowed_note: ClassVar[str] = "(the options of cnmap.thin_areas)"

    minutes: Annotated[float | None, _rule(_optional(_limit), float | None)] = None
    domain: Annotated[str, _rule(_domain, str)] = "imd"
    max_decile: Annotated[int, _rule(_whole(1, 10), int)] = 2
    min_share_covered: Annotated[float, _rule(_share, float)] = 0.5
    left_behind_pct: Annotated[float, _rule(_percent, float)] = 10.0
    ward_rule: Annotated[WardRule, _pick(WardRule)] = "either"
    org_type: OptText = None
    org_label: OptText = None
    provision: Annotated[Provision, _pick(Provision)] = "share_covered"
    cold_spots: Flag = False
    cold_spot_options: ColdSpotOptions | None = None

    def options(self) -> dict[str, Any]:
        """The thin_areas options set in the file (defaults left to thin_areas)."""
        return self.model_dump(exclude_unset=True)


class OutputSection(_Section):
    """``[output]`` of a run: where the outputs go and how the map is written.

    ``type_labels``: organisation type -> the readable name the map shows (before the map's
    own names, :data:`cnmap.maps._style.DEFAULT_TYPE_LABELS`). ``need_columns``: need-layer
    columns (:data:`cnmap.layers.TABLE_COLUMNS`) added to the LSOA and ward tables and drawn
    on the map."""

    dir: Text = "output"
    self_contained: Flag = False
    type_labels: Annotated[
        dict[str, str] | None, _rule(_optional(_type_labels), dict[str, str] | None)
    ] = None
    need_columns: Annotated[
        tuple[str, ...] | None, _rule(_optional(_need_columns), list[str] | None)
    ] = None


class RunFile(_Section):
    """A ``cnmap run`` configuration."""

    allowed_note: ClassVar[str] = "(sections)"

    area: RunArea
    network: NetworkSection = Field(default_factory=NetworkSection)
    coverage: CoverageSection = Field(default_factory=CoverageSection)
    organisations: Entries
    thin: ThinSection = Field(default_factory=ThinSection)
    output: OutputSection = Field(default_factory=OutputSection)

    @model_validator(mode="after")
    def _thin_minutes_computed(self) -> RunFile:
        m = self.thin.minutes
        if m is not None and m not in self.coverage.minutes:
            raise ValueError(
                f"[thin] minutes={m:g} is not among [coverage] minutes "
                f"{list(self.coverage.minutes)}; add it there or choose one of those"
            )
        return self


class ScenarioFile(_Section):
    """A scenario file (``cnmap compare``, :meth:`cnmap.scenarios.Scenario.from_file`)."""

    allowed_note: ClassVar[str] = "(settings and sections)"

    name: Text
    description: Annotated[str, _rule(_any_text, str)] = ""
    area: AreaData = Field(default_factory=AreaData)
    network: NetworkSection = Field(default_factory=NetworkSection)
    coverage: CoverageSection = Field(default_factory=CoverageSection)
    organisations: Entries
    filter: FilterSection = Field(default_factory=FilterSection)


def _known_keys(model: type[BaseModel], data: Any, hint: str) -> Any:
    """Refuse a section that is not a table, or unknown keys (as :class:`_Section` does)."""
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise PydanticCustomError("not_a_table", "not a table of settings", {"hint": hint})
    unknown = [k for k in data if k not in model.model_fields]
    if unknown:
        raise PydanticCustomError(
            "unknown_keys",
            "unknown keys",
            {"unknown": unknown, "allowed": list(model.model_fields), "note": ""},
        )
    return data


class NationalSection(BaseModel):
    """``[national]``: which districts, where networks come from, and the Dask cluster."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    districts: Literal["all"] | tuple[str, ...] = "all"
    networks: Literal["none", "at_hand", "build"] = "at_hand"
    worst_maps: int = Field(default=10, ge=0, le=400)
    workers: int | None = Field(default=None, ge=1, le=1024)
    scheduler: str | None = None
    memory_limit: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _keys(cls, data: Any) -> Any:
        data = _known_keys(cls, data, "write it as a table: [national] then key = value lines")
        if isinstance(data.get("districts"), list):
            data = {**data, "districts": tuple(data["districts"])}
        return data

    @model_validator(mode="after")
    def _some_districts(self) -> NationalSection:
        if isinstance(self.districts, tuple) and not self.districts:
            raise ValueError(
                'districts = [] names no district; give "all" or a list of district codes or names'
            )
        return self


class NationalFile(BaseModel):
    """A national configuration file: ``[national]`` (:class:`NationalSection`),
    ``[[organisations]]``, ``[coverage]`` and ``[output]``; ``[area]``, ``[network]`` and
    ``[thin]`` are refused. ``cnmap run`` reads a file with a ``[national]`` table as one
    (:func:`cnmap.national.config.read_national_config`, ``docs/national.md``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    national: NationalSection = Field(default_factory=NationalSection)
    organisations: tuple[OrganisationEntry, ...] = Field(min_length=1)
    coverage: CoverageSection = Field(default_factory=CoverageSection)
    output: OutputSection = Field(default_factory=OutputSection)

    @model_validator(mode="before")
    @classmethod
    def _sections(cls, data: Any) -> Any:
        data = _known_keys(
            cls, data, "write [national], [[organisations]], [coverage] and [output] sections"
        )
        orgs = data.get("organisations")
        if isinstance(orgs, str | Mapping):
            data = {**data, "organisations": [orgs]}
        return data


# ---------------------------------------------------------------------------------------------
# one line per error


#: Sections written ``[name]``; ``organisations`` entries are ``[[organisations]] number N``.
_SECTIONS = {"area", "network", "coverage", "thin", "output", "filter", "national"}

_MISSING = {
    ("area",): '[area] needs lad_code, e.g. [area] lad_code = "E08000025" (Birmingham)',
    ("area", "lad_code"): '[area] needs lad_code, e.g. lad_code = "E08000025" (Birmingham)',
    ("organisations",): "give the organisations: at least one [[organisations]] table with a "
    'path, or organisations = "orgs.csv"',
    ("name",): 'give the scenario a name, e.g. name = "Warm spaces"',
}


def _key_name(part: Any) -> str:
    return part if isinstance(part, str) and re.fullmatch(r"\w+", part) else repr(part)


def keypath(loc: Sequence[Any]) -> str:
    """The key named by a pydantic error location: ``[coverage] speed_kmh``,
    ``[[organisations]] number 2 keep_outside_m``, ``name``; ``the top level`` for ``()``."""
    parts = [p for p in loc if not (isinstance(p, str) and "[" in p)]  # validator tags
    if not parts:
        return "the top level"
    head, rest = parts[0], list(parts[1:])
    if head == "organisations" and rest and isinstance(rest[0], int):
        text, rest = f"[[organisations]] number {rest[0] + 1}", rest[1:]
    elif head in _SECTIONS:
        text = f"[{head}]"
    else:
        text = _key_name(head)
    for j, p in enumerate(rest):
        text += f"[{p}]" if isinstance(p, int) else (" " if j == 0 else ".") + _key_name(p)
    return text


def _unknown_keys(where: str, ctx: Mapping[str, Any]) -> str:
    unknown = [str(k) if isinstance(k, str) else k for k in ctx["unknown"]]
    allowed = [str(a) for a in ctx["allowed"]]
    near = [
        (k, m[0])
        for k in unknown
        if isinstance(k, str)
        for m in [difflib.get_close_matches(k, allowed, n=1, cutoff=0.6)]
        if m
    ][:3]
    place = (
        "at the top level (an unknown section or setting)"
        if where == "the top level"
        else f"in {where}"
    )
    if len(unknown) == 1 and near:
        did = f" (did you mean {near[0][1]!r}?)"
    else:
        did = f" (did you mean {', '.join(f'{m!r} for {k!r}' for k, m in near)}?)" if near else ""
    note = f" {ctx['note']}" if ctx.get("note") else ""
    keys = [_show(k) for k in sorted(unknown, key=repr)]
    listed = ", ".join(keys[:5]) + (f", ... ({len(keys) - 5} more)" if len(keys) > 5 else "")
    return f"unknown key(s) [{listed}] {place}{did}; allowed: {', '.join(allowed)}{note}"


def _join(where: str, loc: Sequence[Any], message: str) -> str:
    """``[coverage] speed_kmh`` + ``speed_kmh='fast' is ...`` -> one phrase."""
    last = loc[-1] if loc else None
    if isinstance(last, str) and re.match(rf"{re.escape(last)}( ?=| is )", message):
        parent = keypath(loc[:-1])
        return message if parent == "the top level" else f"{parent} {message}"
    if not loc:
        return message
    if re.match(r"\w+ ?=", message):
        return f"{where} {message}"
    return f"{where}: {message}"


def _value_message(loc: Sequence[Any], error: Mapping[str, Any]) -> str:
    ctx = error.get("ctx") or {}
    exc = ctx.get("error")
    text = str(exc) if exc is not None else str(error.get("msg", ""))
    return _join(keypath(loc), loc, text.removeprefix("Value error, "))


def describe(error: Mapping[str, Any]) -> str:
    """One pydantic error as a sentence naming the key, the value given and the fix."""
    loc = tuple(error.get("loc", ()))
    kind = error.get("type")
    where = keypath(loc)
    value = error.get("input")
    ctx = error.get("ctx") or {}
    if kind == "missing":
        clean = tuple(p for p in loc if not (isinstance(p, str) and "[" in p))
        if clean in _MISSING:
            return _MISSING[clean]
        if len(clean) == 3 and clean[0] == "organisations" and clean[2] == "path":
            return (
                f"{keypath(clean[:2])} has no path: entry {clean[1] + 1} needs a path, "
                'e.g. path = "orgs.csv"'
            )
        return f"{where} is missing"
    if kind == "unknown_keys":
        return _unknown_keys(where, ctx)
    if kind == "not_a_table":
        if where == "the top level":
            return (
                f"the top level is {_kind(value)}, not a table of settings; write key = value "
                "settings and [sections] (see docs/configuration.md)"
            )
        return (
            f"{where} must be a table of settings, not {_kind(value)} {_show(value)}; "
            f"{ctx.get('hint', '')}"
        )
    if kind == "no_organisations":
        return _MISSING[("organisations",)]
    if kind == "not_entries":
        return (
            f"organisations must be a path or a list of [[organisations]] tables, not "
            f"{_kind(value)} {_show(value)}"
        )
    if kind == "value_error":
        return _value_message(loc, error)
    return f"{where}={_show(value)}: {error.get('msg', kind)}"


def _one_line(where: str, errors: Sequence[Mapping[str, Any]]) -> str:
    first = describe(errors[0])
    others = list(dict.fromkeys(keypath(e.get("loc", ())) for e in errors[1:]))
    more = ""
    if others:
        shown = ", ".join(others[:4]) + (", ..." if len(others) > 4 else "")
        more = f" (and {len(errors) - 1} more problem(s): {shown})"
    return " ".join(f"{where}: {first}{more}".split())


# ---------------------------------------------------------------------------------------------
# reading and validating


def _decode(data: bytes, where: str) -> str:
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise ValidationError(
            f"{where}: the file is not UTF-8 text but UTF-16 (it starts with "
            "a UTF-16 byte-order mark); save the file as UTF-8"
        )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        col = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        bad = data[exc.start : exc.start + 1].hex()
        raise ValidationError(
            f"{where}: the file is not UTF-8 text: byte 0x{bad} at position "
            f"{exc.start} (line {line}, column {col}) is not valid UTF-8; "
            "save the file as UTF-8 (e.g. 'Save as... UTF-8' in your editor)"
        ) from None


class _UniqueKeyLoader(yaml.SafeLoader):  # type: ignore[misc]  # no stubs for PyYAML
    """PyYAML's safe loader (YAML 1.1), refusing a key given twice in one mapping."""

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=deep)
            try:
                repeated = key in seen
                seen.add(key)
            except TypeError:  # an unhashable (complex) key: PyYAML refuses it itself
                continue
            if repeated:
                raise yaml.constructor.ConstructorError(
                    None, None, f"key {key!r} is given twice", key_node.start_mark
                )
        return super().construct_mapping(node, deep=deep)


def _parse(text: str, syntax: str, where: str) -> Any:
    try:
        if syntax == "YAML":
            return yaml.load(text, Loader=_UniqueKeyLoader)  # a SafeLoader: no Python objects
        return tomllib.loads(text)
    except Exception as exc:  # noqa: BLE001 - tomllib and PyYAML errors are reported alike
        detail = " ".join(str(exc).split())
        raise ValidationError(
            f"{where}: cannot parse the configuration ({syntax}): {detail}; "
            f"fix the {syntax} syntax at that place"
        ) from None


def read_config_file(path: str | os.PathLike[str], *, what: str = "config") -> tuple[Any, str]:
    """Read a TOML or YAML file as plain values; returns ``(values, "TOML" or "YAML")``.

    ``what`` names the file in messages (``"config"``, ``"scenario"``). Refuses a missing
    file, a folder, an unreadable file, another suffix, a file that is not UTF-8 (naming the
    byte) and a syntax error (naming the line).
    """
    p = Path(path)
    if p.is_dir():
        raise ValidationError(f"{what} file {p} is a folder; give the .toml or .yaml file in it")
    if not p.exists():
        raise ValidationError(f"{what} file {p} does not exist; check the path")
    syntax = _SUFFIXES.get(p.suffix.lower())
    if syntax is None:
        raise ValidationError(
            f"{what} file {p}: use a .toml, .yaml or .yml file (the suffix says how to read it)"
        )
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise ValidationError(
            f"{what} file {p} cannot be read ({exc.strerror or exc}); check its permissions"
        ) from None
    raw = _parse(_decode(data, str(p)), syntax, str(p))
    return ({} if raw is None else raw), syntax


def validate(raw: Any, schema: type[M], *, where: str, yaml: bool = False) -> M:
    """``raw`` checked against ``schema`` (:class:`RunFile` or :class:`ScenarioFile`).

    Raises
    ------
    ValidationError
        One line: ``where``, the key, the value given and the fix (and how many other
        problems there are, by key).
    """
    try:
        return schema.model_validate(raw, context={"yaml": yaml})
    except SchemaError as exc:
        raise ValidationError(_one_line(where, exc.errors(include_url=False))) from None


def load_document(
    source: str | os.PathLike[str] | Mapping[str, Any], schema: type[M], *, what: str
) -> tuple[M, Path, Path | None]:
    """A file or a dict checked against ``schema``: ``(model, base folder, file or None)``.

    Relative paths in the document are resolved against the base folder: the file's folder,
    or the working folder for a dict.
    """
    if isinstance(source, Mapping):
        return validate(source, schema, where=what), Path.cwd(), None
    p = Path(source)
    raw, syntax = read_config_file(p, what=what)
    return validate(raw, schema, where=str(p), yaml=syntax == "YAML"), p.resolve().parent, p


# ---------------------------------------------------------------------------------------------
# paths and organisation sources


def _expand(value: str, key: str, where: str) -> str:
    try:
        return string.Template(value).substitute(os.environ)
    except KeyError as exc:
        raise ValidationError(
            f"{where}: {key} uses ${{{exc.args[0]}}} but that environment "
            f"variable is not set; set it (e.g. export {exc.args[0]}=...) or "
            "write the path out"
        ) from None
    except ValueError as exc:
        raise ValidationError(
            f"{where}: {key}={_show(value)} has a bad $ placeholder ({exc}); "
            "write ${NAME} for an environment variable and $$ for a dollar "
            "sign"
        ) from None


def resolve_path(value: str, key: str, base: Path, where: str) -> Path:
    """``value`` with ``${ENV}`` variables expanded, relative to ``base``; ``key`` and
    ``where`` name it in messages."""
    p = Path(_expand(value, key, where)).expanduser()
    return p if p.is_absolute() else (base / p).resolve()


@dataclass(frozen=True)
class OrganisationSource:
    """One organisations file of a run or a scenario."""

    path: Path
    label: str
    type: str | None = None  # fills the type where the file has none
    type_col: str | None = None
    options: dict[str, Any] = field(default_factory=dict)  # extra read_organisations arguments
    columns: tuple[str, ...] | None = None  # names of a file without a header row
    keep: dict[str, tuple[str, ...]] = field(default_factory=dict)  # column -> values kept
    area_postcodes_only: bool = False  # read only the rows whose postcode is the district's

    @property
    def prepared(self) -> bool:
        """True when the list is prepared before reading (see :mod:`cnmap.org_lists`)."""
        return self.columns is not None or bool(self.keep) or self.area_postcodes_only


def organisation_sources(
    entries: Sequence[OrganisationEntry], *, base: Path, where: str
) -> tuple[OrganisationSource, ...]:
    """The ``[[organisations]]`` entries as sources: paths resolved, label defaulting to the
    file name without suffix."""
    out = []
    for i, e in enumerate(entries, start=1):
        p = resolve_path(e.path, f"[[organisations]] number {i} path", base, where)
        out.append(
            OrganisationSource(
                path=p,
                label=e.label if e.label is not None else p.stem,
                type=e.type,
                type_col=e.type_col,
                options=e.read_options(),
                columns=e.columns,
                keep=dict(e.keep or {}),
                area_postcodes_only=e.area_postcodes_only,
            )
        )
    return tuple(out)
