"""Police: task list and duties from the multi-agency safety-planning to-do list."""

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

KEY = "police"

# (title, domain in a domestic-abuse case, domain in a threat-assessment case, condition[, shared duty])
# Conditions read the CaseFacts; None means always. The list's "*" duties ("if this duty does not
# belong to another agency") and child protection are shared duties: one holder per case.
TASKS = [
    ("Inform the victim about shelters and guide the victim to a shelter if needed", "victim", "target", None,
     "shelter_guidance"),
    ("Initiate child protection procedures if not yet done", "children", "target", "children", "child_protection_procedures"),
    ("File a crime offence report if not yet done", "perpetrator", "subject", None),
    ("By the victim's consent, contact the victim support services", "victim", "target", None),
    ("Inform the victim about a restraining order or issue a temporary restraining order", "victim", "target", None),
    ("Inform the victim of possible moments when the police is going to contact the perpetrator", "victim", "target", None),
    ("Inform the victim when the perpetrator will be released from custody", "victim", "precipitating_events", "release",
     "release_notice"),
    ("Create a safety plan for the victim", "victim", "target", None),
    ("In case of physical injuries, guide the victim to Health Care services to have them treated and documented",
     "victim", "target", "injuries"),
    ("Guide the victim to Social Services based on her/his needs for support", "victim", "target", None),
    ("Make sure all relevant NGOs are invited to participate in the risk assessment process", "victim", "environment", None),
    ("Assist the victim in protecting her/his personal data", "victim", "target", None, "personal_data_protection"),
    ("Take into account the risks of digitally assisted stalking and cyberstalking and help the victim in protecting their digital devices",
     "victim", "target", None),
    ("Depending on the legislation, consider secret means of gathering intelligence to prevent crimes or avoid danger",
     "perpetrator", "subject", None),
    ("Consider the benefits of a portable alarm system for the victim", "victim", "target", None),
    ("Assist the perpetrator in joining a perpetrator programme", "perpetrator", "subject", None, "perpetrator_programme"),
]
# Done through a referral of hers to the victim support services, which her consent covers.
NEEDS = {"By the victim's consent, contact the victim support services": "referral"}
# The list's timescales: inviting the NGOs "to participate in the risk assessment process" is done
# before the meeting that assesses the risk; the list gives no other item a time.
DUE = {"Make sure all relevant NGOs are invited to participate in the risk assessment process":
       DueOffset.before_the_meeting()}
STANDING = [
    ("Document information produced by risk assessment and keep it confidential", "victim", "environment"),
]


# The threat-assessment exhibit's strategies that the police deliver, word for word.
STRATEGIES = [
    Strategy("subject.discipline.containment", "subject", "Disciplinary measures", "containment",
             ("Law enforcement involvement", "Court-issued protective orders")),
    Strategy("subject.discipline.other", "subject", "Disciplinary measures", "other", ("Diversion programs",)),
    Strategy("target.coaching", "target", "Coaching regarding personal safety approaches in dealing with the subject",
             "support", ("Clear statements to the subject, e.g., “relationship/contact is unwanted” or "
                         "“stop all contact and/or communication”", "Avoid subsequent contact/response",
                         "Document all further contacts", "Do not engage emotionally, monitor “buttons” getting pushed")),
    Strategy("target.public_information", "target", "Minimize publicly available information, e.g., by scrubbing "
             "internet information, checking privacy settings on social media applications"),
    Strategy("target.awareness", "target", "Maintain awareness of surroundings"),
    Strategy("target.vary_routine", "target", "Vary routine"),
    Strategy("environment.associates", "environment",
             "Intervene with associates that support or encourage violent behavior"),
    Strategy("precipitating_events.order_implemented", "precipitating_events",
             "Implementation of administrative notices/court orders"),
    Strategy("precipitating_events.order_violated", "precipitating_events",
             "Violation of administrative notices/court orders"),
]


def _applies(condition, case) -> bool:
    if condition is None:
        return True
    if condition == "children":
        return case.has_children
    if condition == "injuries":
        return any(c.endswith("injuries") or c.endswith("injuries_observed") for c in case.categories_recorded)
    if condition == "release":
        return any(kind == "release_from_custody" for kind, _ in case.key_dates)
    raise ValueError(condition)


@hookimpl
def agency_identity():
    return AgencyIdentity(key=KEY, name="Police")


@hookimpl
def agency_task_list(case):
    threat = case.kind == "threat_assessment"
    tasks = [TaskTemplate(title, threat_domain if threat else domain, duty=duty[0] if duty else None,
                          needs=NEEDS.get(title), due=DUE.get(title))
             for title, domain, threat_domain, condition, *duty in TASKS if _applies(condition, case)]
    tasks += [TaskTemplate(title, threat_domain if threat else domain, standing=True)
              for title, domain, threat_domain in STANDING]
    return tasks


@hookimpl
def agency_information_categories():
    return [
        InformationCategory("police.call_outs", "Call-outs to the address"),
        InformationCategory("police.criminal_record", "Subject's criminal record", "high"),
        InformationCategory("police.risk_assessment", "Risk assessment findings", "high"),
        InformationCategory("police.injuries_observed", "Injuries observed by officers"),
        InformationCategory("police.intelligence", "Intelligence (covert sources)", "high"),
    ]


@hookimpl
def agency_responsibilities():
    return [
        Responsibility("perpetrator_management", "Perpetrator management"),
        Responsibility("safety_planning", "Safety planning"),
        Responsibility("victim_contact", "Victim contact"),
    ]


@hookimpl
def agency_restrict_disclosure(category, viewer_agency):
    # Covert sources stay inside the police whatever the survivor or a supervisor decides.
    if category == "police.intelligence" and viewer_agency != KEY:
        return "police intelligence is never disclosed outside the police"
    return None


@hookimpl
def agency_shared_duties():
    return [
        SharedDuty("child_protection_procedures", "child_protection"),
        SharedDuty("release_notice", "victim_contact", fallback=True),
        SharedDuty("perpetrator_programme", "perpetrator_management", fallback=True),
        SharedDuty("shelter_guidance", "housing"),
        # Her personal data: the police's unless the role map gives safety planning to another agency.
        SharedDuty("personal_data_protection", "safety_planning", fallback=True),
    ]


@hookimpl
def agency_strategies():
    return list(STRATEGIES)


def _domain(case, domestic, threat):
    return threat if case.kind == "threat_assessment" else domestic


@hookimpl
def case_key_date_near(case, kind, on, days_before):
    if kind == "release_from_custody":
        return [TaskTemplate(f"Release from custody on {on.isoformat()}: tell the victim and review the safety plan",
                             _domain(case, "victim", "precipitating_events"))]
    if kind == "hearing":
        return [TaskTemplate(f"Hearing on {on.isoformat()}: plan the victim's protection around it",
                             _domain(case, "victim", "precipitating_events"))]
    return None


@hookimpl
def case_order_violated(case, on):
    return [TaskTemplate("Respond to the violation of the restraining order and review the safety plan",
                         _domain(case, "perpetrator", "subject"))]
