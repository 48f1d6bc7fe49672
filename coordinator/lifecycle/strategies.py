"""The strategy catalogue of threat-assessment cases: the union of what the installed agencies
declare through ``agency_strategies``. The core names no strategy of its own.

Several agencies may deliver one strategy (the same key): their declarations must agree on the
domain, the title and the kind, and the catalogue shows the strategy once, with each of its
details (sub-strategies or purposes) and the agencies that offer each. An agency that declares a
strategy without details offers the whole of it.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field

from coordinator.hookspecs import STRATEGY_DOMAINS, Strategy
from coordinator.plugins import AgencyRegistry, PluginError

HOOK = "agency_strategies"
# The exhibit's words for each domain (001: "S De-escalate, contain, or control the subject ...").
DOMAIN_LABELS = {
    "subject": "De-escalate, contain, or control the subject who may take violent action",
    "target": "Decrease vulnerabilities of the target",
    "environment": "Modify physical and cultural environment and systems to discourage escalation",
    "precipitating_events": "Prepare for and mitigate against precipitating events that may trigger adverse reactions",
}
# What keeps a separation safe (the exhibit: suspension, expulsion or termination "may risk triggering an
# immediate or delayed violent response unless they are coupled with containment and support").
SEPARATION = "separation"
COUPLING_KINDS = ("containment", "support")


@dataclass
class Detail:
    """One sub-strategy or purpose, and the agencies that offer it."""

    text: str
    agencies: list[str] = field(default_factory=list)


@dataclass
class Entry:
    """One strategy of the catalogue, with every agency that delivers it."""

    key: str
    domain: str
    title: str
    kind: str
    agencies: list[str] = field(default_factory=list)
    details: list[Detail] = field(default_factory=list)

    @property
    def letter(self) -> str:
        return STRATEGY_DOMAINS[self.domain]

    def detail(self, text: str) -> Detail | None:
        return next((d for d in self.details if d.text == text), None)

    def delivered_by(self, agency: str, detail: str | None = None) -> bool:
        """Whether ``agency`` delivers the strategy (and, when named, that detail of it). An agency that
        declared the strategy without details delivers all of it."""
        if agency not in self.agencies:
            return False
        if detail is None:
            return True
        found = self.detail(detail)
        return found is not None and agency in self.offering(found)

    def offering(self, detail: Detail) -> list[str]:
        """The agencies that offer ``detail``: those naming it, and those delivering the whole strategy."""
        naming = {a for d in self.details for a in d.agencies}
        return [*detail.agencies, *(a for a in self.agencies if a not in naming)]


class Catalogue:
    """The strategies by key, in the order the agencies declared them, grouped by domain on demand."""

    def __init__(self, entries: dict[str, Entry]) -> None:
        self.entries = entries

    def __contains__(self, key: object) -> bool:
        return key in self.entries

    def __getitem__(self, key: str) -> Entry:
        return self.entries[key]

    def get(self, key: str | None) -> Entry | None:
        return self.entries.get(key) if key else None

    def by_domain(self) -> dict[str, list[Entry]]:
        grouped: dict[str, list[Entry]] = {domain: [] for domain in STRATEGY_DOMAINS}
        for entry in self.entries.values():
            grouped[entry.domain].append(entry)
        return grouped

    def offered_to(self, agencies: list[str]) -> dict[str, list[Entry]]:
        """By domain, the strategies that at least one of ``agencies`` delivers."""
        return {domain: [e for e in entries if any(a in e.agencies for a in agencies)]
                for domain, entries in self.by_domain().items()}


def build(declared: dict[str, list[Strategy]]) -> Catalogue:
    """Merge each agency's declarations (agency key -> its strategies) into one catalogue; a key
    declared twice with another domain, title or kind is the later agency's error."""
    entries: dict[str, Entry] = {}
    first: dict[str, str] = {}
    for agency, strategies in declared.items():
        for strategy in strategies:
            entry = entries.get(strategy.key)
            if entry is None:
                entry = entries[strategy.key] = Entry(strategy.key, strategy.domain, strategy.title.strip(),
                                                      strategy.kind)
                first[strategy.key] = agency
            mine = (strategy.domain, strategy.title.strip(), strategy.kind)
            theirs = (entry.domain, entry.title, entry.kind)
            if mine != theirs:
                differs = [name for name, a, b in zip(("domain", "title", "kind"), mine, theirs, strict=True) if a != b]
                raise PluginError(agency, HOOK, f"strategy {strategy.key!r} differs in {', '.join(differs)} from "
                                                f"{first[strategy.key]!r}'s declaration of it: {theirs!r}")
            if agency in entry.agencies:
                raise PluginError(agency, HOOK, f"strategy {strategy.key!r} is declared twice")
            entry.agencies.append(agency)
            for text in dict.fromkeys(d.strip() for d in strategy.details):
                detail = entry.detail(text)
                if detail is None:
                    detail = Detail(text)
                    entry.details.append(detail)
                detail.agencies.append(agency)
    return Catalogue(entries)


_built: weakref.WeakKeyDictionary[AgencyRegistry, Catalogue] = weakref.WeakKeyDictionary()


def catalogue(registry: AgencyRegistry) -> Catalogue:
    """The installed agencies' catalogue, built once per registry (call it at start-up so that a
    disagreement between two agencies stops the server with a message naming the agency)."""
    if registry not in _built:
        _built[registry] = build({agency.key: agency.strategies for agency in registry})
    return _built[registry]


def separation_uncoupled(entries: list[Entry]) -> bool:
    """A plan holding a separation strategy with no containment or support of the subject beside it."""
    return (any(e.kind == SEPARATION for e in entries)
            and not any(e.kind in COUPLING_KINDS and e.domain == "subject" for e in entries))
