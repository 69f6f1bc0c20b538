"""From CSV cells to the dict ``clean_contact`` checks, following the import's mapping."""

from __future__ import annotations

from gateway.imports.reader import unescape
from gateway.validation import AccountVocabulary, FieldError, clean_contact


class RowBuilder:
    """Turns a record's cells into contact data; knows which column each field came from."""

    def __init__(self, columns: list[str], mapping: dict[str, str | None],
                 vocab: AccountVocabulary):
        self.vocab = vocab
        self.memo: dict = {}  # verdicts on repeating cells (see clean_contact)
        self.plan = [(index, field, field in vocab.fields)
                     for index, column in enumerate(columns)
                     if (field := mapping.get(column))]
        self.column_of = {field: column for column, field in mapping.items() if field}

    def data(self, cells: list[str]) -> dict:
        """The mapped, non-empty cells as contact data (custom fields nested)."""
        data: dict = {}
        custom: dict = {}
        size = len(cells)
        for index, field, is_custom in self.plan:
            if index < size:
                cell = cells[index]
                if cell:
                    if cell[0] == "'":
                        cell = unescape(cell)
                    (custom if is_custom else data)[field] = cell
        data["custom_fields"] = custom
        return data

    def check(self, cells: list[str]) -> tuple[dict, list[FieldError]]:
        """Clean values and errors; language and source may be missing (fallbacks)."""
        return clean_contact(self.vocab, self.data(cells), creating=False, memo=self.memo)

    def column(self, field: str) -> str:
        """The file's column for a field (the field name when unmapped)."""
        return self.column_of.get(field, field)
