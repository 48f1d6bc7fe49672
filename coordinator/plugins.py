"""Build the plugin manager from the ``coordinator.agencies`` entry points and validate it.

The registry is built once at start-up by a factory (never at import) and passed in. A broken
plugin stops start-up with a message naming the plugin and the hook. At run time a failing
plugin never blocks a user's change: it is logged here and skipped, and a restriction that fails
withholds.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points
from typing import Any

import pluggy

from coordinator import hookspecs
from coordinator.hookspecs import (
    STRATEGY_DOMAINS,
    STRATEGY_KINDS,
    TASK_DOMAINS,
    TASK_NEEDS,
    AgencyIdentity,
    CaseFacts,
    InformationCategory,
    Responsibility,
    ServiceEntry,
    SharedDuty,
    Strategy,
    TaskTemplate,
)

ENTRY_POINT_GROUP = "coordinator.agencies"
_KEY = re.compile(r"^[a-z][a-z0-9_]{1,40}$")
# Responsibilities of the core, which any agency on the case may hold. The lead agency is one
# record, the role map's: everything that asks "who leads" reads it there.
CORE_RESPONSIBILITIES = (Responsibility("lead_agency", "Lead agency"),)
# Information the core itself keeps on every case, owned by the agency that writes it and shared
# through the consent gate like any agency's category (a survivor consents to them by name).
CORE_CATEGORIES = {c.key: c for c in (
    InformationCategory("case.safety_plan", "Safety plan", "high"),
    InformationCategory("case.views_and_wishes", "Her views and wishes", "high"),
    InformationCategory("case.follow_up", "Follow-up contact notes", "high"),
    InformationCategory("case.contact_log", "Contact log (subject and target)", "high"),
    # The referral form's parts (coordinator.lifecycle.referral_form), held by the referring agency.
    InformationCategory("case.referral_contact", "Referral: safe contact, language and access needs", "high"),
    InformationCategory("case.referral_risk", "Referral: risk checklist answers, whom she fears, concerns", "high"),
    InformationCategory("case.referral_children", "Referral: children and their schools", "high"),
    InformationCategory("case.referral_perpetrator", "Referral: the perpetrator's details", "high"),
)}
log = logging.getLogger(__name__)


class PluginError(RuntimeError):
    """A plugin broke its contract; the message names the plugin and the hook."""

    def __init__(self, plugin: str, hook: str, problem: str) -> None:
        super().__init__(f"agency plugin {plugin!r}, hook {hook}: {problem}")
        self.plugin = plugin
        self.hook = hook

    @property
    def error(self) -> str:
        """The class of the exception the plugin raised (PluginError when it returned something
        its hook does not allow): a name, never the plugin's own message, so it can be audited."""
        return type(self.__cause__ or self).__name__


@dataclass
class Agency:
    key: str
    name: str
    plugin: Any
    categories: dict[str, InformationCategory] = field(default_factory=dict)
    responsibilities: list[Responsibility] = field(default_factory=list)
    shared_duties: list[SharedDuty] = field(default_factory=list)
    strategies: list[Strategy] = field(default_factory=list)
    services: list[ServiceEntry] = field(default_factory=list)
    routes: list = field(default_factory=list)
    template_dir: str | None = None


