"""The proctor console: a live, pushed view of every terminal in a room, and its controls."""
