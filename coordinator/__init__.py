"""Case Conference Coordinator: the core. It knows no agency by name; agencies are plugins."""

import pluggy

hookimpl = pluggy.HookimplMarker("coordinator")

__all__ = ["hookimpl"]
