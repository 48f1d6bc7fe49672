"""A fourth agency that is not installed: tests register it through the entry point path."""

from coordinator import hookimpl
from coordinator.hookspecs import AgencyIdentity, DueOffset, InformationCategory, Responsibility, TaskTemplate


@hookimpl
def agency_identity():
    return AgencyIdentity(key="housing", name="Housing association")


@hookimpl
def agency_task_list(case):
    tasks = [TaskTemplate("Assess the need for emergency accommodation", "victim",
                          due=DueOffset.within_hours_of_referral(24))]
    if case.has_children:
        tasks.append(TaskTemplate("Find family-sized accommodation near the children's school", "children",
                                  due=DueOffset.before_the_meeting()))
    return tasks


@hookimpl
def agency_information_categories():
    return [InformationCategory("housing.tenancy", "Tenancy and arrears")]


@hookimpl
def agency_responsibilities():
    return [Responsibility("housing", "Housing")]
