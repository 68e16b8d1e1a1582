"""Rule and condition expressions, evaluated by simpleeval with three-valued logic.

Protocol files write rules as small Python-syntax expressions (``anc >= 1.0 and
platelets >= 100``).  simpleeval evaluates them without ``eval``; this subclass adds
Kleene logic so an unknown answer makes a rule unknown instead of pass or fail, while
``True or UNKNOWN`` is still True.  Every name and function an expression may use is
declared up front, and :func:`names_in` lets the loader reject unknown names.
"""

from __future__ import annotations

import ast
import datetime as dt
import math
import operator
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from simpleeval import EvalWithCompoundTypes, InvalidExpression

from dialogs.errors import ExpressionError
from dialogs.values import UNKNOWN

# ---------------------------------------------------------------------------
# Functions available to protocol expressions


def gap(start: dt.date, day: Any) -> Any:
    """Whole days from ``day`` to the planned start (planned_start_date − day)."""
    if not isinstance(day, dt.date):
        raise ExpressionError(f"gap() needs a date, got {day!r}")
    return (start - day).days


def days_after(day: Any, days: Any) -> dt.date:
    if not isinstance(day, dt.date):
        raise ExpressionError(f"days_after() needs a date, got {day!r}")
    return day + dt.timedelta(days=int(days))


def ckd_epi_2021(creatinine_mg_dl: float, age: int, sex: str) -> float:
    """CKD-EPI 2021 race-free eGFR in mL/min/1.73m² (Inker et al., NEJM 2021)."""
    female = sex == "female"
    kappa = 0.7 if female else 0.9
    alpha = -0.241 if female else -0.302
    ratio = float(creatinine_mg_dl) / kappa
    egfr = 142 * min(ratio, 1.0) ** alpha * max(ratio, 1.0) ** -1.200 * 0.9938 ** int(age)
    return float(egfr * 1.012 if female else egfr)


def _is_date(value: Any) -> bool:
    return isinstance(value, dt.date)


def _round(value: float, digits: int = 0) -> float:
    return round(float(value), int(digits))


def _number(value: float) -> float:
    """A quantity as a plain number in its canonical unit (shown without the typed unit)."""
    return float(value)


# Functions that need the planned start read it from the evaluator (see _KleeneEval._gap).
BASE_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "days_after": days_after,
    "ckd_epi_2021": ckd_epi_2021,
    "is_date": _is_date,
    "round": _round,
    "number": _number,
    "min": min,
    "max": max,
    "abs": abs,
}
START_FUNCTIONS = ("gap",)
ALL_FUNCTIONS = frozenset(BASE_FUNCTIONS) | frozenset(START_FUNCTIONS)

# ---------------------------------------------------------------------------
# Three-valued operators


