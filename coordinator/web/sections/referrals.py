"""The case's referrals to services (and, once closed, its feedback survey)."""

from coordinator import cases, consents
from coordinator.lifecycle import feedback, referrals
from coordinator.web.sections.section import Reader, Section


async def load(reader: Reader) -> dict:
    db, case = reader.db, reader.case
    rows = await referrals.case_referrals(db, case.id)
    on_case = set(cases.agencies_of(case))
    closed = case.closed_at is not None
    return {
        "referrals": rows,
        "referral_services": await referrals.services_by_id(db, {r.service_id for r in rows}),
        "referral_names": await consents.display_names(db, {e.by_id for r in rows for e in r.history}),
        "referral_agencies": [a for a in reader.registry if a.key not in on_case],
        "referral_directory": [] if closed else await referrals.directory(db),
        "referral_note_kinds": referrals.NOTE_LABELS,
        "survey_given": await feedback.administration_of(db, case.id) if closed else None,
        "survey_close_to_her": await feedback.too_close_to_her(db, case) if closed else frozenset(),
    }


SECTION = Section("referrals", "Referrals", "sections/_referrals.html",
                  frozenset({"case", "agencies", "consents"}), load)
