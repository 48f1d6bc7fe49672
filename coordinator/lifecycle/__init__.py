"""The case between meetings and at its end: history, events, safety plan, follow-ups,
referrals, closure, feedback, retention and the threat-assessment plan. Services only: no HTTP."""
