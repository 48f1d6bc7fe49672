"""The strategy catalogue is the threat-assessment exhibit, every strategy and sub-strategy word for
word with its domain, made of what the installed agencies contribute (the core names none)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from coordinator.hookspecs import PRECIPITATING_EVENTS, Strategy
from coordinator.lifecycle import strategies
from coordinator.plugins import PluginError, load_agencies

ROOT = Path(__file__).resolve().parents[2]
EXHIBIT = ROOT / "docs/reference/threat-assessment-case-management-strategies.txt"
HEADINGS = {
    "Subject-Based Case Management Strategies": "subject",
    "Target-Based Case Management Strategies": "target",
    "Environmental/System Case Management Strategies": "environment",
    "Monitoring for the Impact of Precipitating Events on Case Management": "precipitating_events",
}
NUMBERED, LETTERED = re.compile(r"^\d+\.\s+(.*)$"), re.compile(r"^[a-z]\.\s+(.*)$")


def exhibit_strategies() -> dict[tuple[str, str], list[str]]:
    """(domain, strategy) -> its sub-strategies, read from the exhibit: each heading's first numbered list
    (a line in lower case continues the one before; prose ends the list, and any later list under the same
    heading is about something else)."""
    text = EXHIBIT.read_text(encoding="utf-8").split("-" * 20, 1)[1].split("\n", 1)[1]
    found: list[tuple[str, list[str]]] = []  # (domain, [title, *details])
    domain, state = None, "before"
    for raw in text.splitlines():
        line = " ".join(raw.split())
        if line in HEADINGS:
            domain, state = HEADINGS[line], "before"
            continue
        if not line or domain is None or state == "after":
            continue
        numbered, lettered = NUMBERED.match(line), LETTERED.match(line)
        if numbered:
            found.append((domain, [numbered.group(1)]))
            state = "list"
        elif lettered and state == "list":
            found[-1][1].append(lettered.group(1))
        elif state == "list" and not line[0].isupper():
            found[-1][1][-1] += " " + line
        elif state == "list":
            state = "after"
    return {(d, re.sub(r"(,? such as| to)?:$", "", parts[0])): parts[1:] for d, parts in found}


def catalogued(catalogue: strategies.Catalogue) -> dict[tuple[str, str], list[str]]:
    """The catalogue as the exhibit lists it: one strategy per title, with all its details."""
    merged: dict[tuple[str, str], list[str]] = {}
    for entry in catalogue.entries.values():
        merged.setdefault((entry.domain, entry.title), []).extend(d.text for d in entry.details)
    return merged


def test_the_exhibit_is_read_as_it_is_numbered():
    exhibit = exhibit_strategies()
    counts = {domain: [len(details) for (d, _), details in exhibit.items() if d == domain]
              for domain in HEADINGS.values()}
    assert counts == {"subject": [6, 0, 9, 3, 8], "target": [4, 0, 0, 0, 0, 0], "environment": [0] * 7,
                      "precipitating_events": [0] * 6}
    assert exhibit["subject", "Maintain channel of communication and engagement (with subject)"][-1] == (
        "Monitor reactions to grievances, interventions, and precipitating events")


def test_the_catalogue_holds_every_strategy_of_the_exhibit_word_for_word():
    """The installed agencies (the three built-ins and education, from its own package) between them
    deliver the whole exhibit, and nothing the exhibit does not name."""
    catalogue = strategies.catalogue(load_agencies())
    got, expected = catalogued(catalogue), exhibit_strategies()
    assert set(got) == set(expected)
    for strategy, details in expected.items():
        assert sorted(got[strategy]) == sorted(details), strategy  # each once: no form offered twice


def test_the_core_names_no_strategy_of_its_own():
    """Only the precipitating events' names, which the core declares as the kinds of event it records."""
    literals = {node.value.strip() for path in (ROOT / "coordinator").rglob("*.py")
                for node in ast.walk(ast.parse(path.read_text())) if isinstance(node, ast.Constant)
                and isinstance(node.value, str)}
    events = set(PRECIPITATING_EVENTS.values())
    named = [text for (_, title), details in exhibit_strategies().items() for text in (title, *details)
             if text in literals and text not in events]
    assert named == []


def test_two_agencies_declaring_one_strategy_differently_stop_the_catalogue_naming_the_agency():
    school = Strategy("subject.discipline.separation", "subject", "Disciplinary measures", "separation",
                      ("Suspension",))
    for rogue, differs in ((Strategy(school.key, "subject", school.title, "containment"), "kind"),
                           (Strategy(school.key, "target", school.title, "separation"), "domain"),
                           (Strategy(school.key, "subject", "Discipline", "separation"), "title")):
        with pytest.raises(PluginError) as failure:
            strategies.build({"education": [school], "probation": [rogue]})
        assert (failure.value.plugin, failure.value.hook) == ("probation", "agency_strategies")
        assert differs in str(failure.value) and "'education'" in str(failure.value)


def test_one_strategy_delivered_by_several_agencies_is_shown_once_with_who_offers_each_form():
    catalogue = strategies.catalogue(load_agencies())
    counseling = catalogue["subject.counseling"]
    assert sorted(counseling.agencies) == ["education", "health"]
    assert {d.text: d.agencies for d in counseling.details} == {
        "Check-in/check-out with school counseling staff": ["education"],
        "Outpatient counseling/mental health care": ["health"],
        "Emergency psychiatric evaluation": ["health"]}
    assert counseling.delivered_by("health", "Emergency psychiatric evaluation")
    assert not counseling.delivered_by("education", "Emergency psychiatric evaluation")
    whole = strategies.build({"health": [Strategy("s.x", "subject", "X", "support", ("a",))],
                              "probation": [Strategy("s.x", "subject", "X", "support")]})["s.x"]
    assert whole.delivered_by("probation", "a")  # declared without details: the whole strategy


def test_a_separation_needs_containment_or_support_of_the_subject_beside_it():
    catalogue = strategies.catalogue(load_agencies())
    separation, order = catalogue["subject.discipline.separation"], catalogue["subject.discipline.containment"]
    referral, target_support = catalogue["subject.referral"], catalogue["target.support_systems"]
    assert strategies.separation_uncoupled([separation])
    assert strategies.separation_uncoupled([separation, target_support])  # the target's support does not contain him
    assert not strategies.separation_uncoupled([separation, order])
    assert not strategies.separation_uncoupled([separation, referral])
    assert not strategies.separation_uncoupled([order, referral])
