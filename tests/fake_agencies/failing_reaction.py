"""An agency whose reaction to case events raises."""

from coordinator import hookimpl
from coordinator.hookspecs import AgencyIdentity


@hookimpl
def agency_identity():
    return AgencyIdentity(key="failing_reaction", name="Failing reaction")


@hookimpl
def agency_task_list(case):
    return []


@hookimpl
def case_information_recorded(case, category):
    raise RuntimeError(f"reaction service down while handling case {case.case_id}")
