"""A complete referral form, as the API and the page take it, for tests that create cases."""

from __future__ import annotations

import datetime as dt

from coordinator.lifecycle.referral_form import CHECKLIST

SAFE_NUMBER = "07700 900461"


def answers(yes: int) -> list[str]:
    """The checklist with ``yes`` answers yes, one not known, the rest no."""
    return ["yes"] * yes + ["not_known"] + ["no"] * (len(CHECKLIST) - yes - 1)


def form(**changes) -> dict:
    """The referral form's fields as the API takes them (15 of 24 answered yes)."""
    return {"aware": "yes", "safe_number": SAFE_NUMBER, "safe_times": "weekdays 9-11", "message_ok": "no",
            "safe_word": "bluebell", "fears": "Mark, and his brother Dan", "language": "Polish", "interpreter": "yes",
            "access_needs": "none", "checklist": answers(15), "concerns": "Threats to kill since the separation",
            "children_schools": "Ella: St Anne's primary", "perpetrator": "Mark Hill, born 1984, 4 Elm Row",
            "duty_explained_by": "PC Rowe", "duty_explained_on": dt.date.today().isoformat(), **changes}


def page_fields(yes: int = 15, **changes) -> dict:
    """The same form as the new-case page posts it (the referring agency included)."""
    fields = {key: value for key, value in form().items() if key != "checklist"}
    return {**fields, "referring_agency": "police",
            **{f"checklist_{n}": answer for n, answer in enumerate(answers(yes))}, **changes}
