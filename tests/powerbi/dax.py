"""A small evaluator for the DAX the semantic model's measures use, over rows in memory.

It implements exactly the subset the model needs, with DAX's semantics for it: filter
context (one filter per column; ``CALCULATE`` filter arguments replace the filters on their
column, ``REMOVEFILTERS`` drops a table's or a column's), row context (``SUMX``, ``FILTER``),
BLANK (an empty ``SUM`` or ``COUNTROWS`` is BLANK, BLANK + x = x, ``DIVIDE`` by zero or BLANK is
BLANK), ``VAR … RETURN`` and measure references. Anything else raises
:class:`UnsupportedDax` naming the construct, so a measure outside the subset cannot go
unchecked.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

Row = dict[str, Any]
#: Filter context: (table, column) -> predicate on the column's value.
Filters = dict[tuple[str, str], Callable[[Any], bool]]


class UnsupportedDax(ValueError):
    """The expression uses DAX outside the evaluator's subset."""


_TOKEN = re.compile(
    r"\s*(?:(?P<column>(?:'(?:[^']|'')+'|[A-Za-z_]\w*)\[[^\]]+\])"
    r"|(?P<measure>\[[^\]]+\])"
    r"|(?P<number>\d+(?:\.\d+)?)"
    r"|(?P<string>\"(?:[^\"]|\"\")*\")"
    r"|(?P<name>[A-Za-z_]\w*)"
    r"|(?P<op><=|>=|<>|&&|\|\||[-+*/=<>(),]))"
)


def tokenize(text: str) -> list[tuple[str, str]]:
    tokens, pos = [], 0
    text = text.strip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match or match.end() == pos:
            raise UnsupportedDax(f"cannot read {text[pos : pos + 20]!r}")
        kind = match.lastgroup or ""
        tokens.append((kind, match.group(kind)))
        pos = match.end()
        while pos < len(text) and text[pos].isspace():
            pos += 1
    return tokens


@dataclass
class Node:
    kind: str  # number, string, column, measure, var, call, binary, unary, let
    value: Any = None
    args: tuple[Node, ...] = ()


def _column(text: str) -> tuple[str, str]:
    table, column = text[:-1].split("[", 1)
    if table.startswith("'"):
        table = table[1:-1].replace("''", "'")
    return table, column


class _Parser:
    def __init__(self, tokens: list[tuple[str, str]]):
        self.tokens, self.i = tokens, 0

    def peek(self, value: str | None = None) -> bool:
        if self.i >= len(self.tokens):
            return False
        kind, text = self.tokens[self.i]
        return value is None or (text.upper() == value.upper() and kind in ("name", "op"))

    def take(self, value: str | None = None) -> tuple[str, str]:
        if value is not None and not self.peek(value):
            got = self.tokens[self.i][1] if self.i < len(self.tokens) else "the end"
            raise UnsupportedDax(f"expected {value!r}, found {got!r}")
        token = self.tokens[self.i]
        self.i += 1
        return token

    def expression(self) -> Node:
        if self.peek("VAR"):
            bindings = []
            while self.peek("VAR"):
                self.take("VAR")
                name = self.take()[1]
                self.take("=")
                bindings.append(Node("bind", name, (self.expression(),)))
            self.take("RETURN")
            return Node("let", None, (*bindings, self.expression()))
        return self.binary(0)

    LEVELS = (("||",), ("&&",), ("=", "<>", "<", ">", "<=", ">="), ("+", "-"), ("*", "/"))

    def binary(self, level: int) -> Node:
        if level == len(self.LEVELS):
            return self.unary()
        left = self.binary(level + 1)
        while self.i < len(self.tokens) and self.tokens[self.i][1] in self.LEVELS[level]:
            op = self.take()[1]
            left = Node("binary", op, (left, self.binary(level + 1)))
        return left

    def unary(self) -> Node:
        if self.peek("-"):
            self.take()
            return Node("unary", "-", (self.unary(),))
        if self.peek("NOT"):
            self.take()
            return Node("unary", "NOT", (self.unary(),))
        return self.primary()

    def primary(self) -> Node:
        kind, text = self.take()
        if kind == "number":
            return Node("number", float(text) if "." in text else int(text))
        if kind == "string":
            return Node("string", text[1:-1].replace('""', '"'))
        if kind == "column":
            return Node("column", _column(text))
        if kind == "measure":
            return Node("measure", text[1:-1])
        if text == "(":
            node = self.expression()
            self.take(")")
            return node
        if kind == "name" and self.peek("("):
            self.take("(")
            args = []
            while not self.peek(")"):
                args.append(self.expression())
                if not self.peek(")"):
                    self.take(",")
            self.take(")")
            return Node("call", text.upper(), tuple(args))
        if kind == "name":
            return Node("var", text)
        raise UnsupportedDax(f"unexpected {text!r}")


