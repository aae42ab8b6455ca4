"""Versioned SQL migrations of the billing database, the same files on every engine.

Files are NNNN_name.sql; statements are separated by semicolons at line ends.
"""

from dataclasses import dataclass
from pathlib import Path

_DIRECTORY = Path(__file__).parent


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    statements: list[str]


def all_migrations() -> list[Migration]:
    migrations = []
    for path in sorted(_DIRECTORY.glob("[0-9][0-9][0-9][0-9]_*.sql")):
        version, name = path.stem.split("_", 1)
        lines = [line for line in path.read_text().splitlines() if not line.startswith("--")]
        statements = [s.strip() for s in "\n".join(lines).split(";\n") if s.strip().strip(";")]
        migrations.append(Migration(int(version), name, [s.rstrip(";") for s in statements]))
    return migrations


def pending(applied: set[int]) -> list[Migration]:
    return [migration for migration in all_migrations() if migration.version not in applied]
