"""``examserver demo``: seed the demo world idempotently, then serve."""

from __future__ import annotations

import click


@click.command("demo")
@click.option("--db", "db_path", default=None, help="Database URL or SQLite file path.")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--seed-only", is_flag=True, help="Seed and exit without serving.")
@click.option("--json", "as_json", is_flag=True, help="Print the demo world as JSON on stdout.")
def demo(db_path: str | None, host: str, port: int, seed_only: bool, as_json: bool) -> None:
    """Seed the demo world (running it twice changes nothing), then serve."""
    raise click.ClickException("demo seeding is being written")
