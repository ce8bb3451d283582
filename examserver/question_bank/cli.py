"""``examserver bank``: import and export question banks."""

from __future__ import annotations

import click


@click.group("bank", help="Import and export question banks.")
def bank_group() -> None:
    pass
