"""``examserver bank``: import and export question banks, and write the import template."""

from __future__ import annotations

import json
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from examserver.question_bank.importing import FORMATS, ImportReport, ImportRequestError


@click.group("bank", help="Import and export question banks.")
def bank_group() -> None:
    pass


@bank_group.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--bank", "bank_code", required=True, help="Code of the bank (created if missing).")
@click.option("--name", "bank_name", default=None, help="Name of the bank if it is created.")
@click.option("--dry-run", is_flag=True, help="Check and report only; write nothing.")
@click.option("--valid-only", is_flag=True, help="Import the valid rows even if others fail.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="auto", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@with_appcontext
def import_command(
    file: Path,
    bank_code: str,
    bank_name: str | None,
    dry_run: bool,
    valid_only: bool,
    fmt: str,
    as_json: bool,
) -> None:
    """Import questions from FILE (xlsx, csv, json or a QTI package); exit 1 if rows fail."""
    from examserver.extensions import db
    from examserver.question_bank.importing import import_file

    try:
        report = import_file(
            db.session(),
            file.read_bytes(),
            file.name,
            bank_code,
            bank_name=bank_name,
            fmt=fmt,
            dry_run=dry_run,
            valid_only=valid_only,
            max_rows=int(current_app.config["EXAMSERVER"]["IMPORT_MAX_ROWS"]),
            media_max_bytes=int(current_app.config["EXAMSERVER"]["MEDIA_MAX_KB"]) * 1024,
        )
        db.session.commit()
    except ImportRequestError as exc:
        db.session.rollback()
        raise click.UsageError(exc.message) from exc
    except BaseException:
        db.session.rollback()
        raise
    if as_json:
        click.echo(json.dumps(report.as_dict(), ensure_ascii=False, indent=1))
    else:
        _print_report(report)
    click.get_current_context().exit(1 if report.rejected else 0)


def _print_report(report: ImportReport) -> None:
    for issue in report.issues:
        click.echo(_issue_line(issue.row, issue.column, issue.letter, issue.code, issue.message,
                               issue.severity), err=issue.is_error)  # fmt: skip
    for row in report.rows:
        if report.dry_run:
            mark = "ok " if row.ok else "ERR"
            click.echo(
                f"{mark} row {row.row}: {row.type or '?'} | {row.stem_preview} | "
                f"{row.answer_display} | {row.topic}"
            )
        for issue in row.issues:
            click.echo(
                _issue_line(issue.row, issue.column, issue.letter, issue.code, issue.message,
                            issue.severity),
                err=issue.is_error,
            )  # fmt: skip
    valid, rejected = len(report.valid_rows), len(report.rejected_rows)
    click.echo(
        f"{report.filename} ({report.format}): {len(report.rows)} rows, {valid} valid, "
        f"{rejected} rejected, {report.error_count} errors, {report.warning_count} warnings"
    )
    if report.dry_run:
        click.echo("dry run: nothing was written")
    elif report.imported:
        created = " (new bank)" if report.bank_created else ""
        click.echo(f"imported {report.imported} questions into bank {report.bank_code}{created}")
    else:
        click.echo("nothing was imported: fix the errors, or use --valid-only")


def _issue_line(
    row: int | None, column: str, letter: str, code: str, message: str, severity: str
) -> str:
    where = f"row {row}" if row is not None else "file"
    if column:
        where += f", column {column}" + (f" ({letter})" if letter else "")
    return f"{severity}: {where}: {code}: {message}"


@bank_group.command("export")
@click.option("--bank", "bank_code", required=True, help="Code of the bank to export.")
@click.option("--format", "fmt", type=click.Choice(("xlsx", "csv", "json", "qti")), required=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option(
    "--encoding",
    type=click.Choice(("utf-8", "gb18030")),
    default="utf-8",
    show_default=True,
    help="CSV only: UTF-8 (with BOM) or GB18030.",
)
@with_appcontext
def export_command(bank_code: str, fmt: str, output: Path, encoding: str) -> None:
    """Export a bank's active questions (current versions) to a file."""
    from examserver.extensions import db
    from examserver.question_bank.exporting import export_bank
    from examserver.question_bank.operations import get_bank

    bank = get_bank(db.session(), bank_code)
    if bank is None:
        raise click.ClickException(f"bank_not_found: there is no bank {bank_code!r}")
    output.write_bytes(export_bank(db.session(), bank, fmt, encoding))
    click.echo(f"exported bank {bank.code} as {fmt} to {output}")


@bank_group.command("template")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option("--format", "fmt", type=click.Choice(("auto", "xlsx", "csv")), default="auto")
@click.option("--encoding", type=click.Choice(("utf-8", "gb18030")), default="utf-8")
def template_command(output: Path, fmt: str, encoding: str) -> None:
    """Write the import template (.xlsx with a help sheet, or .csv) to a file."""
    from examserver.question_bank.exporting import template_csv, template_xlsx

    if fmt == "auto":
        fmt = "csv" if output.suffix.lower() == ".csv" else "xlsx"
    output.write_bytes(template_xlsx() if fmt == "xlsx" else template_csv(encoding))
    click.echo(f"wrote the import template to {output}")
