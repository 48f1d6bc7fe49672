"""Social work: task list and duties from the multi-agency safety-planning to-do list."""

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

KEY = "social_work"

# (title, domain in a domestic-abuse case, domain in a threat-assessment case, only with children, shared duty)
TASKS = [
    ("If there is an immediate or even likely risk to the safety of the client or any children, consider contacting the police",
     "victim", "target", False, None),
    ("Initiate child protection procedures if not yet done", "children", "target", True, "child_protection_procedures"),
    ("Inform the victim about shelters and guide the victim to a shelter if needed", "victim", "target", False,
     "shelter_guidance"),
    ("Help the victim to solve financial problems", "victim", "environment", False, None),
    ("Secure safe housing for the victim", "victim", "environment", False, None),
    ("Assist the victim in protecting her/his personal data", "victim", "target", False, "personal_data_protection"),
    ("Assist the victim in getting immediate crisis help and psychosocial support", "victim", "target", False,
     "crisis_support"),
]
# The list's timescales: what it calls immediate is due within a day of the referral.
IMMEDIATE = DueOffset.within_hours_of_referral(24)
DUE = {
    "If there is an immediate or even likely risk to the safety of the client or any children, consider contacting the police":
        IMMEDIATE,
    "Assist the victim in getting immediate crisis help and psychosocial support": IMMEDIATE,
}

# The threat-assessment exhibit's strategies that social work delivers, word for word.
STRATEGIES = [
    Strategy("subject.referral", "subject", "Referral for assistance or support services", "support",
             ("Social skills training", "Peer coaching/mentoring")),
    Strategy("target.contingency_plans", "target", "Develop contingency plans for escape, shelter, and support",
             "support"),
    Strategy("precipitating_events.loss", "precipitating_events",
             "Loss impacting the subject, e.g., job or income, status, relationship, health, rejection/ostracization"),
    Strategy("precipitating_events.anniversary", "precipitating_events",
             "Anniversary events, e.g., date of beginning of relationship, date of end of relationship, "
             "date served with court orders/separation documents, birthdays, holidays"),
]


@hookimpl
def agency_identity():
    return AgencyIdentity(key=KEY, name="Social work")


@hookimpl
def agency_task_list(case):
    threat = case.kind == "threat_assessment"
    return [TaskTemplate(title, threat_domain if threat else domain, duty=duty, due=DUE.get(title))
            for title, domain, threat_domain, needs_children, duty in TASKS
            if case.has_children or not needs_children]


@hookimpl
def agency_information_categories():
    return [
        InformationCategory("social_work.child_protection_history", "Child protection history", "high"),
        InformationCategory("social_work.housing", "Housing situation"),
        InformationCategory("social_work.finances", "Financial situation"),
    ]


@hookimpl
def agency_responsibilities():
    return [
        Responsibility("child_protection", "Child protection"),
        Responsibility("housing", "Housing"),
        Responsibility("safety_planning", "Safety planning"),
        Responsibility("victim_contact", "Victim contact"),
    ]


@hookimpl
def agency_shared_duties():
    # Child protection, shelters and crisis support are social work's unless the role map gives the
    # responsibility to another agency.
    return [SharedDuty("child_protection_procedures", "child_protection", fallback=True),
            SharedDuty("shelter_guidance", "housing", fallback=True),
            SharedDuty("personal_data_protection", "safety_planning"),
            SharedDuty("crisis_support", "victim_contact", fallback=True)]


@hookimpl
def case_risk_raised(case, previous_level):
    return [TaskTemplate("Review safe housing and crisis support now that the risk is raised",
                         "victim" if case.kind != "threat_assessment" else "target")]


@hookimpl
def case_follow_up_missed(case, agency, planned_on):
    if agency != KEY:
        return None
    return [TaskTemplate(f"The follow-up of {planned_on.isoformat()} did not happen: agree a new safe time to make contact",
                         "victim" if case.kind != "threat_assessment" else "target")]


@hookimpl
def agency_strategies():
    return list(STRATEGIES)
