"""The information agencies recorded on the case, as the reader's agency may see it (the gate)."""

from coordinator import consents, gate, information, overrides, policy
from coordinator.web.sections.section import Reader, Section

# The fixed choices the sharing forms offer.
CHOICES = {"natures": information.NATURES, "sensitivities": information.SENSITIVITIES,
           "methods": consents.METHODS, "legal_bases": overrides.LEGAL_BASES}


async def load(reader: Reader) -> dict:
    return {"items": await gate.visible_items(reader.db, reader.registry, reader.actor, reader.case.id, channel="page"),
            "may_see_disclosures": policy.may_see_disclosures(reader.actor, reader.case), "choices": CHOICES}


SECTION = Section("items", "Information", "sections/_items.html",
                  frozenset({"case", "agencies", "items", "consents", "overrides"}), load)
