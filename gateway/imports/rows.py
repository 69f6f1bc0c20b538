"""From CSV cells to the dict ``clean_contact`` checks, following the import's mapping and
the uploader's fixes of unknown labels."""

from __future__ import annotations

from gateway.imports.reader import unescape
from gateway.validation import AccountVocabulary, FieldError, clean_contact, single_line

# The fields whose unknown values the uploader may fix, and the error code of each.
FIXABLE = {"source": "unknown_source", "interests": "unknown_interest",
           "preferences": "unknown_preference"}
KIND_OF = {"unknown_source": "source", "unknown_interest": "interest",
           "unknown_preference": "preference"}
FIELD_OF = {"source": "source", "interest": "interests", "preference": "preferences"}


def fix_table(fixes: list[dict] | None) -> dict[str, dict[str, str | None]]:
    """{field: {value: replacement, or None to drop it}} from the import's chosen fixes
    ("create" needs none: the label exists once it was chosen)."""
    table: dict[str, dict[str, str | None]] = {}
    for fix in fixes or []:
        if fix.get("action") in ("map", "ignore"):
            replacement = fix.get("to") if fix["action"] == "map" else None
            table.setdefault(FIELD_OF[fix["kind"]], {})[fix["value"]] = replacement
    return table


def apply_fixes(field: str, cell: str, table: dict[str, dict[str, str | None]]) -> str:
    """``cell`` of ``field`` with the chosen fixes applied (mapped values replaced, ignored
    ones dropped); unchanged when no fix concerns it."""
    fixes = table.get(field)
    if not fixes:
        return cell
    if field == "source":
        value = single_line(cell)
        return (fixes[value] or "") if value in fixes else cell
    labels = [single_line(label) for label in cell.split(",")]
    if not any(label in fixes for label in labels):
        return cell
    kept = [fixes[label] if label in fixes else label for label in labels]
    return ",".join(label for label in kept if label)


class RowBuilder:
    """Turns a record's cells into contact data; knows which column each field came from."""

    def __init__(self, columns: list[str], mapping: dict[str, str | None],
                 vocab: AccountVocabulary, fixes: list[dict] | None = None):
        self.vocab = vocab
        self.memo: dict = {}  # verdicts on repeating cells (see clean_contact)
        self.fixes = fix_table(fixes)
        self.plan = [(index, field, field in vocab.fields, field in self.fixes)
                     for index, column in enumerate(columns)
                     if (field := mapping.get(column))]
        self.column_of = {field: column for column, field in mapping.items() if field}

    def data(self, cells: list[str]) -> dict:
        """The mapped, non-empty cells as contact data (custom fields nested)."""
        data: dict = {}
        custom: dict = {}
        size = len(cells)
        for index, field, is_custom, fixed in self.plan:
            if index < size:
                cell = cells[index]
                if cell:
                    if cell[0] == "'":
                        cell = unescape(cell)
                    if fixed:
                        cell = apply_fixes(field, cell, self.fixes)
                    (custom if is_custom else data)[field] = cell
        data["custom_fields"] = custom
        return data

    def check(self, cells: list[str]) -> tuple[dict, list[FieldError]]:
        """Clean values and errors; language and source may be missing (fallbacks)."""
        return clean_contact(self.vocab, self.data(cells), creating=False, memo=self.memo)

    def column(self, field: str) -> str:
        """The file's column for a field (the field name when unmapped)."""
        return self.column_of.get(field, field)
