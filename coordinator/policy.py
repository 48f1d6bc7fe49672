"""Who may do what: every rule of access in one place.

Services call the ``require_*`` functions to refuse; view models call the ``may_*`` functions
to set the ``can_*`` flags that templates read. Nothing else decides who may see or change
anything (the consent gate, ``coordinator.gate``, decides which *information items* an agency
sees; this module decides everything around them).

Two scopes:
- a case: its agencies and those who coordinate may see it; to anyone else it does not exist
  (404, so a case's existence is not revealed);
- a conference: its invited participants may see it once they accept the confidentiality
  statement; within it, a case on the agenda is shown in full only to an audience whose agency
  is on that case, or to the chair's audience.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Protocol

from coordinator.errors import CaseClosed, Conflict, Forbidden, NotFound


@dataclass(frozen=True)
class Actor:
    """Who is doing something: enough to decide and to audit it without loading the user."""

    id: int | None
    agency: str | None
    role: str = "system"
    name: str = "system"


SYSTEM = Actor(id=None, agency=None)

USER_ROLES = ("member", "coordinator", "supervisor", "admin")
COORDINATING_ROLES = ("coordinator", "supervisor", "admin")
APPROVER_ROLE = "supervisor"

PARTICIPANT_ROLES = ("chair", "coordinator", "minute_taker", "representative", "advocate", "observer")
CHAIRING_ROLES = ("chair", "coordinator")  # run the meeting; held only by people who coordinate
NOTE_TAKING_ROLES = ("chair", "coordinator", "minute_taker")


class StatementNeeded(Forbidden):
    """The participant has not yet accepted the confidentiality statement."""


# --- users -----------------------------------------------------------------------------------

def coordinates(actor: Actor) -> bool:
    return actor.role in COORDINATING_ROLES


def require_coordinator(actor: Actor, doing: str) -> None:
    if not coordinates(actor):
        raise Forbidden(f"only a coordinator can {doing}")


# --- accounts ----------------------------------------------------------------------------------
# Administrators manage every account; where the deployment allows it (a setting, passed in as
# ``coordinators_manage``), a coordinator manages her own agency's members and coordinators. Nobody
# changes their own rights, and nobody gives a role above what they may manage themselves.

ADMIN_ROLE = "admin"
ROLES_COORDINATORS_GIVE = ("member", "coordinator")


def may_manage_users(actor: Actor, coordinators_manage: bool) -> bool:
    """Open the administration of accounts (``/admin/users``)."""
    return actor.role == ADMIN_ROLE or (coordinators_manage and actor.role == "coordinator" and actor.agency is not None)


def require_user_manager(actor: Actor, coordinators_manage: bool) -> None:
    if not may_manage_users(actor, coordinators_manage):
        raise Forbidden("only an administrator can manage accounts")


def may_see_account(actor: Actor, role: str, agency: str | None, coordinators_manage: bool) -> bool:
    """Whose account appears on her administration page: every one for an administrator; her own
    agency's members and coordinators for a coordinator who manages accounts."""
    if actor.role == ADMIN_ROLE:
        return True
    return may_manage_users(actor, coordinators_manage) and agency == actor.agency and role in ROLES_COORDINATORS_GIVE


def may_change_account(actor: Actor, user_id: int, role: str, agency: str | None, coordinators_manage: bool) -> bool:
    """Change someone's role, agency or whether they may log in, issue her a set-password link or
    reset her second factor: anyone whose account the actor sees, except herself."""
    return actor.id != user_id and may_see_account(actor, role, agency, coordinators_manage)


def require_account_changer(actor: Actor, user_id: int, role: str, agency: str | None, coordinators_manage: bool) -> None:
    if actor.id == user_id:
        raise Forbidden("nobody changes their own role, agency or access: ask another administrator")
    if not may_see_account(actor, role, agency, coordinators_manage):
        raise NotFound(f"no user {user_id}")


def may_grant(actor: Actor, role: str, agency: str | None, coordinators_manage: bool) -> bool:
    """Give an account this role and agency: an administrator any; a coordinator who manages
    accounts, member or coordinator in her own agency (never more than she holds)."""
    if actor.role == ADMIN_ROLE:
        return True
    return may_manage_users(actor, coordinators_manage) and agency == actor.agency and role in ROLES_COORDINATORS_GIVE


def require_grant(actor: Actor, role: str, agency: str | None, coordinators_manage: bool) -> None:
    if not may_grant(actor, role, agency, coordinators_manage):
        raise Forbidden("you can give only the member or coordinator role, in your own agency", field="role")


def may_sign_on_through(account_agency: str | None, provider_agency: str) -> bool:
    """Log an account in through an agency's identity provider: that agency's staff only (never an
    administrator, who belongs to no agency, nor another agency's staff)."""
    return account_agency == provider_agency


def second_factor_required(role: str, required_for: Collection[str]) -> bool:
    """Whether someone of this role must use a second factor (the deployment's list of roles)."""
    return role in required_for


def may_reset_second_factor(actor: Actor, user_id: int) -> bool:
    """Remove someone's second factor (a lost phone): an administrator, never her own."""
    return actor.role == ADMIN_ROLE and actor.id != user_id


