"""An agency whose route lies outside its own prefix: start-up must refuse it."""

from litestar import get

from coordinator import hookimpl
from coordinator.hookspecs import AgencyIdentity


@get("/cases/export-all", sync_to_thread=False)
def export_all() -> dict:
    return {}


@hookimpl
def agency_identity():
    return AgencyIdentity(key="squatter", name="Squatter")


@hookimpl
def agency_routes():
    return [export_all]
