"""Health care: task list and duties from the multi-agency safety-planning to-do list."""

from coordinator import hookimpl
from coordinator.hookspecs import (
    AgencyIdentity,
    DueOffset,
    InformationCategory,
    Responsibility,
    SharedDuty,
    Strategy,
    TaskTemplate,
)

KEY = "health"
# The to-do lists give health care and social work this duty in two wordings: it is one duty, shared.
CRISIS_SUPPORT = "Assist the victim in getting immediate crisis help and psychosocial support"
# The list's timescales: what it calls immediate is due within a day of the referral.
IMMEDIATE = DueOffset.within_hours_of_referral(24)
# The threat-assessment exhibit's strategies that health care delivers, word for word.
STRATEGIES = [
    Strategy("subject.counseling", "subject", "Counseling/mental health services", "support",
             ("Outpatient counseling/mental health care", "Emergency psychiatric evaluation")),
    Strategy("target.support_systems", "target", "Encourage use of support systems, e.g., counseling/mental services "
             "and victim assistance programs", "support"),
]


@hookimpl
def agency_identity():
    return AgencyIdentity(key=KEY, name="Health care")


@hookimpl
def agency_task_list(case):
    # Threat-assessment cases speak of the target where domestic-abuse cases speak of the victim.
    victim = "target" if case.kind == "threat_assessment" else "victim"
    tasks = [
        TaskTemplate("Always examine the patient without their family members or spouse being present", victim, standing=True),
        TaskTemplate(CRISIS_SUPPORT, victim, duty="crisis_support", due=IMMEDIATE),
        TaskTemplate("If there is an immediate risk to safety of the patient or any children, consider contacting the police",
                     victim, due=IMMEDIATE),
        TaskTemplate("Ask for victim's consent before letting in any visitors", victim, standing=True),
    ]
    if case.has_children:
        tasks.insert(3, TaskTemplate("Initiate child protection procedures if not yet done",
                                     "target" if case.kind == "threat_assessment" else "children",
                                     duty="child_protection_procedures"))
    return tasks


@hookimpl
def agency_information_categories():
    return [
        InformationCategory("health.injuries", "Injuries treated and documented", "high"),
        InformationCategory("health.mental_health", "Mental health", "high"),
        InformationCategory("health.attendances", "Attendances at health services"),
    ]


@hookimpl
def agency_responsibilities():
    return [
        Responsibility("health_follow_up", "Health follow-up"),
        Responsibility("victim_contact", "Victim contact"),
    ]


@hookimpl
def agency_shared_duties():
    return [SharedDuty("child_protection_procedures", "child_protection"),
            SharedDuty("crisis_support", "victim_contact")]


@hookimpl
def case_risk_raised(case, previous_level):
    return [TaskTemplate("Offer a follow-up appointment and reassess safety at the next contact",
                         "victim" if case.kind != "threat_assessment" else "target")]


@hookimpl
def agency_strategies():
    return list(STRATEGIES)