def require_second_factor_resetter(actor: Actor, user_id: int) -> None:
    if actor.id == user_id and actor.role == ADMIN_ROLE:
        raise Forbidden("nobody resets their own second factor: ask another administrator")
    if not may_reset_second_factor(actor, user_id):
        raise Forbidden("only an administrator can reset a second factor")


def may_see_deliveries(actor: Actor) -> bool:
    """The notifications that could not be delivered, and the outbox's state: administrators."""
    return actor.role == ADMIN_ROLE


def require_delivery_reader(actor: Actor) -> None:
    if not may_see_deliveries(actor):
        raise Forbidden("only an administrator can see how notifications are delivered")


def may_manage_token(actor: Actor, owner_id: int) -> bool:
    """See and revoke an API token: its owner, or an administrator."""
    return actor.id == owner_id or actor.role == ADMIN_ROLE
def may_search(actor: Actor) -> bool:
    """Coordinators and the agencies' members search for earlier cases (what they are shown of a
    match is decided per case by ``may_see_case``)."""
    return coordinates(actor) or actor.agency is not None


def may_transfer(actor: Actor) -> bool:
    """Send a case to another MARAC, or take one in: the coordinators (MARAC-to-MARAC practice)."""
    return coordinates(actor)


def require_transferrer(actor: Actor) -> None:
    if not may_transfer(actor):
        require_coordinator(actor, "transfer a case to or from another MARAC")


def require_searcher(actor: Actor) -> None:
    if not may_search(actor):
        raise Forbidden("only a coordinator or a member of an agency can search")


# --- cases -----------------------------------------------------------------------------------

TEAM_KINDS = ("threat_assessment",)  # cases worked by a team of agencies from the first report


def may_open_case(actor: Actor, kind: str, team: Collection[str]) -> bool:
    """A coordinator opens any case from a referral. A threat-assessment case is opened by any member of
    its team, the agencies the report names (the person who takes the report names their own agency among
    them): a school's team cannot wait for a coordinator before it screens a report."""
    return coordinates(actor) or (kind in TEAM_KINDS and on_case(actor.agency, team))


def may_open_kind(actor: Actor, kind: str) -> bool:
    """The kinds of case the new-case form offers: every kind to a coordinator, a team's kinds to anyone
    of an agency (who names their own agency among the team's)."""
    return coordinates(actor) or (kind in TEAM_KINDS and actor.agency is not None)


def may_take_reports(actor: Actor) -> bool:
    """The new-case form: a coordinator, or anyone of an agency (a threat-assessment team's member)."""
    return coordinates(actor) or actor.agency is not None


def require_report_taker(actor: Actor) -> None:
    if not may_take_reports(actor):
        require_coordinator(actor, "create a case")


def require_case_opener(actor: Actor, kind: str, team: Collection[str]) -> None:
    if may_open_case(actor, kind, team):
        return
    if kind in TEAM_KINDS and actor.agency is not None:
        raise Forbidden("a threat-assessment case is opened by a member of its team: name your own agency among "
                        "the team's agencies")
    require_coordinator(actor, "create a case")


class CaseState(Protocol):
    """Enough of a case to say whether it is open (a loaded case, or its reference and closing date)."""

    reference: str
    closed_at: object


class CaseLike(CaseState, Protocol):
    id: int
    created_by_id: int
    lead_agency: str | None


def is_open(case: CaseState) -> bool:
    """A closed case is read-only: every rule that changes a case asks this first."""
    return case.closed_at is None


def closed_case(case: CaseState) -> CaseClosed:
    return CaseClosed(f"this case is closed: case {case.reference} was closed on {case.closed_at.date().isoformat()} "
                      "and is read-only (a coordinator can reopen it)")


def require_open(case: CaseState) -> None:
    if not is_open(case):
        raise closed_case(case)


def on_case(agency: str | None, case_agencies: Collection[str]) -> bool:
    """Whether an agency is part of a case."""
    return agency is not None and agency in case_agencies


def may_see_case(actor: Actor, case_agencies: Collection[str]) -> bool:
    """The case summary, people, key dates, tasks: its agencies and those who coordinate."""
    return coordinates(actor) or on_case(actor.agency, case_agencies)


def agency_system(agency: str) -> Actor:
    """An agency's own system, receiving the agency's notifications: a member of it, nothing more."""
    return Actor(id=None, agency=agency, role="member", name=f"{agency} system")


def may_be_notified(recipient: Actor, case_agencies: Collection[str]) -> bool:
    """A notification about a case (its reference and a link) reaches only someone who may see the
    case when it is sent (``agency_system`` for an agency's endpoint)."""
    return may_see_case(recipient, case_agencies)


def require_case_visible(actor: Actor, case_agencies: Collection[str], what: str) -> None:
    """404 (``what`` names the thing asked for), before any other check, for anything on a
    case the actor may not see: its existence is not revealed."""
    if not may_see_case(actor, case_agencies):
        raise NotFound(f"no {what}")


def require_on_case(actor: Actor, case_agencies: Collection[str], reference: str, doing: str) -> None:
    if not on_case(actor.agency, case_agencies):
        raise Forbidden(f"only an agency that is part of case {reference} can {doing}")


def is_case_worker(actor: Actor, case: CaseLike) -> bool:
    """Who acts for the survivor on a case: a coordinating role, the person who referred the
    case, or a member of its lead agency."""
    return (coordinates(actor) or actor.id == case.created_by_id
            or (case.lead_agency is not None and actor.agency == case.lead_agency))


