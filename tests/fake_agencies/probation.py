"""A fully featured agency that is not installed: it implements every hook, so each hook can be
tested through what a user of the coordinator would notice."""

from pathlib import Path

from litestar import get
from litestar.response import Template

from coordinator import hookimpl
from coordinator.hookspecs import (
    AgencyIdentity,
    InformationCategory,
    Responsibility,
    ServiceEntry,
    SharedDuty,
    Strategy,
    TaskTemplate,
)

KEY = "probation"
SUPERVISE = "Supervise the licence conditions"
CHILD_CONTACT = "Check the licence conditions on contact with the children"
REVIEW = "Review the licence conditions in the light of new information"
RECALL = "Consider recall to custody"  # a shared duty, held through offender supervision
MAPPA_WITHHELD = "MAPPA plans are shared with the police only"


@hookimpl
def agency_identity():
    return AgencyIdentity(key=KEY, name="Probation service")


@hookimpl
def agency_task_list(case):
    tasks = [TaskTemplate(SUPERVISE, "perpetrator", standing=True), TaskTemplate(RECALL, "perpetrator", duty="recall")]
    if case.has_children:
        tasks.append(TaskTemplate(CHILD_CONTACT, "children"))
    return tasks


@hookimpl
def agency_information_categories():
    return [
        InformationCategory("probation.licence_conditions", "Licence conditions"),
        InformationCategory("probation.mappa", "MAPPA level and plan", "high"),
    ]


@hookimpl
def agency_responsibilities():
    return [Responsibility("offender_supervision", "Offender supervision")]


@hookimpl
def agency_restrict_disclosure(category, viewer_agency):
    if category == "probation.mappa" and viewer_agency != "police":
        return MAPPA_WITHHELD
    return None


@hookimpl
def agency_shared_duties():
    return [SharedDuty("recall", "offender_supervision", fallback=True)]


@hookimpl
def agency_services():
    return [ServiceEntry("Victim liaison", "support", "Tells victims of an offender's release and licence conditions",
                         "0300 000 0000", "North")]


@hookimpl
def agency_strategies():
    return [Strategy("probation.licence_conditions", "subject", "Licence conditions restricting contact", "containment")]


def reaction(hook: str, *details: object) -> list[TaskTemplate]:
    """What probation answers to each case event: a task naming the event, so a test sees it arrive."""
    return [TaskTemplate(" ".join([f"Probation reacts to {hook}", *map(str, details)]), "perpetrator")]


@hookimpl
def case_risk_raised(case, previous_level):
    return reaction("risk_raised", previous_level, case.risk_level)


@hookimpl
def case_threat_level_raised(case, previous_level, level):
    return reaction("threat_level_raised", previous_level, level)


@hookimpl
def case_screening_overdue(case, reported_at, due_at):
    return reaction("screening_overdue", due_at.isoformat())


@hookimpl
def case_key_date_near(case, kind, on, days_before):
    return reaction("key_date_near", kind, on, days_before)


@hookimpl
def case_anniversary(case, kind, on, years):
    return reaction("anniversary", kind, years)


@hookimpl
def case_order_violated(case, on):
    return reaction("order_violated", on)


@hookimpl
def case_precipitating_event(case, kind, on):
    return reaction("precipitating_event", kind, on)


@hookimpl
def case_follow_up_due(case, agency, planned_on):
    return reaction("follow_up_due", agency, planned_on)


@hookimpl
def case_follow_up_missed(case, agency, planned_on):
    return reaction("follow_up_missed", agency, planned_on)


@hookimpl
def case_task_overdue(case, agency, title, due_on):
    return reaction("task_overdue", agency, due_on) if agency == KEY else None


@hookimpl
def case_safety_plan_review_due(case, review_on):
    return reaction("safety_plan_review_due", review_on)


@hookimpl
def case_monitoring_review_due(case, review_on):
    return reaction("monitoring_review_due", review_on)


@hookimpl
def case_information_recorded(case, category):
    if not category.startswith(f"{KEY}."):
        return [TaskTemplate(REVIEW, "perpetrator")]
    return None


@get("/probation/summary", sync_to_thread=False)
def summary() -> dict:
    return {"agency": KEY, "caseload": "open"}


@get("/probation/welcome", sync_to_thread=False)
def welcome() -> Template:
    return Template(template_name=f"{KEY}/welcome.html", context={"service": "Probation service"})


@hookimpl
def agency_routes():
    return [summary, welcome]


@hookimpl
def agency_template_dir():
    return str(Path(__file__).parent / "probation_templates")
