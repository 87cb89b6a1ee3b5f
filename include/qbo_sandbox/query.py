"""Parser for QuickBooks' query language: a tokenizer and a recursive-descent parser.

Grammar (keywords case-insensitive):

    query      := SELECT selection FROM ident [WHERE condition (AND condition)*]
                  [(ORDERBY | ORDER BY) order (, order)*] [STARTPOSITION int] [MAXRESULTS int]
    selection  := COUNT ( * ) | * (, field)* | field (, field)*
    condition  := field (= | < | > | <= | >=) literal
                | field IN ( literal (, literal)* )
                | field LIKE string
    order      := field [ASC | DESC]
    field      := ident (. ident)*
    literal    := string | number | TRUE | FALSE

Strings are single-quoted; a backslash escapes the next quote or backslash. A backslash
before any other character is kept as written, because python-quickbooks escapes quotes but
not backslashes, and `'C:\\dir'` should still mean what its author meant.
`ORDER BY` (two words) is accepted because python-quickbooks' `all()` sends it.
"""

from dataclasses import dataclass
from decimal import Decimal

KEYWORDS = {
    "SELECT",
    "FROM",
    "WHERE",
    "AND",
    "ORDERBY",
    "ORDER",
    "BY",
    "ASC",
    "DESC",
    "STARTPOSITION",
    "MAXRESULTS",
    "IN",
    "LIKE",
    "COUNT",
    "TRUE",
    "FALSE",
}
COMPARISONS = ("<=", ">=", "=", "<", ">")

Literal = str | Decimal | int | bool


class QueryError(ValueError):
    """The query text is malformed; `detail` says where, QBO-style."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


@dataclass(frozen=True)
class Token:
    """One lexical token and where it starts (0-based offset)."""

    kind: str  # IDENT, NUMBER, STRING, OP, LPAREN, RPAREN, COMMA, STAR, DOT, EOF
    text: str
    value: Literal | None
    offset: int


@dataclass(frozen=True)
class Condition:
    """`field op value`; for IN the value is a tuple of literals."""

    field: str
    op: str  # =, <, >, <=, >=, IN, LIKE
    value: Literal | tuple[Literal, ...]


@dataclass(frozen=True)
class OrderKey:
    """One ORDERBY term."""

    field: str
    descending: bool = False


@dataclass(frozen=True)
class Query:
    """A parsed query."""

    entity: str
    count: bool = False
    fields: tuple[str, ...] = ("*",)
    where: tuple[Condition, ...] = ()
    order_by: tuple[OrderKey, ...] = ()
    start_position: int = 1
    max_results: int | None = None


def quote_string(text: str) -> str:
    """Quote a value for a query: backslashes and single quotes escaped with a backslash."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def parse(text: str) -> Query:
    """Parse query text into a Query; raises QueryError with the position of the fault."""
    return _Parser(text, tokenize(text)).parse_query()


def tokenize(text: str) -> list[Token]:
    """Split query text into tokens."""
    tokens: list[Token] = []
    pos = 0
    length = len(text)
    while pos < length:
        char = text[pos]
        if char.isspace():
            pos += 1
        elif char == "'":
            value, end = _read_string(text, pos)
            tokens.append(Token("STRING", text[pos:end], value, pos))
            pos = end
        elif _is_digit(char) or (char == "-" and pos + 1 < length and _is_digit(text[pos + 1])):
            end = pos + 1
            while end < length and _is_digit(text[end]):
                end += 1
            if end + 1 < length and text[end] == "." and _is_digit(text[end + 1]):
                end += 1
                while end < length and _is_digit(text[end]):
                    end += 1
                value: Literal = Decimal(text[pos:end])
            else:
                value = int(text[pos:end])
            if end < length and (text[end].isalpha() or text[end] == "_"):
                raise QueryError(_lexical(text, end, f"unexpected character {text[end]!r}"))
            tokens.append(Token("NUMBER", text[pos:end], value, pos))
            pos = end
        elif char.isalpha() or char == "_":
            end = pos + 1
            while end < length and (text[end].isalnum() or text[end] == "_"):
                end += 1
            tokens.append(Token("IDENT", text[pos:end], None, pos))
            pos = end
        elif text.startswith(("<=", ">="), pos):
            tokens.append(Token("OP", text[pos : pos + 2], None, pos))
            pos += 2
        elif char in "=<>":
            tokens.append(Token("OP", char, None, pos))
            pos += 1
        elif char in "(),*.":
            kind = {"(": "LPAREN", ")": "RPAREN", ",": "COMMA", "*": "STAR", ".": "DOT"}[char]
            tokens.append(Token(kind, char, None, pos))
            pos += 1
        else:
            raise QueryError(_lexical(text, pos, f"unexpected character {char!r}"))
    tokens.append(Token("EOF", "<EOF>", None, length))
    return tokens


