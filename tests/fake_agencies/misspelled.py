"""An agency whose hook name is misspelled: start-up must fail naming it."""

from coordinator import hookimpl
from coordinator.hookspecs import AgencyIdentity


@hookimpl
def agency_identity():
    return AgencyIdentity(key="misspelled", name="Misspelled")


@hookimpl
def agency_task_lists(case):  # should be agency_task_list
    return []
