"""Names and dates of birth as people type them: how a name sounds (Metaphone, per part), how alike
two names are (Jaro-Winkler, parts in any order), and the dates a typing slip away from a date."""

from __future__ import annotations

import datetime as dt
import re

import jellyfish

LIKE_ENOUGH = 0.85  # Jaro-Winkler: "Smyth"/"Smith" 0.89, "Nora"/"Norah" 0.96, "Nora"/"Mark" 0.5
NAME_PART = re.compile(r"[^\W\d_]+(?:['’-][^\W\d_]+)*")


def name_parts(name: str) -> list[str]:
    """The parts of a name worth comparing, lower case: initials alone say too little, and a word
    with digits in it is an identifier, not a name."""
    return [part.lower() for word in re.split(r"[\s,;/]+", name) if not any(ch.isdigit() for ch in word)
            for part in NAME_PART.findall(word) if len(part) > 1]


def sound_keys(name: str) -> set[str]:
    return {key[:40] for key in (jellyfish.metaphone(part) for part in name_parts(name)) if key}


def likeness(wanted: list[str], held: list[str]) -> float:
    """How well each wanted part is matched by some held part, on average (order ignored)."""
    if not wanted or not held:
        return 0.0
    return sum(max(jellyfish.jaro_winkler_similarity(w, h) for h in held) for w in wanted) / len(wanted)


def mutual_likeness(one: list[str], other: list[str]) -> float:
    """``likeness`` both ways round, the lower of the two: each pair of parts compared once."""
    if not one or not other:
        return 0.0
    alike = [[jellyfish.jaro_winkler_similarity(a, b) for b in other] for a in one]
    return min(sum(max(row) for row in alike) / len(one), sum(max(column) for column in zip(*alike)) / len(other))


def slips_of(day: dt.date) -> set[dt.date]:
    """The dates a typing slip away from ``day``: one digit changed, two neighbours swapped, day and
    month swapped (the date itself excluded)."""
    digits = day.strftime("%Y%m%d")
    spellings = {digits[:i] + d + digits[i + 1:] for i in range(8) for d in "0123456789"}
    spellings |= {digits[:i] + digits[i + 1] + digits[i] + digits[i + 2:] for i in range(7)}
    spellings.add(digits[:4] + digits[6:8] + digits[4:6])
    found = set()
    for spelling in spellings:
        try:
            found.add(dt.date(int(spelling[:4]), int(spelling[4:6]), int(spelling[6:])))
        except ValueError:
            continue
    return found - {day}