def _is_digit(char: str) -> bool:
    """An ASCII digit (str.isdigit also accepts superscripts and other scripts' digits)."""
    return "0" <= char <= "9"


def _read_string(text: str, start: int) -> tuple[str, int]:
    """Read a quoted string starting at the opening quote; returns (value, end offset)."""
    chars: list[str] = []
    pos = start + 1
    while pos < len(text):
        char = text[pos]
        if char == "\\" and pos + 1 < len(text) and text[pos + 1] in "'\\":
            chars.append(text[pos + 1])
            pos += 2
        elif char == "'":
            return "".join(chars), pos + 1
        else:
            chars.append(char)
            pos += 1
    raise QueryError(_lexical(text, start, "unterminated string literal"))


def _line_column(text: str, offset: int) -> tuple[int, int]:
    """1-based line and column of an offset."""
    line = text.count("\n", 0, offset) + 1
    column = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return line, column


def _lexical(text: str, offset: int, what: str) -> str:
    """Detail text of a lexical error."""
    line, column = _line_column(text, offset)
    return f"Lexical error at line {line}, column {column}: {what}."


class _Parser:
    """Recursive-descent parser over a token list."""

    def __init__(self, text: str, tokens: list[Token]) -> None:
        self.text = text
        self.tokens = tokens
        self.index = 0

    # helpers ----------------------------------------------------------------
    @property
    def current(self) -> Token:
        """The token under the cursor."""
        return self.tokens[self.index]

    def advance(self) -> Token:
        """Consume and return the current token."""
        token = self.current
        if token.kind != "EOF":
            self.index += 1
        return token

    def is_keyword(self, *words: str) -> bool:
        """Whether the current token is one of these keywords."""
        token = self.current
        return token.kind == "IDENT" and token.text.upper() in words

    def error(self, expecting: str) -> QueryError:
        """A parse error at the current token."""
        token = self.current
        line, column = _line_column(self.text, token.offset)
        return QueryError(
            f'Encountered "{token.text}" at line {line}, column {column}. '
            f"Was expecting {expecting}."
        )

    def expect_keyword(self, word: str) -> None:
        """Consume a keyword or fail."""
        if not self.is_keyword(word):
            raise self.error(word)
        self.advance()

    def expect(self, kind: str, expecting: str) -> Token:
        """Consume a token of a kind or fail."""
        if self.current.kind != kind:
            raise self.error(expecting)
        return self.advance()

    # grammar ----------------------------------------------------------------
    def parse_query(self) -> Query:
        """query := SELECT selection FROM ident [WHERE ...] [ORDERBY ...] [paging]."""
        self.expect_keyword("SELECT")
        count, fields = self.parse_selection()
        self.expect_keyword("FROM")
        entity = self.parse_identifier("an entity name")
        where: list[Condition] = []
        if self.is_keyword("WHERE"):
            self.advance()
            where.append(self.parse_condition())
            while self.is_keyword("AND"):
                self.advance()
                where.append(self.parse_condition())
        order_by: list[OrderKey] = []
        if self.is_keyword("ORDERBY", "ORDER"):
            if self.advance().text.upper() == "ORDER":
                self.expect_keyword("BY")
            order_by.append(self.parse_order())
            while self.current.kind == "COMMA":
                self.advance()
                order_by.append(self.parse_order())
        start_position = 1
        max_results: int | None = None
        seen: set[str] = set()
        while (
            self.is_keyword("STARTPOSITION", "MAXRESULTS") and self.current.text.upper() not in seen
        ):
            word = self.advance().text.upper()
            seen.add(word)
            number = self.parse_positive_int(word)
            if word == "STARTPOSITION":
                start_position = number
            else:
                max_results = number
        if self.current.kind != "EOF":
            raise self.error(self.expected_after(where, order_by, seen))
        return Query(
            entity=entity,
            count=count,
            fields=fields,
            where=tuple(where),
            order_by=tuple(order_by),
            start_position=start_position,
            max_results=max_results,
        )

    def expected_after(self, where: list, order_by: list, seen: set[str]) -> str:
        """What may follow the clauses read so far (for the error text)."""
        options = []
        if where:
            options.append('"AND"')
        if not where and not order_by and not seen:
            options.append('"WHERE"')
        if not order_by and not seen:
            options.append('"ORDERBY"')
        options += [f'"{w}"' for w in ("STARTPOSITION", "MAXRESULTS") if w not in seen]
        options.append("<EOF>")
        return "one of " + ", ".join(options)

    def parse_selection(self) -> tuple[bool, tuple[str, ...]]:
        """selection := COUNT(*) | * (, field)* | field (, field)*."""
        if self.is_keyword("COUNT"):
            self.advance()
            self.expect("LPAREN", '"("')
            self.expect("STAR", '"*"')
            self.expect("RPAREN", '")"')
            return True, ()
        fields: list[str] = []
        if self.current.kind == "STAR":
            self.advance()
            fields.append("*")
        else:
            fields.append(self.parse_field())
        while self.current.kind == "COMMA":
            self.advance()
            fields.append(self.parse_field())
        return False, tuple(fields)

    def parse_identifier(self, expecting: str) -> str:
        """A name that is not a reserved keyword."""
        token = self.current
        if token.kind != "IDENT" or token.text.upper() in KEYWORDS:
            raise self.error(expecting)
        self.advance()
        return token.text

    def parse_field(self) -> str:
        """field := ident (. ident)*."""
        parts = [self.parse_identifier("a field name")]
        while self.current.kind == "DOT":
            self.advance()
            parts.append(self.parse_identifier('a field name after "."'))
        return ".".join(parts)

    def parse_condition(self) -> Condition:
        """condition := field op literal | field IN (...) | field LIKE string."""
        name = self.parse_field()
        if self.current.kind == "OP":
            op = self.advance().text
            return Condition(name, op, self.parse_literal())
        if self.is_keyword("IN"):
            self.advance()
            self.expect("LPAREN", '"("')
            values = [self.parse_literal()]
            while self.current.kind == "COMMA":
                self.advance()
                values.append(self.parse_literal())
            self.expect("RPAREN", '"," or ")"')
            return Condition(name, "IN", tuple(values))
        if self.is_keyword("LIKE"):
            self.advance()
            token = self.expect("STRING", "a quoted string")
            return Condition(name, "LIKE", token.value)
        raise self.error('one of "=", "<", ">", "<=", ">=", "IN", "LIKE"')

    def parse_literal(self) -> Literal:
        """literal := string | number | TRUE | FALSE."""
        token = self.current
        if token.kind in ("STRING", "NUMBER"):
            self.advance()
            return token.value
        if self.is_keyword("TRUE", "FALSE"):
            self.advance()
            return token.text.upper() == "TRUE"
        raise self.error("a quoted string, a number, true or false")

    def parse_order(self) -> OrderKey:
        """order := field [ASC | DESC]."""
        name = self.parse_field()
        descending = False
        if self.is_keyword("ASC", "DESC"):
            descending = self.advance().text.upper() == "DESC"
        return OrderKey(name, descending)

    def parse_positive_int(self, word: str) -> int:
        """The integer after STARTPOSITION or MAXRESULTS."""
        token = self.current
        if token.kind != "NUMBER" or not isinstance(token.value, int) or token.value < 1:
            if token.kind == "NUMBER" and isinstance(token.value, int) and word == "STARTPOSITION":
                # QBO tolerates STARTPOSITION 0 and reads it as 1.
                if token.value == 0:
                    self.advance()
                    return 1
            raise self.error(f"a positive integer after {word}")
        self.advance()
        return int(token.value)