class AgencyRegistry:
    """The installed agencies and the one way the core calls into them."""

    def __init__(self, pm: pluggy.PluginManager, agencies: dict[str, Agency]) -> None:
        self.pm = pm
        self._agencies = agencies

    # -- declarations ----------------------------------------------------------------------
    @property
    def keys(self) -> list[str]:
        return list(self._agencies)

    def __contains__(self, key: object) -> bool:
        return key in self._agencies

    def __iter__(self):
        return iter(self._agencies.values())

    def get(self, key: str) -> Agency:
        return self._agencies[key]

    def name(self, key: str | None) -> str:
        if key is None:
            return "—"
        agency = self._agencies.get(key)
        return agency.name if agency else f"{key} (not installed)"

    def category(self, key: str) -> InformationCategory | None:
        if key in CORE_CATEGORIES:
            return CORE_CATEGORIES[key]
        owner = key.split(".", 1)[0]
        agency = self._agencies.get(owner)
        return agency.categories.get(key) if agency else None

    @property
    def responsibilities(self) -> list[Responsibility]:
        seen: dict[str, Responsibility] = {r.key: r for r in CORE_RESPONSIBILITIES}
        for agency in self._agencies.values():
            for responsibility in agency.responsibilities:
                seen.setdefault(responsibility.key, responsibility)
        return list(seen.values())

    def can_take(self, agency_key: str, responsibility: str) -> bool:
        agency = self._agencies.get(agency_key)
        if agency is None:
            return False
        return any(r.key == responsibility for r in (*CORE_RESPONSIBILITIES, *agency.responsibilities))

    def shared_duty(self, key: str) -> SharedDuty:
        for agency in self._agencies.values():
            for duty in agency.shared_duties:
                if duty.key == key:
                    return duty
        raise KeyError(key)

    def duty_fallback(self, key: str) -> str | None:
        """The agency that holds the shared duty while nobody holds its responsibility."""
        return next((a.key for a in self._agencies.values() for d in a.shared_duties if d.key == key and d.fallback),
                    None)

    def duty_carriers(self, key: str) -> list[str]:
        """The agencies whose task lists carry the shared duty."""
        return [a.key for a in self._agencies.values() if any(d.key == key for d in a.shared_duties)]

    # -- calls at run time -------------------------------------------------------------------
    def task_list(self, agency_key: str, case: CaseFacts) -> list[TaskTemplate]:
        result = _call_one(self.pm, self.get(agency_key), "agency_task_list", case=case)
        return self._checked_tasks(agency_key, "agency_task_list", result)

    def _checked_tasks(self, plugin: str, hook: str, result: Any) -> list[TaskTemplate]:
        tasks = _check_tasks(plugin, hook, result)
        declared = {d.key for d in self.get(plugin).shared_duties}
        for task in tasks:
            if task.duty is not None and task.duty not in declared:
                raise PluginError(plugin, hook, f"task {task.title!r} names the shared duty {task.duty!r}, "
                                                "which agency_shared_duties does not declare")
        return tasks

    def reactions(self, agency_keys: Iterable[str], hook: str, /, **arguments: Any
                  ) -> tuple[dict[str, list[TaskTemplate]], list[PluginError]]:
        """Each agency's follow-up tasks for the case event ``hook`` (a ``case_*`` hook), and the
        plugins that failed to answer.

        The event reports a change already made: a failing plugin is logged and skipped (the
        caller records it) so that it can neither undo the change nor silence the others.
        """
        reactions: dict[str, list[TaskTemplate]] = {}
        failures: list[PluginError] = []
        for key in agency_keys:
            try:
                result = _call_one(self.pm, self.get(key), hook, **arguments)
                reactions[key] = self._checked_tasks(key, hook, result or [])
            except PluginError as failure:
                _log_failure(failure, "its reaction was skipped")
                failures.append(failure)
        return reactions, failures

    def restrictions(self, category: str, viewer_agency: str) -> list[str]:
        """Every reason any plugin gives to withhold ``category`` from ``viewer_agency``.

        Each plugin is asked on its own, so one that fails is named in the log and withholds
        (when in doubt, do not disclose) without hiding the other plugins' reasons.
        """
        reasons: list[str] = []
        for agency in self._agencies.values():
            try:
                reason = _call_one(self.pm, agency, "agency_restrict_disclosure",
                                   category=category, viewer_agency=viewer_agency)
            except PluginError as failure:
                _log_failure(failure, "the item was withheld")
                reason = f"the restriction check of {agency.name} failed"
            if reason:
                reasons.append(str(reason))
        return reasons


def _log_failure(failure: PluginError, consequence: str) -> None:
    log.error("%s; %s", failure, consequence, exc_info=failure)


def _call_one(pm: pluggy.PluginManager, agency: Agency, hook_name: str, /, **kwargs: Any) -> Any:
    """Call one hook on one agency's plugin alone; None if it does not implement it."""
    others = [p for p in pm.get_plugins() if p is not agency.plugin]
    caller = pm.subset_hook_caller(hook_name, remove_plugins=others)
    try:
        results = caller(**kwargs)
    except Exception as exc:
        raise PluginError(agency.key, hook_name, f"raised {exc.__class__.__name__}: {exc}") from exc
    return results[0] if results else None


def _check_tasks(plugin: str, hook: str, result: Any) -> list[TaskTemplate]:
    if not isinstance(result, list | tuple) or not all(isinstance(t, TaskTemplate) for t in result):
        raise PluginError(plugin, hook, "must return a list of TaskTemplate")
    for task in result:
        if task.domain not in TASK_DOMAINS:
            raise PluginError(plugin, hook, f"task {task.title!r} has unknown domain {task.domain!r}")
        if task.needs is not None and task.needs not in TASK_NEEDS:
            raise PluginError(plugin, hook, f"task {task.title!r} needs {task.needs!r}: a task needs one of "
                                            f"{', '.join(TASK_NEEDS)}")
    return list(result)


def _expect_list(plugin: str, hook: str, result: Any, kind: type) -> list:
    if result is None:
        return []
    if not isinstance(result, list | tuple) or not all(isinstance(x, kind) for x in result):
        raise PluginError(plugin, hook, f"must return a list of {kind.__name__}")
    return list(result)


