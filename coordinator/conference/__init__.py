"""The live case conference: scheduling, participation, the meeting, roles, actions, its state and minutes."""
