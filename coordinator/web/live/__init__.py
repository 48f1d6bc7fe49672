"""The live conference over websocket: the hub (fan-out), the one render pipeline, the socket."""
