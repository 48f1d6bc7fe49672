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
_LINE = r"^[^\x00-\x1f\x7f\ud800-\udfff]*$"
_TEXT = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]*$"

Id = Annotated[int, Meta(ge=1, le=MAX_ID)]
Count = Annotated[int, Meta(ge=0, le=MAX_ID)]  # versions (0: not yet held), scores, counts


def Line(max_length: int) -> Any:
    return Annotated[str, Meta(max_length=max_length, pattern=_LINE)]


def Text(max_length: int = MAX_TEXT) -> Any:
    return Annotated[str, Meta(max_length=max_length, pattern=_TEXT)]


def OneOf(choices: Iterable[str], refusal: str | None = None) -> Any:
    """An enumeration from the module's own list of choices, so the two cannot drift apart;
    ``refusal`` is what to tell someone who sent anything else."""
    return Annotated[Literal[tuple(choices)], Meta(description=refusal)]


def ListOf(max_length: int, item: Any) -> Any:
    return Annotated[list[item], Meta(max_length=max_length)]


Key = Line(64)  # an agency key (models.AgencyKey)
Category = Line(120)


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


def explain(message: str, root: Any = None, key: str | None = None) -> str:
    """A validation message of the input ``root`` at ``key`` as people read it: a character
    pattern means nothing to them, and a refused choice lists the choices."""
    if "matching regex" in message:
        return "contains a character that is not allowed here (a control character)"
    if message.startswith("Invalid enum value") and root is not None and key:
        kind, metas = _field_type(root, key)
        refusal = next((m.description for m in metas if m.description), None)
        if typing.get_origin(kind) is Literal:
            return refusal or "must be one of " + ", ".join(typing.get_args(kind))
    return message
