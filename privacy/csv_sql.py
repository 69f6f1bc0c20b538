"""The export's CSV line of a contact, written by the database itself (one text column per
row): the cells are formatted, formula-guarded and quoted in SQL, where it costs a fraction
of doing it in Python.

Every cell is quoted (as the csv module's QUOTE_ALL writes it); labels and multiple choices
are comma-separated; a cell starting with a formula character gets the import's guard, a
leading ``'`` (undone when the import reads the file back); instants are ISO 8601 in UTC.
Label lists take a string fast path unless they hold a JSON escape, when the database's JSON
functions split them.
"""

from __future__ import annotations

from gateway.db import is_postgres
from gateway.imports.reader import FORMULA_STARTS

_FORMULA_CODES = ", ".join(str(ord(c)) for c in FORMULA_STARTS)


def literal(value: str) -> str:
    """A constant as an SQL string literal (expressions repeat it: no bound parameters)."""
    return "'" + value.replace("'", "''") + "'"


class Line:
    """Builds the SQL of one row's line for a delimiter and the account's custom fields."""

    def __init__(self, delimiter: str, custom_fields: list[tuple[str, str]]):
        self.delimiter = delimiter
        self.fields = custom_fields  # (name, type)
        self.pg = is_postgres()
        char = "chr" if self.pg else "char"
        self.marks = [f"{char}({ord(c)})" if ord(c) < 32 else literal(c) for c in FORMULA_STARTS]

    def _find(self, text: str, needle: str) -> str:
        return f"strpos({text}, {needle})" if self.pg else f"instr({text}, {needle})"

    def _guard(self, expr: str) -> str:
        """``expr`` with a leading formula character guarded, testing the first character's
        code point: comparing an integer costs a fraction of ``substr`` and a text ``IN``."""
        first = f"ascii({expr})" if self.pg else f"unicode({expr})"
        return f"CASE WHEN {first} IN ({_FORMULA_CODES}) THEN '''' || {expr} ELSE {expr} END"

    def _labels(self, column: str) -> str:
        """A stored JSON list of labels as ``a,b`` (the cell guarded as a whole: only its
        start can make a formula): by string operations when no label holds a JSON escape,
        else by the JSON functions."""
        backslash = literal(chr(92))
        quote = "'" * 4  # the SQL literal of one quote
        fast = (f"CASE WHEN substr({column}, 3, 1) IN ({', '.join(self.marks)}) "
                f"THEN {quote} ELSE '' END || "
                f"replace(substr({column}, 3, length({column}) - 4), '\", \"', ',')")
        return (f"CASE WHEN {column} IS NULL OR {column} = '[]' THEN '' "
                f"WHEN {self._find(column, backslash)} = 0 THEN {fast} "
                f"ELSE {self._guard(self._split(column))} END")

    def _split(self, json_expr: str, key: str | None = None) -> str:
        """A JSON list (at ``key`` of an object) as ``a,b``, in order."""
        if self.pg:
            source = f"({json_expr})::jsonb" if key is None else f"(cf -> {literal(key)})"
            return ("(SELECT string_agg(v.value, ',' ORDER BY v.n) FROM "  # noqa: S608
                    f"jsonb_array_elements_text({source}) WITH ORDINALITY AS v(value, n))")
        args = json_expr if key is None else f"{json_expr}, {literal(self._path(key))}"
        return ("(SELECT group_concat(j.value, ',') FROM "  # noqa: S608 (constants)
                f"(SELECT value FROM json_each({args}) ORDER BY key) AS j)")

    @staticmethod
    def _path(name: str) -> str:
        return '$."' + name.replace('"', '""') + '"'

    def _custom(self, name: str, kind: str) -> str:
        """One custom field's cell."""
        if self.pg:
            if kind == "multiple_choice":
                return (f"CASE jsonb_typeof(cf -> {literal(name)}) WHEN 'array' THEN "
                        f"{self._guard(self._split('', name))} END")
            text = f"(cf ->> {literal(name)})"
            return self._guard(text) if kind in ("text", "choice") else text
        path = literal(self._path(name))
        kind_sql = f"json_type(custom_fields, {path})"
        if kind == "multiple_choice":
            split = self._guard(self._split("custom_fields", name))
            return f"CASE {kind_sql} WHEN 'array' THEN {split} END"
        value = f"CAST(json_extract(custom_fields, {path}) AS TEXT)"
        if kind in ("text", "choice"):
            value = self._guard(value)
        return (f"CASE {kind_sql} WHEN 'true' THEN 'true' WHEN 'false' THEN 'false' "
                f"WHEN 'null' THEN NULL ELSE {value} END")

    def _instant(self, column: str) -> str:
        """ISO 8601 in UTC (``2024-01-01T10:00:00.5Z``: the fraction as the database keeps
        it; ``to_char`` would cost a third of the whole line)."""
        text = f"CAST({column} AS TEXT)" if self.pg else column
        return f"replace({text}, ' ', 'T') || 'Z'"

    def cells(self) -> list[str]:
        """Each cell of the line, never NULL (a NULL would come out unquoted), in the
        header's order (over a contact row, and ``cf``, its custom fields as jsonb, on
        PostgreSQL). The database quotes them: COPY's FORCE_QUOTE, or SQLite's ``printf``."""
        cells = [self._guard("email"), self._guard("first_name"), self._guard("name"),
                 "language", self._guard("source"), self._labels("preferences"),
                 self._labels("interests"),
                 *[self._custom(name, kind) for name, kind in self.fields],
                 "status", self._instant("created_at"), self._instant("updated_at")]
        return [f"coalesce({cell}, '')" for cell in cells]

    def printf(self) -> str:
        """The whole line as one text (SQLite): ``%w`` writes its argument doubling ``"``,
        in C rather than by ``replace`` and ``||`` on every cell (a third of the export)."""
        cells = self.cells()
        template = self.delimiter.join(['"%w"'] * len(cells))
        return f"printf({literal(template)}, {', '.join(cells)})"
