"""Education: the school's building-level threat-assessment team (administrator, counsellor,
school resource officer, mental health), an agency installed from a package of its own.

Its strategies are the school-side ones of the threat-assessment case-management exhibit
(discipline, counselling, referral to school services, the school's environment and systems),
word for word; the other agencies declare the ones they deliver.
"""

from coordinator import hookimpl
from coordinator.hookspecs import AgencyIdentity, InformationCategory, Responsibility, Strategy, TaskTemplate

KEY = "education"
THREAT = "threat_assessment"
DISCIPLINE = "Disciplinary measures"

# The exhibit's subject-based strategies that the school delivers.
STRATEGIES = [
    Strategy("subject.communication", "subject", "Maintain channel of communication and engagement (with subject)",
             "support", ("Gather information", "Build rapport and relationship", "Decrease isolation",
                         "De-escalate volatile reactions", "Provide feedback and mentoring",
                         "Monitor reactions to grievances, interventions, and precipitating events")),
    Strategy("subject.grievances", "subject", "Problem-solving about legitimate grievances", "support"),
    Strategy("subject.referral", "subject", "Referral for assistance or support services", "support",
             ("Academic assistance or accommodations", "Behavioral contracting",
              "Modification of student classroom assignment or schedule",
              "Modification of work schedule or assignments",
              "Alternative schooling/home schooling", "Involvement in extra-curricular activities",
              "Performance improvement plans")),
    Strategy("subject.counseling", "subject", "Counseling/mental health services", "support",
             ("Check-in/check-out with school counseling staff",)),
    # One list in the exhibit, three kinds here: only suspension and expulsion separate the subject from the
    # school, and the warning about separation must not fire for a detention.
    Strategy("subject.discipline.other", "subject", DISCIPLINE, "other", ("Subject confrontation or warning",)),
    Strategy("subject.discipline.containment", "subject", DISCIPLINE, "containment",
             ("Administrative orders for no contact or communication", "Detention")),
    Strategy("subject.discipline.separation", "subject", DISCIPLINE, "separation",
             ("Suspension", "Termination/expulsion")),
    Strategy("environment.systemic_problems", "environment",
             "Address systemic, policy, or procedural problems that may serve as precipitating events across cases"),
    Strategy("environment.bullying_prevention", "environment", "Bullying prevention/intervention programs"),
    Strategy("environment.climate", "environment",
             "Enhance school/workplace climate – build and support a caring community"),
    Strategy("environment.conflict_management", "environment", "Enhance conflict management skills of subgroups"),
    Strategy("environment.reporting_awareness", "environment",
             "Identify and address gaps in awareness of reporting and intervention options"),
    Strategy("environment.process_gaps", "environment",
             "Identify and address gaps in the threat assessment and management process"),
    Strategy("precipitating_events.injustice", "precipitating_events", "Injustice"),
    Strategy("precipitating_events.contagion", "precipitating_events",
             "Contagion effect of other high-profile or locally significant acts of violence"),
]

# What the team does on every threat-assessment case (the exhibit's case-management steps), by domain.
THREAT_TASKS = [
    TaskTemplate("Open a channel of communication and engagement with the subject, and name who keeps it", "subject"),
    TaskTemplate("Document all further contacts with the subject and the target in the contact log", "target",
                 standing=True),
    TaskTemplate("Monitor the subject's reactions to grievances, interventions, and precipitating events",
                 "precipitating_events", standing=True),
    TaskTemplate("Couple any suspension, expulsion or termination with containment and support", "subject"),
    TaskTemplate("Plan the monitoring of the subject when he/she is no longer connected to the District", "subject"),
    TaskTemplate("Review the school's systems and climate for factors contributing to the case", "environment"),
]


@hookimpl
def agency_identity():
    return AgencyIdentity(key=KEY, name="Education (threat-assessment team)")


@hookimpl
def agency_task_list(case):
    # The school takes part in other cases through the agencies that lead them; its list is the team's.
    return list(THREAT_TASKS) if case.kind == THREAT else []


@hookimpl
def agency_information_categories():
    return [
        InformationCategory("education.attendance", "Attendance"),
        InformationCategory("education.discipline_record", "Discipline record", "high"),
        InformationCategory("education.counselling_notes", "Counselling notes", "high"),
        InformationCategory("education.threat_assessment", "Threat assessment findings", "high"),
    ]


@hookimpl
def agency_responsibilities():
    return [
        Responsibility("subject_engagement", "Engagement with the subject"),
        Responsibility("school_supervision", "Supervision at school"),
    ]


@hookimpl
def agency_strategies():
    return list(STRATEGIES)