def parse(text: str) -> Node:
    parser = _Parser(tokenize(text))
    node = parser.expression()
    if parser.i != len(parser.tokens):
        raise UnsupportedDax(f"unexpected {parser.tokens[parser.i][1]!r}")
    return node


def _add(a: Any, b: Any, sign: int) -> Any:
    if a is None and b is None:
        return None
    if isinstance(a, datetime) and isinstance(b, int | float):
        return a + sign * timedelta(days=b)
    return (a or 0) + sign * (b or 0)


class Model:
    """Tables as lists of rows, and the measures (name -> (home table, DAX text))."""

    def __init__(self, tables: dict[str, list[Row]], measures: dict[str, str]):
        self.tables = tables
        self.measures: dict[str, Node] = {}
        for name, text in measures.items():
            try:
                self.measures[name] = parse(text)
            except UnsupportedDax as exc:
                raise UnsupportedDax(f"measure {name!r}: {exc}") from None

    def measure(self, name: str, filters: Filters) -> Any:
        try:
            return self._eval(self.measures[name], filters, None, {})
        except UnsupportedDax as exc:
            raise UnsupportedDax(f"measure {name!r}: {exc}") from None

    # --- evaluation ---------------------------------------------------------------------------

    def _visible(self, table: str, filters: Filters) -> list[Row]:
        if table not in self.tables:
            raise UnsupportedDax(f"unknown table {table!r}")
        checks = [(c, f) for (t, c), f in filters.items() if t == table]
        return [r for r in self.tables[table] if all(f(r[c]) for c, f in checks)]

    def _rows(self, node: Node, filters: Filters, env: dict) -> tuple[str, list[Row]]:
        """A table expression: a table name, or FILTER(table, condition)."""
        if node.kind == "var" and node.value in self.tables:
            return node.value, self._visible(node.value, filters)
        if node.kind == "call" and node.value == "FILTER" and len(node.args) == 2:
            table, rows = self._rows(node.args[0], filters, env)
            return table, [r for r in rows if self._eval(node.args[1], filters, r, env)]
        raise UnsupportedDax(f"not a supported table expression: {node.kind} {node.value}")

    def _column_values(self, node: Node, filters: Filters) -> list[Any]:
        if node.kind != "column":
            raise UnsupportedDax("expected a column")
        table, column = node.value
        return [r[column] for r in self._visible(table, filters) if r[column] is not None]

    def _eval(self, node: Node, filters: Filters, row: Row | None, env: dict) -> Any:
        kind, value, args = node.kind, node.value, node.args
        if kind in ("number", "string"):
            return value
        if kind == "var":
            if value.upper() in ("TRUE", "FALSE"):
                return value.upper() == "TRUE"
            if value not in env:
                raise UnsupportedDax(f"unknown name {value!r}")
            return env[value]
        if kind == "let":
            local = dict(env)
            for binding in args[:-1]:
                local[binding.value] = self._eval(binding.args[0], filters, row, local)
            return self._eval(args[-1], filters, row, local)
        if kind == "column":
            if row is None:
                raise UnsupportedDax(f"column {value} outside a row context")
            return row[value[1]]
        if kind == "measure":
            if row is not None:
                raise UnsupportedDax(f"measure [{value}] in a row context (context transition)")
            if value not in self.measures:
                raise UnsupportedDax(f"unknown measure [{value}]")
            return self._eval(self.measures[value], filters, None, {})
        if kind == "unary":
            operand = self._eval(args[0], filters, row, env)
            if value == "NOT":
                return not operand
            return None if operand is None else -operand
        if kind == "binary":
            a, b = (self._eval(x, filters, row, env) for x in args)
            return _binary(value, a, b)
        if kind == "call":
            return self._call(value, args, filters, row, env)
        raise UnsupportedDax(f"cannot evaluate {kind}")

    def _call(
        self, name: str, args: tuple[Node, ...], filters: Filters, row: Row | None, env: dict
    ):
        if name in ("SUM", "MAX", "MIN") and len(args) == 1:
            values = self._column_values(args[0], filters)
            if not values:
                return None
            return {"SUM": sum, "MAX": max, "MIN": min}[name](values)
        if name == "DISTINCTCOUNT" and len(args) == 1:
            return len(set(self._column_values(args[0], filters))) or None
        if name == "COUNTROWS" and len(args) == 1:
            _, rows = self._rows(args[0], filters, env)
            return len(rows) or None
        if name == "DIVIDE" and len(args) in (2, 3):
            a, b = (self._eval(x, filters, row, env) for x in args[:2])
            alternate = self._eval(args[2], filters, row, env) if len(args) == 3 else None
            if b is None or b == 0:
                return alternate
            return None if a is None else a / b
        if name == "ISBLANK" and len(args) == 1:
            return self._eval(args[0], filters, row, env) is None
        if name == "SUMX" and len(args) == 2:
            _, rows = self._rows(args[0], filters, env)
            values = [self._eval(args[1], filters, r, env) for r in rows]
            values = [v for v in values if v is not None]
            return sum(values) if values else None
        if name == "CALCULATE" and args:
            inner = dict(filters)
            for argument in args[1:]:
                self._apply_filter(argument, filters, inner, env)
            return self._eval(args[0], inner, None, env)
        raise UnsupportedDax(f"function {name} with {len(args)} argument(s)")

    def _apply_filter(self, node: Node, outer: Filters, inner: Filters, env: dict) -> None:
        """A CALCULATE filter argument: REMOVEFILTERS, or ``table[column] <op> <value>``."""
        if node.kind == "call" and node.value == "REMOVEFILTERS" and len(node.args) == 1:
            target = node.args[0]
            if target.kind == "var" and target.value in self.tables:
                for key in [k for k in inner if k[0] == target.value]:
                    del inner[key]
                return
            if target.kind == "column":
                inner.pop(target.value, None)
                return
        if node.kind == "binary" and node.args[0].kind == "column":
            op, column = node.value, node.args[0].value
            bound = self._eval(node.args[1], outer, None, env)  # in the outer context
            inner[column] = lambda v, op=op, bound=bound: bool(_binary(op, v, bound))
            return
        raise UnsupportedDax("a CALCULATE filter that is not REMOVEFILTERS or column <op> value")


def _binary(op: str, a: Any, b: Any) -> Any:
    if op == "+":
        return _add(a, b, 1)
    if op == "-":
        return _add(a, b, -1)
    if op == "*":
        return None if a is None or b is None else a * b
    if op == "/":
        return None if a is None or b is None else a / b
    if op == "&&":
        return bool(a) and bool(b)
    if op == "||":
        return bool(a) or bool(b)
    if a is None or b is None:
        return False  # enough for the model's filters, which compare real values
    if isinstance(a, date) != isinstance(b, date):
        raise UnsupportedDax(f"comparing {type(a).__name__} with {type(b).__name__}")
    return {"=": a == b, "<>": a != b, "<": a < b, ">": a > b, "<=": a <= b, ">=": a >= b}[op]


def measures_of(tables: Iterable[Any]) -> dict[str, str]:
    """Every measure of the semantic model's tables: name -> DAX text."""
    return {m.name: m.expression or "" for t in tables for m in t.of_kind("measure")}