def require_case_worker(actor: Actor, case: CaseLike, doing: str) -> None:
    if not is_case_worker(actor, case):
        raise Forbidden(f"only the survivor's case worker (a coordinator or the lead agency) can {doing}")


def may_work_case(actor: Actor, case: CaseLike) -> bool:
    """Edit, reassess and move an open case, request its closure, refer her and send referrals:
    her case worker."""
    return is_open(case) and is_case_worker(actor, case)


def require_case_work(actor: Actor, case: CaseLike, doing: str) -> None:
    if may_work_case(actor, case):
        return
    require_open(case)
    require_case_worker(actor, case, doing)


def may_reopen(actor: Actor, case: CaseState) -> bool:
    """A closed case is reopened by a coordinator."""
    return not is_open(case) and coordinates(actor)


def require_reopener(actor: Actor, case: CaseState) -> None:
    if may_reopen(actor, case):
        return
    require_coordinator(actor, "reopen a case")
    raise Conflict(f"case {case.reference} is open: there is nothing to reopen")


def may_coordinate_case(actor: Actor, case: CaseState) -> bool:
    """What only a coordinator does to an open case: add an agency to it, give an agency an extra
    task, change the role map between meetings."""
    return is_open(case) and coordinates(actor)


def require_case_coordinator(actor: Actor, case: CaseState, doing: str) -> None:
    if may_coordinate_case(actor, case):
        return
    require_open(case)
    require_coordinator(actor, doing)


def may_change_role_map(actor: Actor, case: CaseState) -> bool:
    """Between meetings only a coordinator changes the role map of an open case (the lead agency included)."""
    return may_coordinate_case(actor, case)


def require_role_map_changer(actor: Actor, case: CaseState) -> None:
    if may_change_role_map(actor, case):
        return
    require_open(case)
    raise Forbidden("between meetings only a coordinator changes the role map")


def may_see_disclosures(actor: Actor, case: CaseLike) -> bool:
    """A supervisor or coordinator, or the survivor's case worker (who answers the survivor's question)."""
    return is_case_worker(actor, case)


def may_see_closed_case_information(actor: Actor) -> bool:
    """Closing a case stops disclosure to other agencies; supervisors still see what the
    consents and overrides then in force allow (owners always see their own)."""
    return actor.role == APPROVER_ROLE


def require_supervisor(actor: Actor, doing: str) -> None:
    if actor.role != APPROVER_ROLE:
        raise Forbidden(f"only a supervisor can {doing}")


def closure_decided_by_team_lead(requested_by_id: int, team_lead_id: int | None) -> bool:
    """On a threat-assessment case with a team lead, the lead decides a closure someone else requested; the
    lead's own request, and every closure of a case without a team lead, goes to a supervisor."""
    return team_lead_id is not None and team_lead_id != requested_by_id


def may_decide_closure(actor: Actor, requested_by_id: int, team_lead_id: int | None = None) -> bool:
    """A closure is decided by the team's lead (see ``closure_decided_by_team_lead``), else by a supervisor;
    never by the person who requested it."""
    if closure_decided_by_team_lead(requested_by_id, team_lead_id):
        return actor.id == team_lead_id
    return actor.role == APPROVER_ROLE and actor.id != requested_by_id


def require_closure_decider(actor: Actor, requested_by_id: int, team_lead_id: int | None = None) -> None:
    if may_decide_closure(actor, requested_by_id, team_lead_id):
        return
    if closure_decided_by_team_lead(requested_by_id, team_lead_id):
        raise Forbidden("the closure of a threat-assessment case is decided by the team's lead")
    require_supervisor(actor, "approve or refuse a closure")
    raise Forbidden("a closure is decided by a supervisor other than the person who requested it")


def may_open_consent_register(actor: Actor, recorded_by_agencies: Collection[str]) -> bool:
    """A closed case's consent records: supervisors, and the agencies that recorded them."""
    return actor.role == APPROVER_ROLE or (actor.agency is not None and actor.agency in recorded_by_agencies)


def may_see_plugin_failures(actor: Actor) -> bool:
    """Failures of agency plugins on a case: those who coordinate follow them up."""
    return coordinates(actor)


def may_change_task(actor: Actor, case: CaseState, task_agency: str) -> bool:
    """Only the owning agency, or someone who coordinates, changes a task (or adds one for the
    agency), on an open case."""
    return is_open(case) and (actor.agency == task_agency or coordinates(actor))


def require_task_change(actor: Actor, case: CaseState, task_agency: str, agency_name: str) -> None:
    if may_change_task(actor, case, task_agency):
        return
    require_open(case)
    raise Forbidden(f"only {agency_name} or a coordinator can change this task")


def may_sign_off(actor: Actor, case: CaseState, agency: str) -> bool:
    """Sign off an agency's open tasks on an open case (all done, or all not applicable) before its
    closure: the agency's own people only, not a coordinator on its behalf."""
    return is_open(case) and actor.agency is not None and actor.agency == agency


def require_sign_off(actor: Actor, case: CaseState, agency: str, agency_name: str) -> None:
    if may_sign_off(actor, case, agency):
        return
    require_open(case)
    raise Forbidden(f"only {agency_name}'s own people sign off its tasks")


