"""An agency whose declaration hook raises at start-up."""

from coordinator import hookimpl
from coordinator.hookspecs import AgencyIdentity


@hookimpl
def agency_identity():
    return AgencyIdentity(key="raising", name="Raising")


@hookimpl
def agency_information_categories():
    raise RuntimeError("category table missing")
