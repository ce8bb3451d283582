"""The demo world: real safety question banks, staff, blueprints and exam sessions."""
