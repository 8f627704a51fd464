"""The headline measures, written once for both readers: Power BI and the local dashboard.

Each measure is a small formula over one mart's columns. :meth:`dax` renders it as the DAX
of the semantic model's measure of the same name (``tests/powerbi`` checks that every one of
them is exactly that text, and evaluates it against the events); :meth:`sql` renders it in
the SQL both warehouses share, which is how the dashboard computes its headline numbers. So
the dashboard and Power BI cannot disagree on what a headline means.
"""

from __future__ import annotations

from dataclasses import dataclass

CONTENT = "mart_content_performance"
USERS = "mart_users"


class Formula:
    def dax(self) -> str:
        raise NotImplementedError

    def sql(self) -> str:
        raise NotImplementedError


@dataclass(frozen=True)
class Column(Formula):
    table: str
    name: str

    def dax(self) -> str:
        return f"{self.table}[{self.name}]"

    def sql(self) -> str:
        return self.name


@dataclass(frozen=True)
class Number(Formula):
    value: int

    def dax(self) -> str:
        return str(self.value)

    def sql(self) -> str:
        return str(self.value)


@dataclass(frozen=True)
class Aggregate(Formula):
    """``SUM``/``DISTINCTCOUNT`` of a column; ``COUNTROWS`` of a table (``column`` None)."""

    function: str
    table: str
    column: str | None = None

    def dax(self) -> str:
        inner = self.table if self.column is None else Column(self.table, self.column).dax()
        return f"{self.function}({inner})"

    def sql(self) -> str:
        return {
            "SUM": f"sum({self.column})",
            "DISTINCTCOUNT": f"count(distinct {self.column})",
            "COUNTROWS": "count(*)",
        }[self.function]


@dataclass(frozen=True)
class Add(Formula):
    terms: tuple[Formula, ...]

    def dax(self) -> str:
        return " + ".join(t.dax() for t in self.terms)

    def sql(self) -> str:
        return "(" + " + ".join(t.sql() for t in self.terms) + ")"


@dataclass(frozen=True)
class Divide(Formula):
    numerator: Formula
    denominator: Formula

    def dax(self) -> str:
        return f"DIVIDE({self.numerator.dax()}, {self.denominator.dax()})"

    def sql(self) -> str:
        # DIVIDE: blank when the denominator is 0 or blank; `/` divides as floats on both.
        return f"{self.numerator.sql()} / nullif({self.denominator.sql()}, 0)"


@dataclass(frozen=True)
class Ref(Formula):
    """Another measure of this module, by name."""

    name: str

    def dax(self) -> str:
        return f"[{self.name}]"

    def sql(self) -> str:
        return MEASURES[self.name].sql()


@dataclass(frozen=True)
class CountRowsWhere(Formula):
    """Rows of ``table`` where ``condition <op> value`` (a column or a sum of columns)."""

    table: str
    condition: Formula
    op: str
    value: str | int

    def _value(self) -> str:
        return f'"{self.value}"' if isinstance(self.value, str) else str(self.value)

    def dax(self) -> str:
        test = f"{self.condition.dax()} {self.op} {self._value()}"
        if isinstance(self.condition, Column):  # a filter on one column
            return f"CALCULATE(COUNTROWS({self.table}), {test})"
        return f"COUNTROWS(FILTER({self.table}, {test}))"

    def sql(self) -> str:
        value = f"'{self.value}'" if isinstance(self.value, str) else str(self.value)
        return f"sum(case when {self.condition.sql()} {self.op} {value} then 1 else 0 end)"


def _sum(table: str, column: str) -> Aggregate:
    return Aggregate("SUM", table, column)


#: The measures the dashboard shows as headlines, by their name in the semantic model.
MEASURES: dict[str, Formula] = {
    "Total Views": _sum(CONTENT, "views"),
    "Completed Views": _sum(CONTENT, "completed_views"),
    "Watch Hours": Divide(_sum(CONTENT, "total_watch_s"), Number(3600)),
    "Total Engagements": Add(
        (_sum(CONTENT, "likes"), _sum(CONTENT, "shares"), _sum(CONTENT, "comments"))
    ),
    "Engagement Rate": Divide(Ref("Total Engagements"), Ref("Total Views")),
    "Completed View Share": Divide(Ref("Completed Views"), Ref("Total Views")),
    "Average Completion Rate": Divide(
        _sum(CONTENT, "completion_rate_sum"), _sum(CONTENT, "views_with_duration")
    ),
    "Contents": Aggregate("DISTINCTCOUNT", CONTENT, "content_id"),
    "Users": Aggregate("COUNTROWS", USERS),
    "Unique Viewers": CountRowsWhere(USERS, Column(USERS, "total_views"), ">", 0),
    "Heavy Users": CountRowsWhere(USERS, Column(USERS, "engagement_segment"), "=", "heavy"),
    "Users Who Interacted": CountRowsWhere(
        USERS,
        Add((Column(USERS, "likes"), Column(USERS, "shares"), Column(USERS, "comments"))),
        ">",
        0,
    ),
    "Active Days per User": Divide(_sum(USERS, "active_days"), Ref("Users")),
}


def table_of(name: str) -> str:
    """The mart a measure reads (its home table in the semantic model)."""
    formula = MEASURES[name]
    while isinstance(formula, Divide | Add | Ref):
        formula = (
            formula.numerator
            if isinstance(formula, Divide)
            else formula.terms[0]
            if isinstance(formula, Add)
            else MEASURES[formula.name]
        )
    return formula.table  # type: ignore[attr-defined]
