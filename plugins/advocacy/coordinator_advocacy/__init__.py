"""Advocacy: the independent domestic-abuse advocate (IDVA) who speaks for the survivor at the
conference, an agency installed from a package of its own.

Its tasks follow the interagency case-management training (advocating "for survivor's views and
opinions to be followed and her rights upheld", meeting providers "so the survivor doesn't have to
repeat their story", survivors "in control of which services are involved") and the legal advocacy
of the case-management techniques. It works with her on domestic-abuse cases only.
"""

from coordinator import hookimpl
from coordinator.hookspecs import (
    AgencyIdentity,
    DueOffset,
    InformationCategory,
    Responsibility,
    ServiceEntry,
    TaskTemplate,
)

KEY = "advocacy"
DOMESTIC = "domestic_abuse"

TASKS = [
    TaskTemplate("Ask her views and wishes before the meeting and record them on the case", "victim",
                 due=DueOffset.before_the_meeting()),
    TaskTemplate("Advocate for her views and opinions to be followed and her rights upheld", "victim", standing=True),
    TaskTemplate("Make sure she is in control of which services are involved", "victim", standing=True),
    TaskTemplate("Meet with service providers to give the information about the abuse, so that she does not have "
                 "to repeat her story", "victim"),
    TaskTemplate("Invite her and her close supports to the case conference, if possible and desired", "victim"),
    TaskTemplate("Provide information about her legal rights and options, including protection orders, custody "
                 "arrangements and divorce proceedings", "victim"),
    TaskTemplate("Accompany her to service providers and court appearances", "victim"),
]
CHILDREN_TASKS = [
    TaskTemplate("Talk through the children's safety with her and bring her view of it to the meeting", "children"),
]

SERVICES = [
    ServiceEntry("Independent domestic violence advocate (IDVA)", "advocacy",
                 "Speaks for her at the case conference, with police and at court; safety planning with her",
                 "IDVA duty line 0300 555 0101 (weekdays 9-17)"),
    ServiceEntry("Court accompaniment", "legal advice",
                 "Protection orders, custody and divorce proceedings explained; accompanies her to hearings",
                 "IDVA duty line 0300 555 0101"),
    ServiceEntry("Women's refuge referrals", "shelter", "Emergency accommodation for women and children, referred by "
                 "the advocate", "Refuge line 0300 555 0102 (24 hours)"),
]


@hookimpl
def agency_identity():
    return AgencyIdentity(key=KEY, name="Advocacy (IDVA)")


@hookimpl
def agency_task_list(case):
    if case.kind != DOMESTIC:
        return []
    return TASKS + (CHILDREN_TASKS if case.has_children else [])


@hookimpl
def agency_information_categories():
    # Her views and wishes as the conference hears them are the case's own section (recorded by whoever
    # holds victim contact); this category keeps the advocate's notes of what she said, in her words.
    return [
        InformationCategory("advocacy.contact_history", "Contact history", "high"),
        InformationCategory("advocacy.safety_planning", "Safety planning with her", "high"),
        InformationCategory("advocacy.views_and_wishes", "Her views and wishes (the advocate's notes)", "high"),
    ]


@hookimpl
def agency_responsibilities():
    return [
        Responsibility("victim_contact", "Victim contact", by_default=True),
        Responsibility("meeting_advocacy", "Advocacy at the meeting", by_default=True),
    ]


@hookimpl
def agency_services():
    return list(SERVICES)
