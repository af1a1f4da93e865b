"""`alvh audit`: verify the decision journal, query it, show a record, replay a decision, export it.

alvh audit verify [--anchor FILE]         check the hash chain, anchor and blobs (exit 1 if broken)
alvh audit list [filters] [--json]        records as a table (or JSON)
alvh audit show ID [--blob] [--json]      one record (ID: seq or hash prefix)
alvh audit replay ID | --all              re-run the planner on recorded inputs, compare the plans
alvh audit export --format csv|html       CSV rows or one self-contained HTML report
alvh audit anchor                         the anchor (last seq and hash) to keep off the machine
alvh audit reindex                        rebuild the SQLite index from the ledger
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.cli.common import (
    EXIT_OK,
    EXIT_REFUSED,
    EXIT_USAGE,
    CliError,
    add_config_argument,
    add_state_dir_argument,
    config_from_args,
    print_json,
)

if TYPE_CHECKING:
    from bot.journal.index import IndexRow, Query
    from bot.journal.reader import JournalReader


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "audit",
        help="verify, query, replay and export the decision journal",
        description="Audit the decision journal in <state dir>/journal.",
    )
    actions = parser.add_subparsers(dest="audit_action", required=True, metavar="ACTION")

    verify = _sub(actions, "verify", "check the hash chain, the anchor and the blobs; exit 1 naming the first problem")
    verify.add_argument(
        "--anchor", type=Path, metavar="FILE", help="also check against an anchor copied earlier (`alvh audit anchor`)"
    )
    verify.add_argument("--no-blobs", action="store_true", help="skip checking the snapshot blobs")
    verify.add_argument(
        "--deep", action="store_true", help="also parse every payload and check its canonical form (slower)"
    )
    verify.add_argument("--json", action="store_true", help="print the report as JSON")
    verify.set_defaults(handler=_verify)

    listing = _sub(actions, "list", "list records, oldest first")
    _add_filters(listing)
    listing.add_argument(
        "--kind", action="append", default=[], metavar="KIND", help="record kind(s): repeatable or comma-separated"
    )
    listing.add_argument("--slot", metavar="SLOT", help="records about a slot, e.g. near-1")
    listing.add_argument("--intent", metavar="ID", help="records about an intent (the IB orderRef)")
    listing.add_argument("--order-id", type=int, metavar="N", help="records about an IB order id")
    listing.add_argument("--perm-id", type=int, metavar="N", help="records about an IB perm id")
    listing.add_argument("--cycle", metavar="CYCLE_ID", help="records of one evaluation")
    listing.add_argument(
        "--limit",
        type=_positive_int,
        metavar="N",
        help="only the last N matching records (without it a table shows the last 1000)",
    )
    listing.add_argument("--json", action="store_true", help="print the records as JSON")
    listing.add_argument("--full", action="store_true", help="with --json: whole records, not index rows")
    listing.set_defaults(handler=_list)

    show = _sub(actions, "show", "print one record in full")
    show.add_argument("id", metavar="ID", help="seq number (123 or #123) or hash prefix (6+ hex digits)")
    show.add_argument("--blob", action="store_true", help="also print a snapshot record's stored inputs")
    show.add_argument("--json", action="store_true", help="print as JSON")
    show.set_defaults(handler=_show)

    replay = _sub(
        actions,
        "replay",
        "re-run the planner on a decision's recorded snapshot, book and config; exit 1 if the plan differs",
    )
    replay.add_argument("id", nargs="?", metavar="ID", help="a decision (or any record of its evaluation)")
    replay.add_argument("--all", action="store_true", help="replay every decision (within --since/--until)")
    _add_filters(replay)
    replay.add_argument(
        "--recorded-config",
        action="store_true",
        help="ignore --config's strategy and replay under the recorded one (the default without --config)",
    )
    replay.add_argument("--json", action="store_true", help="print the outcome as JSON")
    replay.set_defaults(handler=_replay)

    export = _sub(actions, "export", "write the journal as CSV or as one self-contained HTML report")
    export.add_argument("--format", choices=("csv", "html"), required=True)
    export.add_argument("--out", type=Path, metavar="FILE", help="output file (default: standard output)")
    _add_filters(export)
    export.set_defaults(handler=_export)

    anchor = _sub(actions, "anchor", "print the anchor (last seq and hash) for copying off the machine")
    anchor.set_defaults(handler=_anchor)

    reindex = _sub(actions, "reindex", "rebuild the SQLite index from the ledger (the bot must be stopped)")
    reindex.set_defaults(handler=_reindex)


def _sub(actions: Any, name: str, help_text: str) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = actions.add_parser(name, help=help_text, description=help_text)
    add_config_argument(parser)
    add_state_dir_argument(parser)
    return parser


def _add_filters(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--since",
        type=_moment,
        metavar="TIME",
        help="from this time (ISO date or date-time; UTC unless it has an offset)",
    )
    parser.add_argument(
        "--until",
        type=_until_moment,
        metavar="TIME",
        help="before this time; a bare date includes that whole day (UTC)",
    )


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be at least 1")
    return value


def _parse_moment(text: str) -> tuple[dt.datetime, bool]:
    try:
        if len(text) == 10:
            day = dt.date.fromisoformat(text)
            return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC), True
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a date (2024-01-31) or date-time (2024-01-31T15:30, 2024-01-31T10:30-05:00)"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment, False


def _moment(text: str) -> str:
    from bot.journal.encoding import format_ts

    return format_ts(_parse_moment(text)[0])


def _until_moment(text: str) -> str:
    from bot.journal.encoding import format_ts

    moment, date_only = _parse_moment(text)
    return format_ts(moment + dt.timedelta(days=1) if date_only else moment)


def _journal_directory(args: argparse.Namespace) -> Path:
    from bot.journal import journal_dir

    return journal_dir(config_from_args(args).state.dir)


def _reader(args: argparse.Namespace) -> JournalReader:
    from bot.journal.errors import JournalError
    from bot.journal.reader import JournalReader

    directory = _journal_directory(args)
    try:
        reader = JournalReader.open(directory)
    except JournalError as error:
        raise CliError(str(error)) from None
    if reader.stale_note:
        print(f"alvh: note: {reader.stale_note}", file=sys.stderr)
    return reader


def _query(args: argparse.Namespace, **overrides: Any) -> Query:
    from bot.journal.index import Query

    values: dict[str, Any] = {"since": getattr(args, "since", None), "until": getattr(args, "until", None)}
    values.update(overrides)
    return Query(**values)


# --------------------------------------------------------------------------------------------------
# verify


def _verify(args: argparse.Namespace) -> int:
    from bot.journal.anchor import AnchorError, parse_anchor
    from bot.journal.verify import verify

    directory = _journal_directory(args)
    external = None
    if args.anchor is not None:
        try:
            external = parse_anchor(args.anchor.read_text(encoding="utf-8"), str(args.anchor))
        except OSError as error:
            raise CliError(f"cannot read {args.anchor}: {error.strerror or error}", EXIT_USAGE) from None
        except AnchorError as error:
            raise CliError(str(error), EXIT_USAGE) from None
    if not directory.is_dir():
        raise CliError(f"no journal in {directory}")
    started = time.perf_counter()
    report = verify(directory, external_anchor=external, check_blobs=not args.no_blobs, deep=args.deep)
    elapsed = time.perf_counter() - started
    if args.json:
        document = report.to_json()
        document["seconds"] = round(elapsed, 3)
        print_json(document)
        return EXIT_OK if report.ok else EXIT_REFUSED
    files = report.files
    span = f" ({files[0]} .. {files[-1]})" if len(files) > 1 else (f" ({files[0]})" if files else "")
    print(f"journal: {directory}")
    print(f"records: {report.records:,} valid in {len(files)} file(s){span}")
    if report.ok:
        print(f"chain:   intact, seq 1..{report.last_seq}, last hash {report.last_hash}")
        if report.anchor is not None:
            print(f"anchor:  seq {report.anchor.seq} matches")
        if external is not None:
            print(f"given anchor: seq {external.seq} matches")
        if not args.no_blobs:
            print(f"blobs:   {report.blobs_checked} verified")
    for note in report.notes:
        print(f"note:    {note}")
    if report.ok:
        print(f"OK ({elapsed:.2f} s)")
        return EXIT_OK
    first, *others = report.problems
    print(f"FAILED: {first.kind}: {first.message}")
    for problem in others[:20]:
        print(f"  also: {problem.kind}: {problem.message}")
    if len(others) > 20:
        print(f"  ... and {len(others) - 20} more")
    if report.damaged_lines:
        print(f"  {report.damaged_lines} line(s) in all fail their own check")
    return EXIT_REFUSED


# --------------------------------------------------------------------------------------------------
# list / show


def _list(args: argparse.Namespace) -> int:
    from bot.journal.encoding import KIND_PATTERN

    for kind in args.kind:
        for part in kind.split(","):
            if not KIND_PATTERN.match(part.strip()):
                raise CliError(f"--kind {part!r} is not a record kind", EXIT_USAGE)
    kinds = [part.strip() for kind in args.kind for part in kind.split(",") if part.strip()]
    # a table of a whole year is of no use on a terminal: without --limit it shows the latest rows
    limit = args.limit if args.limit is not None or args.json else TABLE_ROWS + 1
    query = _query(
        args,
        kinds=kinds,
        slot=args.slot,
        intent=args.intent,
        order_id=args.order_id,
        perm_id=args.perm_id,
        cycle_id=args.cycle,
        limit=limit,
    )
    with _reader(args) as reader:
        rows = reader.query(query)
        if args.limit is None and not args.json and len(rows) > TABLE_ROWS:
            rows = rows[1:]
            print(
                f"alvh: showing the last {TABLE_ROWS} matching records; narrow with --since/--kind/... or "
                "give --limit N",
                file=sys.stderr,
            )
        if args.json:
            if args.full:
                print_json({"records": [reader.load(row).to_json() for row in rows]})
            else:
                print_json({"records": [row.to_json() for row in rows]})
            return EXIT_OK
        _print_table(rows)
    return EXIT_OK


TABLE_ROWS = 1000
KIND_STYLES = {
    "decision": "bold cyan",
    "intent": "yellow",
    "sent": "yellow",
    "fill": "green",
    "harvest_fill": "bold green",
    "gate": "magenta",
    "error": "bold red",
    "halt": "bold red",
    "alert": "red",
    "operator": "bold",
}


def _print_table(rows: list[IndexRow]) -> None:
    from rich.table import Table

    table = Table(show_lines=False, header_style="bold", pad_edge=False, expand=False)
    table.add_column("seq", justify="right", no_wrap=True)
    table.add_column("time (UTC)", no_wrap=True)
    table.add_column("kind", no_wrap=True)
    table.add_column("cycle", no_wrap=True)
    table.add_column("slot")
    table.add_column("intent", overflow="fold")
    table.add_column("what", overflow="fold")
    for row in rows:
        style = KIND_STYLES.get(row.kind, "")
        table.add_row(
            str(row.seq),
            row.ts[:19].replace("T", " "),
            f"[{style}]{row.kind}[/]" if style else row.kind,
            (row.cycle_id or "")[-6:],
            _some(row.refs.get("slot", []), "slots", 3),
            _some(row.refs.get("intent", []), "intents", 1),
            row.summary,
            style=None,
        )
    console = _console()
    console.print(table)
    console.print(f"{len(rows)} record(s)")


def _some(values: list[str], plural: str, shown: int) -> str:
    return ",".join(values) if len(values) <= shown else f"{len(values)} {plural}"


def _console() -> Any:
    from rich.console import Console

    console = Console(highlight=False)
    if not console.is_terminal:
        # piped output: wide enough that summaries stay on one line
        console = Console(highlight=False, width=200)
    return console


def _show(args: argparse.Namespace) -> int:
    from bot.journal.blobs import BlobError, BlobStore
    from bot.journal.reader import RecordNotFoundError

    with _reader(args) as reader:
        try:
            loaded = reader.resolve(args.id)
        except RecordNotFoundError as error:
            raise CliError(str(error)) from None
        record = loaded.record
        blob_document: Any = None
        blob_problem: str | None = None
        digests = [str(value) for value in record.ref_values("blob")]
        if args.blob and digests:
            try:
                blob_document = BlobStore(reader.directory).read(digests[0])
            except BlobError as error:
                blob_problem = str(error)
        if args.json:
            document: dict[str, Any] = {
                "record": record.to_json(),
                "file": loaded.row.file,
                "offset": loaded.row.offset,
            }
            if args.blob:
                document["blob"] = blob_document
                document["blob_problem"] = blob_problem
            print_json(document)
            return EXIT_OK if blob_problem is None else EXIT_REFUSED
        from rich.json import JSON

        console = _console()
        console.print(f"[bold]record seq {record.seq}[/] · {record.kind} · {record.ts}")
        console.print(f"cycle: {record.cycle_id or '-'}   at: {loaded.row.file} offset {loaded.row.offset}")
        console.print(f"hash: {record.hash} (matches its content)")
        console.print(f"prev: {record.prev_hash}")
        console.print(f"mode: {record.mode}   account: {record.account or '-'}   code: {record.code_version}")
        console.print(f"config: {record.config_hash}")
        console.print(f"what: {loaded.row.summary}")
        import json

        console.print(JSON(json.dumps({"payload": record.payload, "refs": record.refs})))
        if args.blob:
            if not digests:
                console.print("(this record has no blob)")
            elif blob_problem:
                console.print(f"[bold red]blob: {blob_problem}[/]")
                return EXIT_REFUSED
            else:
                console.print(f"blob {digests[0]} (verified):")
                console.print(JSON(json.dumps(blob_document)))
    return EXIT_OK


# --------------------------------------------------------------------------------------------------
# replay


def _replay(args: argparse.Namespace) -> int:
    from bot.journal.blobs import BlobStore
    from bot.journal.reader import RecordNotFoundError
    from bot.journal.replay import ReplayError, render_result, replay_decision

    if args.all == (args.id is not None):
        raise CliError("give a decision ID or --all (not both)", EXIT_USAGE)
    override = None
    if args.config is not None and not args.recorded_config:
        override = config_from_args(args).strategy
    with _reader(args) as reader:
        blobs = BlobStore(reader.directory)
        if args.all:
            decisions = [loaded.record for loaded in reader.records(_query(args, kinds=["decision"]))]
            if not decisions:
                raise CliError("no decision records in this range")
        else:
            if args.since or args.until:
                raise CliError("--since/--until go with --all", EXIT_USAGE)
            try:
                loaded = reader.resolve(args.id)
            except RecordNotFoundError as error:
                raise CliError(str(error)) from None
            decisions = [_decision_for(reader, loaded.record)]
        results = []
        failures: list[dict[str, Any]] = []
        for decision in decisions:
            try:
                results.append(replay_decision(blobs, decision, config=override))
            except ReplayError as error:
                if not args.all:
                    raise CliError(str(error)) from None
                failures.append({"decision_seq": decision.seq, "error": str(error)})
    differing = [result for result in results if not result.identical]
    if args.json:
        if args.all:
            print_json(
                {
                    "replayed": len(results),
                    "identical": len(results) - len(differing),
                    "different": [result.to_json() for result in differing],
                    "failed": failures,
                }
            )
        else:
            print_json(results[0].to_json())
    elif args.all:
        for result in differing:
            print("\n".join(render_result(result, limit=10)))
        for failure in failures:
            print(f"decision seq {failure['decision_seq']}: cannot replay: {failure['error']}")
        print(
            f"{len(results)} decision(s) replayed: {len(results) - len(differing)} identical, "
            f"{len(differing)} different, {len(failures)} could not be replayed"
        )
    else:
        print("\n".join(render_result(results[0])))
    return EXIT_OK if not differing and not failures else EXIT_REFUSED


def _decision_for(reader: JournalReader, record: Any) -> Any:
    """The decision record itself, or the decision of the evaluation the given record belongs to."""
    if record.kind == "decision":
        return record
    if record.cycle_id:
        from bot.journal.index import Query

        rows = reader.query(Query(kinds=["decision"], cycle_id=record.cycle_id))
        if len(rows) == 1:
            return reader.load(rows[0])
        if len(rows) > 1:
            seqs = ", ".join(str(row.seq) for row in rows)
            raise CliError(f"evaluation {record.cycle_id} has several decisions ({seqs}); give one of them")
    raise CliError(f"record seq {record.seq} is a {record.kind} record and belongs to no evaluation with a decision")


# --------------------------------------------------------------------------------------------------
# export / anchor / reindex


def _export(args: argparse.Namespace) -> int:
    from bot.journal.export import ReportHeader, render_html, write_csv
    from bot.journal.verify import verify

    with _reader(args) as reader:
        records = [loaded.record for loaded in reader.records(_query(args))]
        directory = reader.directory
    if args.format == "csv":
        if args.out is None:
            write_csv(records, sys.stdout)
        else:
            with _open_out(args.out) as out:
                write_csv(records, out)
    else:
        report = verify(directory, check_blobs=False)
        if report.ok:
            verification = f"chain intact, {report.records:,} records, last hash {report.last_hash[:16]}…"
        else:
            first = report.problems[0]
            verification = f"FAILED: {first.kind}: {first.message}"
        filters = []
        if args.since:
            filters.append(f"since {args.since}")
        if args.until:
            filters.append(f"before {args.until}")
        header = ReportHeader(
            journal=str(directory),
            verification=verification,
            verified_ok=report.ok,
            generated_from=", ".join(filters) or "all records",
        )
        text = render_html(records, header)
        if args.out is None:
            sys.stdout.write(text)
        else:
            with _open_out(args.out) as out:
                out.write(text)
    if args.out is not None:
        print(f"wrote {len(records)} record(s) to {args.out}", file=sys.stderr)
    return EXIT_OK


def _open_out(path: Path) -> Any:
    try:
        return path.open("w", encoding="utf-8", newline="")
    except OSError as error:
        raise CliError(f"cannot write {path}: {error.strerror or error}", EXIT_USAGE) from None


def _anchor(args: argparse.Namespace) -> int:
    import json

    from bot.journal.anchor import ANCHOR_FILE, AnchorError, read_anchor

    directory = _journal_directory(args)
    try:
        anchor = read_anchor(directory / ANCHOR_FILE)
    except AnchorError as error:
        raise CliError(str(error)) from None
    if anchor is None:
        raise CliError(f"no anchor in {directory} (no journal yet?)")
    print(json.dumps(anchor.to_json(), sort_keys=True))
    return EXIT_OK


def _reindex(args: argparse.Namespace) -> int:
    from bot.journal.errors import JournalLockedError
    from bot.journal.files import WriterLock, ledger_files
    from bot.journal.index import INDEX_FILE, JournalIndex

    directory = _journal_directory(args)
    if not ledger_files(directory):
        raise CliError(f"no journal in {directory}")
    lock = WriterLock(directory)
    try:
        lock.acquire()
    except JournalLockedError as error:
        raise CliError(f"{error}; stop it first (its index is kept current while it runs)") from None
    try:
        started = time.perf_counter()
        index = JournalIndex.open_or_recreate(directory / INDEX_FILE)
        try:
            count = index.rebuild(directory)
        finally:
            index.close()
    finally:
        lock.release()
    print(f"indexed {count:,} record(s) in {time.perf_counter() - started:.2f} s")
    return EXIT_OK
