"""An agency that starts fine but whose task list fails when it is added to a case."""

from coordinator import hookimpl
from coordinator.hookspecs import AgencyIdentity


@hookimpl
def agency_identity():
    return AgencyIdentity(key="failing_tasks", name="Failing tasks")


@hookimpl
def agency_task_list(case):
    raise LookupError("task catalogue offline")