def _strict(op: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    def wrapped(a: Any, b: Any) -> Any:
        if a is UNKNOWN or b is UNKNOWN:
            return UNKNOWN
        if a is None or b is None:
            if op in (operator.eq, operator.ne):
                return op(a, b)
            # A question that was not asked compared with a threshold: never true.
            return False
        return op(a, b)

    return wrapped


def _contains(a: Any, b: Any) -> Any:
    if a is UNKNOWN or b is UNKNOWN:
        return UNKNOWN
    return a in b


def _not_contains(a: Any, b: Any) -> Any:
    if a is UNKNOWN or b is UNKNOWN:
        return UNKNOWN
    return a not in b


def _not(a: Any) -> Any:
    return UNKNOWN if a is UNKNOWN else not a


def _neg(a: Any) -> Any:
    return UNKNOWN if a is UNKNOWN else -a


_OPERATORS: dict[type, Callable[..., Any]] = {
    ast.Add: _strict(operator.add),
    ast.Sub: _strict(operator.sub),
    ast.Mult: _strict(operator.mul),
    ast.Div: _strict(operator.truediv),
    ast.Mod: _strict(operator.mod),
    ast.Eq: _strict(operator.eq),
    ast.NotEq: _strict(operator.ne),
    ast.Gt: _strict(operator.gt),
    ast.Lt: _strict(operator.lt),
    ast.GtE: _strict(operator.ge),
    ast.LtE: _strict(operator.le),
    ast.In: _contains,
    ast.NotIn: _not_contains,
    ast.Not: _not,
    ast.USub: _neg,
    ast.UAdd: lambda a: a,
}


def _truth(value: Any) -> Any:
    """True, False or UNKNOWN."""
    if value is UNKNOWN:
        return UNKNOWN
    return bool(value)


class _KleeneEval(EvalWithCompoundTypes):  # type: ignore[misc]
    """simpleeval with unknown propagation: the only subclassing is for three-valued logic.

    One instance per thread serves every :class:`Evaluator` (see :func:`_shared`): its
    constructor cost more than most expressions, and an evaluation builds several.  Each
    Evaluator sets ``names`` and ``start`` before it evaluates; expressions call only pure
    functions, so one evaluation never runs inside another.
    """

    def __init__(self) -> None:
        functions: dict[str, Callable[..., Any]] = dict(BASE_FUNCTIONS)
        functions["gap"] = self._gap
        super().__init__(operators=_OPERATORS, functions=functions, names={})
        self.start: Any = None
        self.touched_unknown: set[str] = set()

    def _gap(self, day: Any) -> Any:
        start = self.start
        return gap(start, day) if isinstance(start, dt.date) else UNKNOWN

    def _eval(self, node: ast.AST) -> Any:
        # simpleeval checks every intermediate value against its list of dangerous
        # functions and modules.  Here names hold only answer data, functions come from
        # our own table and attributes are limited to four Quantity fields, so that
        # per-node check (a quarter of the evaluation time) has nothing to find.
        try:
            handler = self.nodes[type(node)]
        except KeyError:
            raise ExpressionError(f"{type(node).__name__} is not allowed") from None
        return handler(node)

    def _eval_name(self, node: ast.Name) -> Any:
        value = super()._eval_name(node)
        if value is UNKNOWN:
            self.touched_unknown.add(node.id)
        return value

    def _eval_boolop(self, node: ast.BoolOp) -> Any:
        saw_unknown = False
        if isinstance(node.op, ast.And):
            for value in node.values:
                result = _truth(self._eval(value))
                if result is UNKNOWN:
                    saw_unknown = True
                elif not result:
                    return False
            return UNKNOWN if saw_unknown else True
        for value in node.values:
            result = _truth(self._eval(value))
            if result is UNKNOWN:
                saw_unknown = True
            elif result:
                return True
        return UNKNOWN if saw_unknown else False

    def _eval_compare(self, node: ast.Compare) -> Any:
        right = self._eval(node.left)
        result: Any = True
        for operation, comp in zip(node.ops, node.comparators, strict=True):
            left = right
            right = self._eval(comp)
            step = self.operators[type(operation)](left, right)
            if step is UNKNOWN:
                result = UNKNOWN
            elif not step:
                return False
        return result

    def _eval_ifexp(self, node: ast.IfExp) -> Any:
        test = _truth(self._eval(node.test))
        if test is UNKNOWN:
            return UNKNOWN
        return self._eval(node.body) if test else self._eval(node.orelse)

    def _eval_call(self, node: ast.Call) -> Any:
        if not isinstance(node.func, ast.Name):
            raise ExpressionError("only plain function calls are allowed")
        func = self.functions[node.func.id]  # names are checked on load
        args = [self._eval(a) for a in node.args]
        if any(a is UNKNOWN for a in args):
            return UNKNOWN
        if any(a is None for a in args):
            return None
        return func(*args)

    def _eval_attribute(self, node: ast.Attribute) -> Any:
        base = self._eval(node.value)
        if base is UNKNOWN or base is None:
            return base
        if node.attr not in ("kind", "unit", "input_value", "input_unit"):
            raise ExpressionError(f"attribute .{node.attr} is not available")
        return getattr(base, node.attr)

    def _eval_subscript(self, node: ast.Subscript) -> Any:
        container = self._eval(node.value)
        key = self._eval(node.slice)
        if key is UNKNOWN or container is UNKNOWN:
            return UNKNOWN
        if key is None:
            return None
        return container[key]


@dataclass(frozen=True, slots=True)
class Outcome:
    """An expression's value and the names whose unknown-ness it touched (for reasons)."""

    value: Any
    unknown_names: frozenset[str] = field(default_factory=frozenset)


@lru_cache(maxsize=4096)
def parse(expr: str) -> ast.AST:
    """Parse once; protocols reuse the same few hundred expressions for every answer."""
    try:
        tree = ast.parse(expr.strip(), mode="eval")
    except SyntaxError as exc:
        raise ExpressionError(f"syntax error in {expr!r}: {exc.msg}") from exc
    return tree.body


def names_in(expr: str) -> tuple[set[str], set[str]]:
    """(variable names, function names) an expression uses: the loader checks both."""
    tree = parse(expr)
    names: set[str] = set()
    funcs: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            if not isinstance(node.func, ast.Name):
                raise ExpressionError(f"only plain function calls are allowed in {expr!r}")
            funcs.add(node.func.id)
        elif isinstance(node, ast.Name):
            names.add(node.id)
        elif isinstance(node, ast.Lambda | ast.ListComp | ast.DictComp | ast.GeneratorExp):
            raise ExpressionError(f"comprehensions and lambdas are not allowed in {expr!r}")
    return names - funcs, funcs


_LOCAL = threading.local()


def _shared() -> _KleeneEval:
    """This thread's simpleeval instance (the bot runs flows in worker threads)."""
    try:
        ev: _KleeneEval = _LOCAL.ev
    except AttributeError:
        ev = _LOCAL.ev = _KleeneEval()
    return ev


class Evaluator:
    """Evaluates expressions against one set of names (answers, computed values, constants).

    Names are kept by reference: resolution adds each question's name as it walks the
    order, and every expression sees the names as they are when it runs.
    """

    __slots__ = ("_names", "_start")

    def __init__(self, names: Mapping[str, Any], start: Any) -> None:
        self._names = names
        self._start = start

    def _bound(self) -> _KleeneEval:
        ev = _shared()
        ev.names = self._names
        ev.start = self._start
        return ev

    def value(self, expr: str) -> Any:
        """The expression's value alone, without the unknown names it touched.

        Resolution and the engine's failing-criteria check read only values; building an
        Outcome for each expression was near half of what they spent evaluating.
        """
        return self._value(self._bound(), expr)

    @staticmethod
    def _value(ev: _KleeneEval, expr: str) -> Any:
        node = parse(expr)
        try:
            value = ev._eval(node)
        except ExpressionError:
            raise
        except (InvalidExpression, TypeError, ValueError, KeyError, ZeroDivisionError) as exc:
            raise ExpressionError(f"cannot evaluate {expr!r}: {exc}") from exc
        if isinstance(value, float) and math.isnan(value):
            return UNKNOWN
        return value

    def truth_value(self, expr: str) -> Any:
        """True, False or UNKNOWN: ``truth(expr).value`` without the Outcome."""
        return _truth(self.value(expr))

    def evaluate(self, expr: str) -> Outcome:
        ev = self._bound()
        touched: set[str] = set()
        ev.touched_unknown = touched
        value = self._value(ev, expr)
        return Outcome(value, frozenset(touched))

    def truth(self, expr: str) -> Outcome:
        out = self.evaluate(expr)
        return Outcome(_truth(out.value), out.unknown_names)
