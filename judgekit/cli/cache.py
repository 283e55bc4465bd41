"""``judgekit cache path|stats|clear``: where the response cache is, what it holds, and emptying it.

The cache is the folder ``JUDGEKIT_CACHE_DIR`` names, else the user's cache folder; every run, sweep
and ``load_judge`` shares it. ``path`` and ``stats`` never create it.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from judgekit.cli.options import FORMAT, OutputFormat
from judgekit.errors import BadInput


def register(app: typer.Typer) -> None:
    """Attach this command group to the main app."""
    group = typer.Typer(help="See or empty the response cache every run shares (JUDGEKIT_CACHE_DIR).",
                        no_args_is_help=True)
    group.command("path")(path_command)
    group.command("stats")(stats_command)
    group.command("clear")(clear_command)
    app.add_typer(group, name="cache")


def path_command() -> None:
    """Print the cache file's location (it may not exist yet).

    Example: du -h "$(judgekit cache path)"
    """
    from judgekit.backends.cache import cache_file

    typer.echo(str(cache_file()))


def stats_command(format: OutputFormat = FORMAT) -> None:
    """Show how many answers the cache holds, its size on disk, and its entries per model.

    Example: judgekit cache stats --format json
    """
    from judgekit.backends.cache import ResponseCache, cache_file

    path = cache_file()
    models: list[tuple[str, str, int]] = []
    if path.is_file():
        cache = ResponseCache(path)
        try:
            models = cache.entries_by_model()
        finally:
            cache.close()
    entries, size = sum(n for _, _, n in models), _bytes_on_disk(path)
    if format is OutputFormat.json:
        rows = [{"provider": provider, "model": model, "entries": n} for provider, model, n in models]
        typer.echo(json.dumps({"path": str(path), "exists": path.is_file(), "entries": entries, "bytes": size,
                               "models": rows}, indent=2))
        return
    console = Console()
    console.print(f"{path}: {entries:,} answers, {_size(size)}" if path.is_file() else f"{path}: no cache yet",
                  markup=False, highlight=False)
    if models:
        table = Table("provider", "model", "entries")
        for provider, model, n in models:
            table.add_row(provider, model, f"{n:,}")
        console.print(table)


def clear_command(
    yes: bool = typer.Option(False, "--yes", help="Confirm: delete every stored answer (required)."),
) -> None:
    """Delete every stored answer; later runs ask the model again (and pay again).

    Example: judgekit cache clear --yes
    """
    from judgekit.backends.cache import ResponseCache, cache_file

    path = cache_file()
    if not yes:
        raise BadInput(f"cache clear would delete {_entries(path):,} stored answers from {path}; pass --yes to confirm")
    if not path.is_file():
        typer.echo(f"{path}: no cache, nothing to clear")
        return
    cache = ResponseCache(path)
    try:
        deleted = cache.clear()
    finally:
        cache.close()
    typer.echo(f"{path}: deleted {deleted:,} answers, {_size(_bytes_on_disk(path))} left")


def _entries(path: Path) -> int:
    from judgekit.backends.cache import ResponseCache

    if not path.is_file():
        return 0
    cache = ResponseCache(path)
    try:
        return len(cache)
    finally:
        cache.close()


def _bytes_on_disk(path: Path) -> int:
    """The database file and its write-ahead log, which holds recent answers until a checkpoint."""
    files = (path, path.with_name(path.name + "-wal"))
    return sum(f.stat().st_size for f in files if f.is_file())


def _size(n: int) -> str:
    for unit in ("bytes", "KB", "MB"):
        if n < 1000:
            return f"{n:,} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} GB"
