"""The rules that change a case decide "open" themselves: each refuses a closed case to the very
person it lets change the open one, and its ``require_*`` refuses for the same reason (409, the
case is closed) before any other."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from coordinator import policy
from coordinator.errors import CaseClosed, Conflict, Forbidden
from coordinator.policy import Actor

COORDINATOR = Actor(id=1, agency="social_work", role="coordinator", name="Chair")
LEAD = Actor(id=2, agency="social_work", role="member", name="Sam")
POLICE = Actor(id=3, agency="police", role="member", name="Pat")
SUPERVISOR = Actor(id=4, agency="social_work", role="supervisor", name="Boss")
CLOSED_AT = dt.datetime(2026, 11, 2, 10, 0, tzinfo=dt.UTC)


def a_case(*, closed: bool) -> SimpleNamespace:
    return SimpleNamespace(id=7, reference="C-2026-0007", created_by_id=COORDINATOR.id, lead_agency="social_work",
                           closed_at=CLOSED_AT if closed else None,
                           agencies=[SimpleNamespace(agency="social_work"), SimpleNamespace(agency="police")])


# Each rule that changes a case, asked for someone it allows on the open case.
CHANGES = {
    "work the case": lambda case: policy.may_work_case(LEAD, case),
    "change a task": lambda case: policy.may_change_task(POLICE, case, "police"),
    "give a task": lambda case: policy.may_give_task(COORDINATOR, case),
    "coordinate the case (page flag)": lambda case: policy.Permissions(COORDINATOR).coordinate_case(case),
    "change the role map": lambda case: policy.may_change_role_map(COORDINATOR, case),
    "write the safety plan": lambda case: policy.may_write_safety_plan(POLICE, case, "police"),
    "record her views": lambda case: policy.may_record_views(POLICE, case, "police", None),
    "follow up": lambda case: policy.may_follow_up_for(POLICE, case, "police"),
    "decide a referral": lambda case: policy.may_decide_referral(POLICE, case, "police"),
    "complete a referral": lambda case: policy.may_complete_referral(LEAD, case, None),
    "note a referral": lambda case: policy.may_note_referral(LEAD, case, None, ["social_work"]),
    "keep a plan": lambda case: policy.may_keep_plan(POLICE, case, {"police"}),
    "set monitoring": lambda case: policy.may_set_monitoring(COORDINATOR, case),
    "log a contact": lambda case: policy.may_log_contact(POLICE, case, ["police"]),
    "record a mandatory report": lambda case: policy.may_record_mandatory_report(POLICE, case, ["police"]),
    "record a mandatory report (page flag)": lambda case: policy.Permissions(POLICE).record_mandatory_report(case),
    "classify a threat": lambda case: policy.may_screen(POLICE, case, ["police"]),
    "keep the team basis": lambda case: policy.may_keep_team_basis(SUPERVISOR, case),
    "name to the team": lambda case: policy.may_assign_team_role(LEAD, case, "member", LEAD.id),
    "decide a classification": lambda case: policy.may_decide_classification(LEAD, case, LEAD.id, POLICE.id),
    "record on the case": lambda case: policy.Permissions(POLICE).record_on(case),
    "edit (page flag)": lambda case: policy.Permissions(LEAD).edit_case(case),
    "refer (page flag)": lambda case: policy.Permissions(LEAD).refer(case),
    "change a task (page flag)": lambda case: policy.Permissions(POLICE).change_task(
        SimpleNamespace(agency="police"), case),
}

REQUIREMENTS = {
    "work the case": lambda case: policy.require_case_work(LEAD, case, "edit it"),
    "change a task": lambda case: policy.require_task_change(POLICE, case, "police", "Police"),
    "give a task": lambda case: policy.require_task_giver(COORDINATOR, case),
    "add an agency": lambda case: policy.require_case_coordinator(COORDINATOR, case, "add an agency"),
    "change the role map": lambda case: policy.require_role_map_changer(COORDINATOR, case),
    "write the safety plan": lambda case: policy.require_safety_plan_writer(POLICE, case, "police", "Police"),
    "record her views": lambda case: policy.require_views_recorder(POLICE, case, "police", None, "Police"),
    "follow up": lambda case: policy.require_follow_up_for(POLICE, case, "police", "Police", "plan"),
    "record a mandatory report": lambda case: policy.require_mandatory_reporter(POLICE, case, ["police"]),
    "decide a referral": lambda case: policy.require_referral_decider(POLICE, case, "police", "Police"),
    "keep a plan": lambda case: policy.require_plan_keeper(POLICE, case, {"police"}),
    "set monitoring": lambda case: policy.require_monitoring_setter(COORDINATOR, case, "set it"),
    "log a contact": lambda case: policy.require_contact_logger(POLICE, case, ["police"]),
    "classify a threat": lambda case: policy.require_screener(POLICE, case, ["police"]),
    "keep the team basis": lambda case: policy.require_team_basis_keeper(SUPERVISOR, case),
    "name to the team": lambda case: policy.require_team_role_assigner(COORDINATOR, case, "lead", None),
    "decide a classification": lambda case: policy.require_classification_decider(LEAD, case, LEAD.id, POLICE.id),
}


@pytest.mark.parametrize("rule", CHANGES)
def test_a_rule_that_changes_a_case_allows_the_open_case_and_refuses_the_closed_one(rule):
    assert CHANGES[rule](a_case(closed=False)) is True
    assert CHANGES[rule](a_case(closed=True)) is False


@pytest.mark.parametrize("rule", REQUIREMENTS)
def test_each_requirement_refuses_a_closed_case_as_closed(rule):
    REQUIREMENTS[rule](a_case(closed=False))
    with pytest.raises(CaseClosed, match="this case is closed: case C-2026-0007 was closed on 2026-11-02"):
        REQUIREMENTS[rule](a_case(closed=True))


def test_reopening_and_the_survey_are_for_a_closed_case():
    open_case, closed_case = a_case(closed=False), a_case(closed=True)
    assert policy.may_reopen(COORDINATOR, closed_case) and not policy.may_reopen(COORDINATOR, open_case)
    assert not policy.may_reopen(LEAD, closed_case)
    with pytest.raises(Conflict, match="nothing to reopen"):
        policy.require_reopener(COORDINATOR, open_case)
    assert policy.may_administer_survey(SUPERVISOR, closed_case, close_to_her={LEAD.id})
    assert not policy.may_administer_survey(SUPERVISOR, open_case, close_to_her={LEAD.id})
    assert not policy.may_administer_survey(LEAD, closed_case, close_to_her={LEAD.id})  # her own caseworker


def test_the_plan_is_kept_by_the_agencies_that_deliver_it_or_a_coordinator():
    case = a_case(closed=False)
    assert policy.may_keep_plan(COORDINATOR, case, set())
    assert not policy.may_keep_plan(POLICE, case, {"education"})  # on the case, but no item of the plan
    with pytest.raises(Forbidden, match="delivers an item of the plan"):
        policy.require_plan_keeper(POLICE, case, {"education"})


def test_a_closure_is_decided_by_a_supervisor_other_than_its_requester():
    assert policy.may_decide_closure(SUPERVISOR, requested_by_id=COORDINATOR.id)
    assert not policy.may_decide_closure(SUPERVISOR, requested_by_id=SUPERVISOR.id)
    assert not policy.may_decide_closure(COORDINATOR, requested_by_id=LEAD.id)
    with pytest.raises(Forbidden, match="other than the person who requested it"):
        policy.require_closure_decider(SUPERVISOR, SUPERVISOR.id)
    with pytest.raises(Forbidden, match="only a supervisor"):
        policy.require_closure_decider(COORDINATOR, LEAD.id)


def test_a_conference_is_chaired_by_someone_who_coordinates():
    assert policy.may_chair_conference(COORDINATOR) and not policy.may_chair_conference(POLICE)


def test_only_a_coordinator_gives_an_agency_an_extra_task():
    with pytest.raises(Forbidden, match="only a coordinator can assign a task"):
        policy.require_task_giver(POLICE, a_case(closed=False))


def test_monitoring_is_set_by_a_coordinator_and_contacts_logged_by_the_agencies_on_the_case():
    case = a_case(closed=False)
    with pytest.raises(Forbidden, match="only a coordinator"):
        policy.require_monitoring_setter(POLICE, case, "set it")
    with pytest.raises(Forbidden, match="only an agency that is part of case C-2026-0007"):
        policy.require_contact_logger(POLICE, case, ["education"])


def test_a_mandatory_report_is_recorded_by_her_case_worker_or_an_agency_on_the_case():
    case = a_case(closed=False)
    assert policy.may_record_mandatory_report(COORDINATOR, case, [])  # her case worker, whatever the agencies
    assert policy.may_record_mandatory_report(POLICE, case, ["police"])
    housing = Actor(id=5, agency="housing", role="member", name="Hal")
    assert not policy.may_record_mandatory_report(housing, case, ["police", "social_work"])
    with pytest.raises(Forbidden):
        policy.require_mandatory_reporter(housing, case, ["police", "social_work"])


def test_a_threat_assessment_team_opens_its_cases_and_shares_within_itself_only():
    team = ["police", "education"]
    assert policy.may_open_case(POLICE, "threat_assessment", team)
    assert not policy.may_open_case(POLICE, "threat_assessment", ["education"])  # not on the team it names
    assert not policy.may_open_case(POLICE, "domestic_abuse", team)  # a referral is a coordinator's
    assert policy.may_open_case(COORDINATOR, "domestic_abuse", [])
    assert policy.may_share_within_team("police", "threat_assessment", team)
    assert not policy.may_share_within_team("social_work", "threat_assessment", team)
    assert not policy.may_share_within_team("police", "domestic_abuse", team)  # a team basis is for teams only
    assert not policy.may_share_within_team(None, "threat_assessment", team)
    with pytest.raises(Forbidden, match="only a supervisor"):
        policy.require_team_basis_keeper(POLICE, a_case(closed=False))


# --- accounts ----------------------------------------------------------------------------------

PEOPLE = st.integers(min_value=1, max_value=4)


@given(actor_id=PEOPLE, role=st.sampled_from(policy.USER_ROLES), lead=st.none() | PEOPLE, requester=PEOPLE,
       closed=st.booleans())
def test_nobody_approves_their_own_classification_or_closure_and_the_team_lead_decides_the_others(
        actor_id, role, lead, requester, closed):
    """Any actor, team lead (or none) and requester: a classification is decided by the lead alone, a closure
    by the lead when someone else asked for it (else by a supervisor), and never by the one who asked."""
    actor, case = Actor(id=actor_id, agency="education", role=role), a_case(closed=closed)
    if policy.may_decide_classification(actor, case, lead, requester):
        assert actor_id == lead != requester and not closed
    if policy.may_decide_closure(actor, requester, lead):
        assert actor_id != requester
        assert actor_id == lead if lead not in (None, requester) else role == policy.APPROVER_ROLE
    assert policy.classification_awaits_lead(actor, lead) == (lead is not None and lead != actor_id)


def test_a_coordinator_names_the_team_lead_and_the_lead_names_the_others():
    case = a_case(closed=False)
    assert policy.may_assign_team_role(COORDINATOR, case, "lead", LEAD.id)
    assert policy.may_assign_team_role(LEAD, case, "case_manager", LEAD.id)
    assert not policy.may_assign_team_role(LEAD, case, "lead", LEAD.id)
    assert not policy.may_assign_team_role(POLICE, case, "member", LEAD.id)
    assert not policy.may_assign_team_role(POLICE, case, "member", None)


RANK = {role: rank for rank, role in enumerate(policy.USER_ROLES)}
AGENCIES_OR_NONE = (None, "police", "health")


@pytest.mark.parametrize("coordinators_manage", [False, True])
def test_nobody_raises_their_own_rights_nor_gives_more_than_they_hold(coordinators_manage):
    """Every actor, target and grant: one's own account is never changed, and only an
    administrator gives a role above her own or an agency other than her own."""
    for role in policy.USER_ROLES:
        for agency in AGENCIES_OR_NONE:
            actor = Actor(id=1, agency=agency, role=role)
            for target_role in policy.USER_ROLES:
                for target_agency in AGENCIES_OR_NONE:
                    assert not policy.may_change_account(actor, 1, target_role, target_agency, coordinators_manage)
                    if policy.may_grant(actor, target_role, target_agency, coordinators_manage) and role != "admin":
                        assert RANK[target_role] <= RANK[role] and target_agency == agency
                    if policy.may_change_account(actor, 2, target_role, target_agency, coordinators_manage):
                        assert role == "admin" or (coordinators_manage and role == "coordinator"
                                                   and target_agency == agency and RANK[target_role] <= RANK[role])
            assert policy.may_reset_second_factor(actor, 2) == (role == "admin")
            assert not policy.may_reset_second_factor(actor, 1)


def test_her_views_are_recorded_only_by_whoever_holds_victim_contact():
    case = a_case(closed=False)
    assert policy.may_record_views(POLICE, case, "police", None)
    assert policy.may_record_views(POLICE, case, "police", POLICE.id)
    assert not policy.may_record_views(POLICE, case, "police", 99)  # the role names another officer
    assert not policy.may_record_views(COORDINATOR, case, "police", None)  # no coordinator speaks for her
    assert not policy.may_record_views(POLICE, case, None, None)  # nobody holds victim contact
    with pytest.raises(Forbidden, match="only the person of Police"):
        policy.require_views_recorder(LEAD, case, "police", 99, "Police")


def test_a_notification_reaches_those_who_may_see_the_case_and_its_agencies_systems_only():
    on_case = ["social_work", "police"]
    assert policy.may_be_notified(POLICE, on_case) and policy.may_be_notified(COORDINATOR, on_case)
    assert not policy.may_be_notified(Actor(id=9, agency="health", role="member"), on_case)
    assert policy.may_be_notified(policy.agency_system("police"), on_case)
    assert not policy.may_be_notified(policy.agency_system("health"), on_case)
    assert policy.may_see_deliveries(Actor(id=5, agency=None, role="admin"))
    assert not any(policy.may_see_deliveries(a) for a in (COORDINATOR, SUPERVISOR, POLICE))