def may_give_task(actor: Actor, case: CaseState) -> bool:
    """An extra task given by hand to an agency on an open case, beyond its own list: a coordinator.
    (A conference's actions, a plan's items and a follow-up's tasks have their own rules.)"""
    return may_coordinate_case(actor, case)


def require_task_giver(actor: Actor, case: CaseState) -> None:
    if may_give_task(actor, case):
        return
    require_open(case)
    raise Forbidden("only a coordinator can assign a task to an agency")


def may_keep_plan(actor: Actor, case: CaseState, plan_agencies: Collection[str]) -> bool:
    """Say why a threat-assessment plan keeps a separation without containment or support: the
    agencies that deliver the plan's items, or someone who coordinates, on an open case."""
    return is_open(case) and (coordinates(actor) or (actor.agency is not None and actor.agency in plan_agencies))


def require_plan_keeper(actor: Actor, case: CaseState, plan_agencies: Collection[str]) -> None:
    if may_keep_plan(actor, case, plan_agencies):
        return
    require_open(case)
    raise Forbidden("only an agency that delivers an item of the plan, or a coordinator, says why the plan is kept")


def may_set_monitoring(actor: Actor, case: CaseState) -> bool:
    """A threat-assessment case's monitoring status: a coordinator, on an open case."""
    return is_open(case) and coordinates(actor)


def require_monitoring_setter(actor: Actor, case: CaseState, doing: str) -> None:
    if may_set_monitoring(actor, case):
        return
    require_open(case)
    require_coordinator(actor, doing)


def may_screen(actor: Actor, case: CaseState, case_agencies: Collection[str]) -> bool:
    """Classify a threat-assessment case (screen it, re-classify it): its team, the agencies on it, or
    someone who coordinates, on an open case."""
    return is_open(case) and (coordinates(actor) or on_case(actor.agency, case_agencies))


def require_screener(actor: Actor, case: CaseState, case_agencies: Collection[str]) -> None:
    if may_screen(actor, case, case_agencies):
        return
    require_open(case)
    require_on_case(actor, case_agencies, case.reference, "classify it")


TEAM_ROLES = ("lead", "case_manager", "member")  # a threat-assessment team's roles, each held by a person


def may_assign_team_role(actor: Actor, case: CaseState, role: str, team_lead_id: int | None) -> bool:
    """Name someone the team's lead, its case manager or a member, or end a role, on an open case: a
    coordinator; the team's lead names and ends the other roles (a new lead is named by a coordinator)."""
    return is_open(case) and (coordinates(actor) or (role != "lead" and actor.id is not None
                                                     and actor.id == team_lead_id))


def require_team_role_assigner(actor: Actor, case: CaseState, role: str, team_lead_id: int | None) -> None:
    if may_assign_team_role(actor, case, role, team_lead_id):
        return
    require_open(case)
    if role == "lead":
        require_coordinator(actor, "name or replace a team's lead")
    raise Forbidden("only a coordinator or the team's lead names the team's case manager and members")


def classification_awaits_lead(actor: Actor, team_lead_id: int | None) -> bool:
    """A classification recorded by anyone but the team's lead waits for the lead's approval; the lead's own,
    and any on a team without a lead yet (the screening cannot wait for one to be named), stands at once."""
    return team_lead_id is not None and actor.id != team_lead_id


def may_decide_classification(actor: Actor, case: CaseState, team_lead_id: int | None, recorded_by_id: int) -> bool:
    """Approve or refuse a classification awaiting approval: the team's lead, on an open case, and never one she
    recorded herself (the lead she was when she recorded it is the lead whose approval it waits for)."""
    return (is_open(case) and team_lead_id is not None and actor.id == team_lead_id
            and actor.id != recorded_by_id)


def require_classification_decider(actor: Actor, case: CaseState, team_lead_id: int | None,
                                   recorded_by_id: int) -> None:
    if may_decide_classification(actor, case, team_lead_id, recorded_by_id):
        return
    require_open(case)
    if actor.id is not None and actor.id == recorded_by_id:
        raise Forbidden("nobody approves their own classification: the team's lead decides it")
    raise Forbidden("only the team's lead approves or refuses a classification")


def may_keep_team_basis(actor: Actor, case: CaseState) -> bool:
    """Record or remove a threat-assessment team's basis for sharing within the team: a supervisor, who
    is its approver, on an open case."""
    return is_open(case) and actor.role == APPROVER_ROLE


def require_team_basis_keeper(actor: Actor, case: CaseState) -> None:
    if may_keep_team_basis(actor, case):
        return
    require_open(case)
    require_supervisor(actor, "record or remove a team's basis for sharing")


def may_share_within_team(viewer_agency: str | None, case_kind: str, case_agencies: Collection[str]) -> bool:
    """A team's recorded basis shows the case's information to the team's members only: the agencies on a
    threat-assessment case. Anyone else sees what consent and overrides allow, as on any case."""
    return case_kind in TEAM_KINDS and on_case(viewer_agency, case_agencies)


# --- tasks done through a referral or a consent ---------------------------------------------------
NEEDED = {"referral": "a referral of hers sent to the service (on her consent)", "consent": "a consent of hers in force"}