def _register(pm: pluggy.PluginManager, name: str, module: Any) -> Agency:
    pm.register(module, name=name)
    probe = Agency(key=name, name=name, plugin=module)
    identity = _call_one(pm, probe, "agency_identity")
    if not isinstance(identity, AgencyIdentity):
        raise PluginError(name, "agency_identity", "is required and must return an AgencyIdentity")
    if identity.key != name:
        raise PluginError(name, "agency_identity", f"key {identity.key!r} differs from the entry point name")
    if not _KEY.match(name):
        raise PluginError(name, "agency_identity", "key must be lower-case letters, digits and _")
    if any(key.startswith(f"{name}.") for key in CORE_CATEGORIES):
        raise PluginError(name, "agency_identity", f"key {name!r} is reserved for the core's own categories")
    agency = Agency(key=name, name=identity.name, plugin=module)

    categories = _expect_list(name, "agency_information_categories",
                              _call_one(pm, agency, "agency_information_categories"), InformationCategory)
    for category in categories:
        if not category.key.startswith(f"{name}."):
            raise PluginError(name, "agency_information_categories", f"category {category.key!r} must start with '{name}.'")
        if category.sensitivity not in ("normal", "high"):
            raise PluginError(name, "agency_information_categories", f"category {category.key!r}: sensitivity must be normal or high")
    agency.categories = {c.key: c for c in categories}
    agency.responsibilities = _expect_list(
        name, "agency_responsibilities", _call_one(pm, agency, "agency_responsibilities"), Responsibility)
    agency.shared_duties = _expect_list(
        name, "agency_shared_duties", _call_one(pm, agency, "agency_shared_duties"), SharedDuty)
    agency.strategies = _expect_list(name, "agency_strategies", _call_one(pm, agency, "agency_strategies"), Strategy)
    for strategy in agency.strategies:
        if strategy.domain not in STRATEGY_DOMAINS or strategy.kind not in STRATEGY_KINDS:
            raise PluginError(name, "agency_strategies", f"strategy {strategy.key!r}: domain must be one of "
                              f"{', '.join(STRATEGY_DOMAINS)} and kind one of {', '.join(STRATEGY_KINDS)}")
    agency.services = _expect_list(name, "agency_services", _call_one(pm, agency, "agency_services"), ServiceEntry)
    agency.routes = _expect_list(name, "agency_routes", _call_one(pm, agency, "agency_routes"), object)
    for handler in agency.routes:
        paths = getattr(handler, "paths", set())
        if not all(p.startswith(f"/{name}/") for p in paths):
            raise PluginError(name, "agency_routes", f"route paths {sorted(paths)} must start with '/{name}/'")
    agency.template_dir = _call_one(pm, agency, "agency_template_dir")
    return agency


def load_agencies(found: Iterable[EntryPoint] | None = None) -> AgencyRegistry:
    """Load every agency plugin from the entry point group (or the entry points given)."""
    pm = pluggy.PluginManager("coordinator")
    pm.add_hookspecs(hookspecs)
    agencies: dict[str, Agency] = {}
    for entry_point in (entry_points(group=ENTRY_POINT_GROUP) if found is None else found):
        try:
            module = entry_point.load()
        except Exception as exc:
            raise PluginError(entry_point.name, "(import)", f"could not be loaded: {exc}") from exc
        if entry_point.name in agencies:
            raise PluginError(entry_point.name, "(entry point)", "is installed twice")
        try:
            agencies[entry_point.name] = _register(pm, entry_point.name, module)
        except pluggy.PluginValidationError as exc:
            raise PluginError(entry_point.name, _hook_named_in(str(exc)), str(exc)) from exc
    _check_shared_duties(agencies)
    try:
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        plugin_name = pm.get_name(exc.plugin) if exc.plugin is not None else "?"
        raise PluginError(plugin_name or "?", _hook_named_in(str(exc)), f"implements a hook that does not exist: {exc}") from exc
    return AgencyRegistry(pm, agencies)


def _check_shared_duties(agencies: dict[str, Agency]) -> None:
    """One shared duty key means one duty: every declaration names the same responsibility, one
    agency at most is its fallback, and some agency (or the core) can hold that responsibility."""
    first: dict[str, tuple[str, SharedDuty]] = {}
    fallback: dict[str, str] = {}
    holdable = {r.key for r in CORE_RESPONSIBILITIES} | {r.key for a in agencies.values() for r in a.responsibilities}
    for agency in agencies.values():
        for duty in agency.shared_duties:
            seen = first.setdefault(duty.key, (agency.key, duty))
            if seen[1].responsibility != duty.responsibility:
                raise PluginError(agency.key, "agency_shared_duties",
                                  f"duty {duty.key!r} is held through {duty.responsibility!r} here but through "
                                  f"{seen[1].responsibility!r} by {seen[0]!r}")
            if duty.fallback and fallback.setdefault(duty.key, agency.key) != agency.key:
                raise PluginError(agency.key, "agency_shared_duties",
                                  f"duty {duty.key!r} already has {fallback[duty.key]!r} as its fallback")
            if duty.responsibility not in holdable:
                raise PluginError(agency.key, "agency_shared_duties",
                                  f"duty {duty.key!r}: no agency can hold the responsibility {duty.responsibility!r}")


def _hook_named_in(message: str) -> str:
    match = re.search(r"hook\s+'?\"?([a-z_]+)", message)
    return match.group(1) if match else "(unknown hook)"
