"""A fully featured agency that is not installed: it implements every hook, so each hook can be
tested through what a user of the coordinator would notice."""

from pathlib import Path

from litestar import get
from litestar.response import Template

from coordinator import hookimpl
from coordinator.hookspecs import AgencyIdentity, InformationCategory, Responsibility, TaskTemplate

KEY = "probation"
SUPERVISE = "Supervise the licence conditions"
CHILD_CONTACT = "Check the licence conditions on contact with the children"
REVIEW = "Review the licence conditions in the light of new information"
MAPPA_WITHHELD = "MAPPA plans are shared with the police only"


@hookimpl
def agency_identity():
    return AgencyIdentity(key=KEY, name="Probation service")


@hookimpl
def agency_task_list(case):
    tasks = [TaskTemplate(SUPERVISE, "perpetrator", standing=True)]
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