def require_fulfilment(title: str, needs: str, fulfilled_by: str | None) -> str:
    """A task done through a referral or a consent of hers (``needs``) is done only once one exists:
    ``fulfilled_by`` is the one found ("referral:<id>", "consent:<id>"), recorded with the task."""
    if fulfilled_by is None:
        raise Conflict(f"“{title}” is done through {NEEDED[needs]}, and the case has none yet: "
                       f"make the {needs} first, then set the task done", field="status")
    return fulfilled_by


# --- an agency joining a case ------------------------------------------------------------------
# An agency joins a case only on a ground recorded with it: her consent covering that agency (her
# choice comes first), else an approved override naming it, else, on a threat-assessment case, the
# team's recorded basis. Grounds are "consent:<id>", "override:<id>", "team:<id>" (coordinator.gate
# finds those in force); joining by the referral form or an accepted referral records its own.
JOIN_GROUND_ORDER = ("consent", "override", "team")


def join_ground(case_kind: str, grounds: Collection[str]) -> str | None:
    """The ground an agency joins the case on, of those in force for it; None: it may not join."""
    for kind in JOIN_GROUND_ORDER:
        if kind == "team" and case_kind not in TEAM_KINDS:
            continue
        found = [ground for ground in grounds if ground.split(":", 1)[0] == kind]
        if found:
            return found[0]
    return None


def missing_join_ground(agency_name: str, case_kind: str) -> str:
    """Why an agency may not join a case, and what would let it."""
    team = ", and the team has no recorded basis for sharing" if case_kind in TEAM_KINDS else ""
    return (f"no consent of hers covers {agency_name} and no approved override in force names it{team}: "
            f"record her consent to share with {agency_name}, or request an override, before adding it")


def require_join_ground(agency_name: str, case_kind: str, reference: str, grounds: Collection[str],
                        field: str = "agency") -> str:
    ground = join_ground(case_kind, grounds)
    if ground is None:
        raise Conflict(f"{agency_name} cannot join case {reference}: {missing_join_ground(agency_name, case_kind)}",
                       field=field)
    return ground


def may_log_contact(actor: Actor, case: CaseState, case_agencies: Collection[str]) -> bool:
    """The contact log of a threat-assessment case: the agencies on it, on an open case."""
    return is_open(case) and on_case(actor.agency, case_agencies)


def require_contact_logger(actor: Actor, case: CaseState, case_agencies: Collection[str]) -> None:
    if may_log_contact(actor, case, case_agencies):
        return
    require_open(case)
    require_on_case(actor, case_agencies, case.reference, "log a contact on it")


def may_record_mandatory_report(actor: Actor, case: CaseLike, case_agencies: Collection[str]) -> bool:
    """A report made under a duty to report: her case worker, or a member of an agency on the case
    (each reports under its own duties), on an open case."""
    return is_open(case) and (is_case_worker(actor, case) or on_case(actor.agency, case_agencies))


def require_mandatory_reporter(actor: Actor, case: CaseLike, case_agencies: Collection[str]) -> None:
    if may_record_mandatory_report(actor, case, case_agencies):
        return
    require_open(case)
    raise Forbidden("only her case worker or an agency on the case records a report made under a duty")


def require_override_decider(actor: Actor, requested_by_id: int) -> None:
    if actor.role != APPROVER_ROLE:
        raise Forbidden("only a supervisor can approve or refuse an override")
    if actor.id == requested_by_id:
        raise Forbidden("an override needs a supervisor other than the person who requested it")


def require_survivor_notice_recorder(actor: Actor, case: CaseLike, requested_by_id: int) -> None:
    if not (actor.id == requested_by_id or actor.role == APPROVER_ROLE or is_case_worker(actor, case)):
        raise Forbidden("only the requester, a supervisor or the case worker records whether the survivor was told")


def may_write_safety_plan(actor: Actor, case: CaseState, holder: str | None) -> bool:
    """The safety plan of an open case: the agency holding safety planning in the role map, or
    someone who coordinates (writing on that agency's behalf); nobody while no agency holds it."""
    return is_open(case) and holder is not None and (coordinates(actor) or actor.agency == holder)


def require_safety_plan_writer(actor: Actor, case: CaseState, holder: str, holder_name: str) -> None:
    if may_write_safety_plan(actor, case, holder):
        return
    require_open(case)
    raise Forbidden(f"only {holder_name} (holding safety planning) or a coordinator can change the safety plan")


def may_record_views(actor: Actor, case: CaseState, holder: str | None, holder_person_id: int | None) -> bool:
    """Her views and wishes on an open case: only whoever holds victim contact, who heard them from
    her (the named person, else anyone of the holding agency); no coordinator writes them for her,
    and nobody while nobody holds victim contact."""
    if not is_open(case) or holder is None or actor.agency != holder:
        return False
    return holder_person_id is None or actor.id == holder_person_id


def require_views_recorder(actor: Actor, case: CaseState, holder: str, holder_person_id: int | None,
                           holder_name: str) -> None:
    if may_record_views(actor, case, holder, holder_person_id):
        return
    require_open(case)
    who = "the person of " + holder_name if holder_person_id is not None else holder_name
    raise Forbidden(f"only {who} (holding victim contact) records her views and wishes")


def may_follow_up_for(actor: Actor, case: CaseState, agency: str) -> bool:
    """Plan a follow-up contact for an agency, or record its outcome, on an open case: that
    agency, or someone who coordinates."""
    return is_open(case) and (actor.agency == agency or coordinates(actor))


