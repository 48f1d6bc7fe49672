"""Police: task list and duties from the multi-agency safety-planning to-do list."""

from coordinator import hookimpl
from coordinator.hookspecs import AgencyIdentity, InformationCategory, Responsibility, TaskTemplate

KEY = "police"

# (title, domain in a domestic-abuse case, domain in a threat-assessment case, condition)
# Conditions read the CaseFacts; None means always.
TASKS = [
    ("Inform the victim about shelters and guide the victim to a shelter if needed", "victim", "target", None),
    ("Initiate child protection procedures if not yet done", "children", "target", "children"),
    ("File a crime offence report if not yet done", "perpetrator", "subject", None),
    ("By the victim's consent, contact the victim support services", "victim", "target", None),
    ("Inform the victim about a restraining order or issue a temporary restraining order", "victim", "target", None),
    ("Inform the victim of possible moments when the police is going to contact the perpetrator", "victim", "target", None),
    ("Inform the victim when the perpetrator will be released from custody", "victim", "precipitating_events", "release"),
    ("Create a safety plan for the victim", "victim", "target", None),
    ("In case of physical injuries, guide the victim to Health Care services to have them treated and documented",
     "victim", "target", "injuries"),
    ("Guide the victim to Social Services based on her/his needs for support", "victim", "target", None),
    ("Make sure all relevant NGOs are invited to participate in the risk assessment process", "victim", "environment", None),
    ("Take into account the risks of digitally assisted stalking and cyberstalking and help the victim in protecting their digital devices",
     "victim", "target", None),
    ("Depending on the legislation, consider secret means of gathering intelligence to prevent crimes or avoid danger",
     "perpetrator", "subject", None),
    ("Consider the benefits of a portable alarm system for the victim", "victim", "target", None),
    ("Assist the perpetrator in joining a perpetrator programme", "perpetrator", "subject", None),
]
STANDING = [
    ("Document information produced by risk assessment and keep it confidential", "victim", "environment"),
    ("Assist the victim in protecting her/his personal data", "victim", "target"),
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
    tasks = [TaskTemplate(title, threat_domain if threat else domain)
             for title, domain, threat_domain, condition in TASKS if _applies(condition, case)]
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
        Responsibility("lead_agency", "Lead agency"),
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
def case_event(event):
    if event.name == "release_date_near":
        return [TaskTemplate("Inform the victim when the perpetrator will be released from custody",
                             "victim" if event.case.kind != "threat_assessment" else "precipitating_events")]
    if event.name == "order_violated":
        return [TaskTemplate("Respond to the violation of the restraining order and review the safety plan",
                             "perpetrator" if event.case.kind != "threat_assessment" else "subject")]
    return None
