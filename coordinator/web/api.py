"""The JSON API: every page's twin, authenticated by session cookie or bearer token."""

from __future__ import annotations

from dataclasses import dataclass

from litestar import Request, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody
from litestar.response import Response
from sqlalchemy.ext.asyncio import AsyncSession

from coordinator import case_links, cases, tasks
from coordinator.cases import ReferralIn
from coordinator.limits import Count, Key, OneOf, Text
from coordinator.models import utcnow
from coordinator.plugins import AgencyRegistry
from coordinator.settings import Settings
from coordinator.tasks import TaskIn
from coordinator.web.auth import current_actor
from coordinator.web.json import case_json, task_json


@dataclass
class AgencyIn:
    agency: Key


@dataclass
class TaskStatusIn:
    status: OneOf(tasks.STATUSES)
    version: Count
    reason: Text() | None = None


@get("/api/me")
async def me(request: Request) -> dict:
    user = request.user
    return {"id": user.id, "username": user.username, "display_name": user.display_name,
            "agency": user.agency, "role": user.role}


@get("/api/agencies")
async def list_agencies(registry: NamedDependency[AgencyRegistry]) -> list[dict]:
    return [{"key": a.key, "name": a.name,
             "categories": [{"key": c.key, "label": c.label, "sensitivity": c.sensitivity} for c in a.categories.values()],
             "responsibilities": [{"key": r.key, "label": r.label} for r in a.responsibilities]}
            for a in registry]


@get("/api/dashboard")
async def dashboard_json(request: Request, db: NamedDependency[AsyncSession],
                         registry: NamedDependency[AgencyRegistry]) -> dict:
    actor = current_actor(request)
    today = utcnow().date()
    return {
        "cases": [case_json(c, registry) for c in await cases.visible_cases(db, actor)],
        "tasks": [task_json(t, registry, today) for t in await tasks.open_tasks_for_agency(db, actor.agency, today)],
    }


@get("/api/cases")
async def list_cases(request: Request, db: NamedDependency[AsyncSession],
                     registry: NamedDependency[AgencyRegistry]) -> list[dict]:
    return [case_json(c, registry) for c in await cases.visible_cases(db, current_actor(request))]


@post("/api/cases")
async def create_case(request: Request, db: NamedDependency[AsyncSession], registry: NamedDependency[AgencyRegistry],
                      settings: NamedDependency[Settings], data: JSONBody[ReferralIn]) -> Response[dict]:
    """201 with the new case; 200 with the open case the referral was added to (``add_to_case``)."""
    case = await cases.create_case(db, registry, settings.referral, current_actor(request), data, utcnow().date(),
                                   settings.threat_screening_due)
    await db.commit()
    return Response(case_json(await cases.load_case(db, case.id), registry),
                    status_code=200 if data.add_to_case is not None else 201)


@get("/api/cases/{case_id:int}")
async def get_case(request: Request, db: NamedDependency[AsyncSession], registry: NamedDependency[AgencyRegistry],
                   case_id: FromPath[int]) -> dict:
    actor = current_actor(request)
    case = await cases.case_for(db, actor, case_id)
    linked = await case_links.linked_cases(db, actor, case_id)
    return {**case_json(case, registry),
            "linked": [{"case_id": c.case_id, "reference": c.reference, "later": c.later,
                        "referred_on": c.referred_on.isoformat() if c.referred_on else None} for c in linked]}


@post("/api/cases/{case_id:int}/agencies")
async def add_agency(request: Request, db: NamedDependency[AsyncSession], registry: NamedDependency[AgencyRegistry],
                     case_id: FromPath[int], data: JSONBody[AgencyIn]) -> dict:
    await cases.add_agency(db, registry, current_actor(request), case_id, data.agency)
    await db.commit()
    return case_json(await cases.load_case(db, case_id), registry)


@get("/api/cases/{case_id:int}/tasks")
async def list_case_tasks(request: Request, db: NamedDependency[AsyncSession],
                          registry: NamedDependency[AgencyRegistry], case_id: FromPath[int]) -> list[dict]:
    case = await cases.case_for(db, current_actor(request), case_id)
    today = utcnow().date()
    return [task_json(t, registry, today) for t in await tasks.case_tasks(db, case.id, today)]


@post("/api/cases/{case_id:int}/tasks")
async def assign_task(request: Request, db: NamedDependency[AsyncSession], registry: NamedDependency[AgencyRegistry],
                      case_id: FromPath[int], data: JSONBody[TaskIn]) -> dict:
    task = await tasks.give_task(db, registry, current_actor(request), case_id, data)
    await db.commit()
    return task_json(task, registry, utcnow().date())


@get("/api/tasks/{task_id:int}")
async def get_task(request: Request, db: NamedDependency[AsyncSession], registry: NamedDependency[AgencyRegistry],
                   task_id: FromPath[int]) -> dict:
    task = await tasks.task_for(db, current_actor(request), task_id, with_history=True)
    return task_json(task, registry, utcnow().date(), history=True)


@patch("/api/tasks/{task_id:int}")
async def change_task(request: Request, db: NamedDependency[AsyncSession], registry: NamedDependency[AgencyRegistry],
                      task_id: FromPath[int], data: JSONBody[TaskStatusIn]) -> dict:
    task = await tasks.change_status(db, registry, current_actor(request), task_id,
                                     status=data.status, version=data.version, reason=data.reason)
    await db.commit()
    return task_json(await tasks.task_for(db, current_actor(request), task.id, with_history=True), registry, utcnow().date(), history=True)