def require_follow_up_for(actor: Actor, case: CaseState, agency: str, agency_name: str, doing: str) -> None:
    if may_follow_up_for(actor, case, agency):
        return
    require_open(case)
    raise Forbidden(f"only {agency_name} or a coordinator can {doing}")


def may_see_referral(actor: Actor, case_agencies: Collection[str], to_agency: str | None, status: str) -> bool:
    """A referral: whoever sees its case, and the agency it is sent to once sent (that agency sees
    the referral alone, never the case, until it accepts and joins)."""
    return may_see_case(actor, case_agencies) or (
        status != "draft" and to_agency is not None and actor.agency == to_agency)


def may_decide_referral(actor: Actor, case: CaseLike, to_agency: str | None) -> bool:
    """Accept or decline, on an open case: the agency it is sent to; for a service outside the
    system, the case worker records the service's answer."""
    if not is_open(case):
        return False
    if to_agency is not None:
        return actor.agency == to_agency
    return is_case_worker(actor, case)


def require_referral_decider(actor: Actor, case: CaseLike, to_agency: str | None, agency_name: str) -> None:
    if not may_decide_referral(actor, case, to_agency):
        require_open(case)
        raise Forbidden(f"only {agency_name} accepts or declines a referral to it" if to_agency is not None else
                        "only the survivor's case worker records a service's answer to a referral")


def may_complete_referral(actor: Actor, case: CaseLike, to_agency: str | None) -> bool:
    """Record the outcome, on an open case: the agency it was sent to, or the case worker."""
    return is_open(case) and ((to_agency is not None and actor.agency == to_agency) or is_case_worker(actor, case))


def require_referral_completer(actor: Actor, case: CaseLike, to_agency: str | None, agency_name: str) -> None:
    if not may_complete_referral(actor, case, to_agency):
        require_open(case)
        raise Forbidden(f"only {agency_name if to_agency else 'the service'} or the survivor's case worker "
                        "records the outcome of a referral")


def may_note_referral(actor: Actor, case: CaseLike, to_agency: str | None, case_agencies: Collection[str]) -> bool:
    """Notes on accompanying and advocating for her, on an open case: the case worker, and the
    agency it was sent to once it is on the case."""
    return is_open(case) and (is_case_worker(actor, case)
                              or (actor.agency == to_agency and on_case(actor.agency, case_agencies)))


def require_referral_note_writer(actor: Actor, case: CaseLike, to_agency: str | None,
                                 case_agencies: Collection[str]) -> None:
    if not may_note_referral(actor, case, to_agency, case_agencies):
        require_open(case)
        raise Forbidden("only the survivor's case worker, or the agency that took the referral, adds notes to it")


def may_keep_directory(actor: Actor) -> bool:
    """The service directory's own entries: administrators (the agencies' entries come from their plugins)."""
    return actor.role == "admin"


def require_directory_keeper(actor: Actor, doing: str) -> None:
    if not may_keep_directory(actor):
        raise Forbidden(f"only an administrator can {doing}")


SURVEY_ROLES = ("member", "coordinator", "supervisor")  # people who work cases: a supervisor or another caseworker


def may_administer_survey(actor: Actor, case: CaseState, close_to_her: Collection[int]) -> bool:
    """The feedback survey (GBV step 6), once the case is closed: a supervisor or another caseworker,
    never anyone who worked with her on the case (``close_to_her``: her caseworker, victim contact,
    follow-ups, referrals, the closure request), so that she can answer freely."""
    return (not is_open(case) and actor.role in SURVEY_ROLES and actor.id is not None
            and actor.id not in close_to_her)


def require_survey_administrator(actor: Actor, case: CaseState, close_to_her: Collection[int]) -> None:
    if may_administer_survey(actor, case, close_to_her):
        return
    if is_open(case):
        raise Conflict(f"case {case.reference} is open: the feedback survey is given after the case closes")
    if actor.role in SURVEY_ROLES and actor.id in close_to_her:
        raise Forbidden("you worked with the survivor on this case (as her caseworker or contact, on her follow-ups, "
                        "a referral or the closure request): the feedback survey is given by a supervisor or another "
                        "caseworker, so that she can answer freely")
    raise Forbidden("only a supervisor or another caseworker administers the feedback survey")


def may_see_feedback_report(actor: Actor) -> bool:
    """The survey's aggregate report: supervisors and coordinators."""
    return actor.role in ("coordinator", APPROVER_ROLE)


def require_feedback_reader(actor: Actor) -> None:
    if not may_see_feedback_report(actor):
        raise Forbidden("only a supervisor or a coordinator reads the feedback survey's report")


# --- conferences ---------------------------------------------------------------------------------

class ParticipantLike(Protocol):
    agency: str | None
    role: str
    statement_accepted_at: object | None


def may_hold_participant_role(actor: Actor, role: str) -> bool:
    """Running a meeting is for people who coordinate; any other role is open to anyone."""
    return role not in CHAIRING_ROLES or coordinates(actor)


def may_chair_conference(chair: Actor) -> bool:
    """The chair named when a conference is scheduled: someone who coordinates."""
    return may_hold_participant_role(chair, "chair")


