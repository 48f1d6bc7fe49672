"""An agency whose disclosure restriction raises."""

from coordinator import hookimpl
from coordinator.hookspecs import AgencyIdentity


@hookimpl
def agency_identity():
    return AgencyIdentity(key="failing_restriction", name="Failing restriction")


@hookimpl
def agency_restrict_disclosure(category, viewer_agency):
    raise RuntimeError("restriction table missing")
