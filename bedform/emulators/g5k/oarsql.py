"""The SQL subset OAR accepts in resource filters and ``-p`` properties.

``compile_filter("(type='default' or type='disk') AND cluster='parasilo'")``
returns a :class:`Filter` whose ``match(props)`` evaluates the expression on a
resource's property dict. Supported: ``= != <> < <= > >=``, ``[NOT] IN (…)``,
``[NOT] LIKE``, ``IS [NOT] NULL``, ``AND``, ``OR``, ``NOT`` and parentheses.
A property the resource does not have is NULL: every comparison with it is false.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<str>'(?:[^']|'')*'|"[^"]*")
      | (?P<num>-?\d+(?:\.\d+)?)(?![\w.])
      | (?P<op><=|>=|<>|!=|=|<|>|\(|\)|,)
      | (?P<word>[A-Za-z_][\w.]*)
    )""",
    re.X,
)
_KEYWORDS = {"AND", "OR", "NOT", "IN", "LIKE", "IS", "NULL"}

Predicate = Callable[[dict[str, Any]], bool]


class FilterSyntaxError(ValueError):
    """The expression is not in the supported SQL subset."""


@dataclass
class Filter:
    """A compiled filter and the property names it mentions."""

    text: str
    match: Predicate
    properties: set[str] = field(default_factory=set)


def _tokenize(text: str) -> list[tuple[str, Any]]:
    tokens: list[tuple[str, Any]] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise FilterSyntaxError(f"unexpected character at {text[pos : pos + 20]!r}")
        pos = m.end()
        if m.group("str") is not None:
            raw = m.group("str")
            tokens.append(("value", raw[1:-1].replace("''", "'")))
        elif m.group("num") is not None:
            raw = m.group("num")
            tokens.append(("value", float(raw) if "." in raw else int(raw)))
        elif m.group("op") is not None:
            tokens.append(("op", m.group("op")))
        else:
            word = m.group("word")
            if word.upper() in _KEYWORDS:
                tokens.append(("kw", word.upper()))
            else:
                tokens.append(("name", word))
    return tokens


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def _compare(left: Any, op: str, right: Any) -> bool:
    if left is None or right is None:
        return False
    ln, rn = _number(left), _number(right)
    if ln is not None and rn is not None:
        a: Any = ln
        b: Any = rn
    else:
        a, b = str(left), str(right)
    if op == "=":
        return a == b
    if op in ("!=", "<>"):
        return a != b
    if op == "<":
        return a < b
    if op == "<=":
        return a <= b
    if op == ">":
        return a > b
    return a >= b


def _like(value: Any, pattern: str) -> bool:
    if value is None:
        return False
    regex = "".join(".*" if ch == "%" else "." if ch == "_" else re.escape(ch) for ch in pattern)
    return re.fullmatch(regex, str(value), re.S) is not None


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = _tokenize(text)
        self.pos = 0
        self.names: set[str] = set()

    def peek(self) -> tuple[str, Any] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self, kind: str, value: Any = None) -> Any:
        token = self.peek()
        if token is None or token[0] != kind or (value is not None and token[1] != value):
            wanted = value or kind
            got = token[1] if token else "end of expression"
            raise FilterSyntaxError(f"expected {wanted} but found {got!r}")
        self.pos += 1
        return token[1]

    def accept(self, kind: str, value: Any = None) -> bool:
        token = self.peek()
        if token is not None and token[0] == kind and (value is None or token[1] == value):
            self.pos += 1
            return True
        return False

    def parse(self) -> Predicate:
        predicate = self.or_expr()
        if self.peek() is not None:
            raise FilterSyntaxError(f"unexpected {self.peek()[1]!r}")  # type: ignore[index]
        return predicate

    def or_expr(self) -> Predicate:
        terms = [self.and_expr()]
        while self.accept("kw", "OR"):
            terms.append(self.and_expr())
        if len(terms) == 1:
            return terms[0]
        return lambda props: any(t(props) for t in terms)

    def and_expr(self) -> Predicate:
        terms = [self.not_expr()]
        while self.accept("kw", "AND"):
            terms.append(self.not_expr())
        if len(terms) == 1:
            return terms[0]
        return lambda props: all(t(props) for t in terms)

    def not_expr(self) -> Predicate:
        if self.accept("kw", "NOT"):
            inner = self.not_expr()
            return lambda props: not inner(props)
        if self.accept("op", "("):
            inner = self.or_expr()
            self.take("op", ")")
            return inner
        return self.comparison()

    def value(self) -> Any:
        token = self.peek()
        if token is not None and token[0] in ("value", "name"):
            self.pos += 1
            return token[1]
        raise FilterSyntaxError(f"expected a value but found {token[1] if token else 'end'!r}")

    def comparison(self) -> Predicate:
        name = self.take("name")
        self.names.add(name)
        negate = self.accept("kw", "NOT")
        if self.accept("kw", "IN"):
            self.take("op", "(")
            values = [self.value()]
            while self.accept("op", ","):
                values.append(self.value())
            self.take("op", ")")
            return lambda props: (
                props.get(name) is not None
                and any(_compare(props.get(name), "=", v) for v in values) != negate
            )
        if self.accept("kw", "LIKE"):
            pattern = str(self.value())
            return lambda props: (
                props.get(name) is not None and (_like(props.get(name), pattern) != negate)
            )
        if negate:
            raise FilterSyntaxError(f"NOT must be followed by IN or LIKE after {name}")
        if self.accept("kw", "IS"):
            is_not = self.accept("kw", "NOT")
            self.take("kw", "NULL")
            return lambda props: (props.get(name) is None) != is_not
        op = self.take("op")
        if op not in ("=", "!=", "<>", "<", "<=", ">", ">="):
            raise FilterSyntaxError(f"unexpected operator {op!r}")
        right = self.value()
        return lambda props: _compare(props.get(name), op, right)


def compile_filter(text: str) -> Filter:
    """Compile an OAR SQL filter; raise :class:`FilterSyntaxError` on bad syntax."""
    if not text or not text.strip():
        return Filter("", lambda props: True, set())
    parser = _Parser(text)
    predicate = parser.parse()
    return Filter(text.strip(), predicate, parser.names)