def require_invited(participant: ParticipantLike | None, conference_id: int) -> ParticipantLike:
    """Someone not invited is told the conference does not exist (as for a case)."""
    if participant is None:
        raise NotFound(f"no conference {conference_id}")
    return participant


def require_admitted(participant: ParticipantLike | None, conference_id: int) -> ParticipantLike:
    """Invited, and has accepted the confidentiality statement: nothing is shown before that."""
    participant = require_invited(participant, conference_id)
    if participant.statement_accepted_at is None:
        raise StatementNeeded("accept the confidentiality statement before you join the conference")
    return participant


def may_organise(actor: Actor, participant: ParticipantLike | None) -> bool:
    """Invite people, reorder the agenda: the chair or any coordinator."""
    return coordinates(actor) or (participant is not None and participant.role in CHAIRING_ROLES)


def require_organiser(actor: Actor, participant: ParticipantLike | None, doing: str) -> None:
    if not may_organise(actor, participant):
        raise Forbidden(f"only the chair or a coordinator can {doing}")


def may_remove_participants(actor: Actor, participant: ParticipantLike | None) -> bool:
    """Take someone off a conference: whoever may organise it (the chair or a coordinator)."""
    return may_organise(actor, participant)


def require_participant_remover(actor: Actor, participant: ParticipantLike | None) -> None:
    if not may_remove_participants(actor, participant):
        raise Forbidden("only the chair or a coordinator can remove someone from the conference")


def may_be_removed(participant: ParticipantLike) -> bool:
    """The chair runs the meeting and cannot be removed from it (choose another chair first)."""
    return participant.role != "chair"


def require_removable(participant: ParticipantLike) -> None:
    if not may_be_removed(participant):
        raise Conflict("the chair cannot be removed from the conference")


def may_remove_in_meeting(audience: Audience, participant: ParticipantLike) -> bool:
    """The live page offers "Remove" to the chairing audience, for anyone but the chair; a
    coordinator who is not chairing may still remove people through the API."""
    return audience.chairs and may_be_removed(participant)


def may_chair(participant: ParticipantLike) -> bool:
    return participant.role in CHAIRING_ROLES


def require_chair(participant: ParticipantLike, doing: str) -> None:
    if not may_chair(participant):
        raise Forbidden(f"only the chair can {doing}")


def may_take_notes(participant: ParticipantLike) -> bool:
    return participant.role in NOTE_TAKING_ROLES


def require_note_taker(participant: ParticipantLike) -> None:
    if not may_take_notes(participant):
        raise Forbidden("only the chair or the minute-taker can record decisions and notes")


def require_minutes_reader(actor: Actor, participant: ParticipantLike | None, conference_id: int) -> None:
    """Participants who accepted the statement, and those who coordinate (oversight)."""
    if coordinates(actor):
        return
    require_admitted(participant, conference_id)


# --- before the meeting: the circulated agenda and the agencies' research ---------------------

def may_research_for(actor: Actor, invited_agencies: Collection[str]) -> bool:
    """An agency with someone invited to a conference researches its agenda: any of its members."""
    return actor.agency is not None and actor.agency in invited_agencies


def require_agenda_reader(actor: Actor, participant: ParticipantLike | None, invited_agencies: Collection[str],
                          conference_id: int) -> None:
    """The circulated agenda: the invited agencies' members and the organisers; to anyone else the
    conference does not exist."""
    if not (may_organise(actor, participant) or may_research_for(actor, invited_agencies)):
        raise NotFound(f"no conference {conference_id}")


def may_read_agenda_before_circulation(actor: Actor, participant: ParticipantLike | None) -> bool:
    """Until the chair circulates it, the agenda is the organisers' working copy."""
    return may_organise(actor, participant)


def require_research_on(actor: Actor, invited_agencies: Collection[str], case_agencies: Collection[str],
                        case_id: int) -> None:
    """Research of a case is its agencies' own: for an agency not on it, there is no such research
    (404, as for the case itself)."""
    if not (may_research_for(actor, invited_agencies) and on_case(actor.agency, case_agencies)):
        raise NotFound(f"no research of case {case_id} for your agency in this conference")


def may_see_readiness(actor: Actor, participant: ParticipantLike | None) -> bool:
    """Who has returned what, per case and agency: the chair and those who coordinate."""
    return may_organise(actor, participant)


def require_readiness_reader(actor: Actor, participant: ParticipantLike | None) -> None:
    if not may_see_readiness(actor, participant):
        raise Forbidden("only the chair or a coordinator can see the agencies' readiness")


def may_read_not_shared(actor: Actor, agency: str) -> bool:
    """The "not shared because" ledger: the agency's own entries, and every agency's for supervisors."""
    return actor.agency == agency or actor.role == APPROVER_ROLE


@dataclass(frozen=True)
class Audience:
    """Who a conference fragment is rendered for: an agency and a conference role class, never a
    person, so renders per change = the distinct audiences present."""

    agency: str | None
    role: str  # "chair", "minute_taker" or "member"

    @classmethod
    def of(cls, participant: ParticipantLike) -> Audience:
        if participant.role in CHAIRING_ROLES:
            return cls(participant.agency, "chair")
        if participant.role in NOTE_TAKING_ROLES:
            return cls(participant.agency, "minute_taker")
        return cls(participant.agency, "member")

    @classmethod
    def of_reader(cls, actor: Actor, participant: ParticipantLike | None) -> Audience:
        """The minutes' reader: a participant as in the meeting; a coordinator as the chair."""
        if participant is not None:
            return cls.of(participant)
        return cls(actor.agency, "chair" if coordinates(actor) else "member")

    @property
    def chairs(self) -> bool:
        return self.role == "chair"

    @property
    def takes_notes(self) -> bool:
        return self.role in ("chair", "minute_taker")


