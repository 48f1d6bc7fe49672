"""What an input field may hold, declared once on the input dataclasses.

The JSON API validates these constraints before a handler runs, and the HTML forms apply the
same ones (``coordinator.web.forms.checked``). They match the database: PostgreSQL's ``Integer``
is int32 and its text refuses NUL, and ``String(n)`` is enforced, so input breaking these would
otherwise fail in the driver as a server error.
"""

from __future__ import annotations

import dataclasses
import re
import types
import typing
from collections.abc import Iterable
from typing import Annotated, Any, Literal, Union

from msgspec import Meta

MAX_ID = 2**31 - 1  # PostgreSQL Integer
MAX_TEXT = 20_000  # the cap on Text columns

# One line: no control characters at all. Text: newlines and tabs are allowed (CR too: browsers
# send a textarea's newlines as CRLF). Lone surrogates cannot be stored as UTF-8 either.
_NOT_IN_LINE = r"\x00-\x1f\x7f\ud800-\udfff"
_NOT_IN_TEXT = r"\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff"


def _only(excluded: str) -> str:
    return rf"^[^{excluded}]*$"


def _written(excluded: str) -> str:
    """The same characters, with one that is not a space somewhere: what the server holds as written."""
    return rf"^[^{excluded}]*[^\s{excluded}][^{excluded}]*$"


Id = Annotated[int, Meta(ge=1, le=MAX_ID)]
# Versions (0: not yet held), scores, counts. One below the largest id: a change writes the version
# it names plus one, which must still fit the column.
Count = Annotated[int, Meta(ge=0, le=MAX_ID - 1)]


def Line(max_length: int) -> Any:
    return Annotated[str, Meta(max_length=max_length, pattern=_only(_NOT_IN_LINE))]


def Text(max_length: int = MAX_TEXT) -> Any:
    return Annotated[str, Meta(max_length=max_length, pattern=_only(_NOT_IN_TEXT))]


def WrittenLine(max_length: int, refusal: str) -> Any:
    """A line that must say something (spaces alone are blank); ``refusal`` is what to tell
    someone who left it blank."""
    return Annotated[str, Meta(max_length=max_length, pattern=_written(_NOT_IN_LINE), description=refusal)]


def Written(max_length: int, refusal: str) -> Any:
    """Text (of lines) that must say something, as ``WrittenLine``."""
    return Annotated[str, Meta(max_length=max_length, pattern=_written(_NOT_IN_TEXT), description=refusal)]


def OneOf(choices: Iterable[str], refusal: str | None = None) -> Any:
    """An enumeration from the module's own list of choices, so the two cannot drift apart;
    ``refusal`` is what to tell someone who sent anything else."""
    return Annotated[Literal[tuple(choices)], Meta(description=refusal)]


def ListOf(max_length: int, item: Any, *, at_least: int = 0, refusal: str | None = None) -> Any:
    return Annotated[list[item], Meta(max_length=max_length, min_length=at_least or None, description=refusal)]


# Choices only the installed agencies know: the OpenAPI document lists them (web/openapi.py reads
# the mark), the handlers refuse anything else with a message naming the field.
INSTALLED = "x-installed"


def Installed(what: str, max_length: int) -> Any:
    return Annotated[str, Meta(max_length=max_length, pattern=_only(_NOT_IN_LINE), extra_json_schema={INSTALLED: what})]


Key = Installed("agencies", 64)  # an agency key (models.AgencyKey)
Category = Installed("categories", 120)
Responsibility = Installed("responsibilities", 60)


def _field_type(root: Any, key: str) -> tuple[Any, list[Meta]]:
    """The declared type at ``key`` ("people[0].role") of ``root``, and its constraints."""
    kind, metas = root, []
    for part in [*re.findall(r"[^.\[\]]+", key), None]:
        while typing.get_origin(kind) in (Annotated, Union, types.UnionType):
            if typing.get_origin(kind) is Annotated:
                metas = [*metas, *(m for m in kind.__metadata__ if isinstance(m, Meta))]
                kind = typing.get_args(kind)[0]
            else:
                kind = next(a for a in typing.get_args(kind) if a is not type(None))
        if part is None:
            break
        metas = []
        if part.isdigit() and typing.get_origin(kind) is list:
            kind = typing.get_args(kind)[0]
        elif dataclasses.is_dataclass(kind):
            kind = typing.get_type_hints(kind, include_extras=True).get(part)
        else:
            return None, []
    return kind, metas


def value_at(sent: Any, key: str | None) -> Any:
    """The value at ``key`` ("people[0].name") of a decoded body, or None where there is none."""
    for part in re.findall(r"[^.\[\]]+", key or ""):
        if isinstance(sent, dict):
            sent = sent.get(part)
        elif isinstance(sent, list) and part.isdigit() and int(part) < len(sent):
            sent = sent[int(part)]
        else:
            return None
    return sent if key else None


_MISSING = re.compile(r"^Object missing required field `([^`]+)`")


def missing_field(message: str, key: str | None) -> str | None:
    """The field a "missing required field" message names, as a key ("people[0].name"): the
    decoder names the object holding it (the body itself is "data")."""
    missing = _MISSING.match(message)
    if missing is None:
        return None
    return missing.group(1) if key in (None, "data") else f"{key}.{missing.group(1)}"


def explain(message: str, root: Any = None, key: str | None = None, sent: Any = None) -> str:
    """A validation message of the input ``root`` at ``key`` (which held ``sent``) as people read
    it: a character pattern means nothing to them, a blank field is told what to write, and a
    refused choice lists the choices."""
    kind, metas = _field_type(root, key) if root is not None and key else (None, [])
    refusal = next((m.description for m in metas if m.description), None)
    if "matching regex" in message:
        blank = isinstance(sent, str) and not sent.strip()
        return refusal if blank and refusal else "contains a character that is not allowed here (a control character)"
    if (message.startswith("Expected `array` of length >=") or message.endswith("got `null`")
            or _MISSING.match(message)) and refusal:
        return refusal
    if message.startswith("Invalid enum value") and typing.get_origin(kind) is Literal:
        return refusal or "must be one of " + ", ".join(typing.get_args(kind))
    return message