def may_see_agenda_case(audience: Audience, case_agencies: Collection[str]) -> bool:
    """A case on the agenda is shown in full to its agencies and to the chair; any other
    audience sees only its agenda line."""
    return audience.chairs or on_case(audience.agency, case_agencies)


def require_agenda_case_visible(audience: Audience, case_agencies: Collection[str], reference: str) -> None:
    if not may_see_agenda_case(audience, case_agencies):
        raise Forbidden(f"your agency is not part of case {reference}: ask the chair to add it")


def may_see_readiness_in_meeting(audience: Audience) -> bool:
    """The live agenda shows each agency's research beside its case to the chairing audience only."""
    return audience.chairs


def may_act_for(audience: Audience, agency: str | None) -> bool:
    """Change or confirm an action, add one: for one's own agency, or any agency as the chair."""
    return audience.chairs or (agency is not None and audience.agency == agency)


def require_act_for(audience: Audience, agency: str, agency_name: str, doing: str) -> None:
    if not may_act_for(audience, agency):
        raise Forbidden(f"only {agency_name} or the chair can {doing}")


def may_volunteer(audience: Audience, able: Collection[str]) -> bool:
    """Offer one's own agency for a responsibility it can take."""
    return audience.agency is not None and audience.agency in able


@dataclass(frozen=True)
class Permissions:
    """The rules above as flags for one actor, for page templates (``can.change_task(task)``):
    templates ask, they never re-derive a rule."""

    actor: Actor

    @property
    def coordinate(self) -> bool:
        return coordinates(self.actor)

    @property
    def take_reports(self) -> bool:
        return may_take_reports(self.actor)
    def search(self) -> bool:
        return may_search(self.actor)

    @property
    def transfer(self) -> bool:
        return may_transfer(self.actor)

    @property
    def see_plugin_failures(self) -> bool:
        return may_see_plugin_failures(self.actor)

    def change_task(self, task: object, case: CaseState) -> bool:
        return may_change_task(self.actor, case, task.agency)

    def coordinate_case(self, case: CaseState) -> bool:
        """Add an agency, give an extra task: a coordinator, on an open case."""
        return may_coordinate_case(self.actor, case)

    def sign_off(self, case: CaseState, agency: str) -> bool:
        return may_sign_off(self.actor, case, agency)

    def record_on(self, case: object) -> bool:
        return is_open(case) and on_case(self.actor.agency, [link.agency for link in case.agencies])

    def correct(self, item: object) -> bool:
        """Only the owning agency corrects, and only the newest version."""
        return item.agency == self.actor.agency and not item.superseded

    def decide_override(self, override: object) -> bool:
        return self.actor.role == APPROVER_ROLE and self.actor.id != override.requested_by_id

    def record_survivor_notice(self, override: object, case: CaseLike) -> bool:
        return (self.actor.id == override.requested_by_id or self.actor.role == APPROVER_ROLE
                or is_case_worker(self.actor, case))

    def edit_case(self, case: CaseLike) -> bool:
        """Edit, reassess and move the case: its case worker (a coordinator or the lead agency)."""
        return may_work_case(self.actor, case)

    @property
    def decide_overrides(self) -> bool:
        """Supervisors decide overrides (never their own request: checked per override)."""
        return self.actor.role == APPROVER_ROLE

    def decide_closure(self, closure: object, team_lead_id: int | None = None) -> bool:
        """The team's lead on a threat-assessment case, else a supervisor; never the person who requested it."""
        return may_decide_closure(self.actor, closure.requested_by_id, team_lead_id)

    def reopen(self, case: CaseLike) -> bool:
        return may_reopen(self.actor, case)

    def change_role_map(self, case: CaseLike) -> bool:
        return may_change_role_map(self.actor, case)

    def record_mandatory_report(self, case: object) -> bool:
        return may_record_mandatory_report(self.actor, case, [link.agency for link in case.agencies])

    def refer(self, case: CaseLike) -> bool:
        """Refer the survivor to a service: her case worker, on an open case."""
        return may_work_case(self.actor, case)

    def decide_referral(self, referral: object, case: CaseLike) -> bool:
        return referral.status == "sent" and may_decide_referral(self.actor, case, referral.to_agency)

    def complete_referral(self, referral: object, case: CaseLike) -> bool:
        return referral.status == "accepted" and may_complete_referral(self.actor, case, referral.to_agency)

    def note_referral(self, referral: object, case: object) -> bool:
        return may_note_referral(self.actor, case, referral.to_agency, [link.agency for link in case.agencies])

    @property
    def keep_directory(self) -> bool:
        return may_keep_directory(self.actor)

    def administer_survey(self, case: CaseLike, close_to_her: Collection[int]) -> bool:
        return may_administer_survey(self.actor, case, close_to_her)

    @property
    def see_feedback_report(self) -> bool:
        return may_see_feedback_report(self.actor)
