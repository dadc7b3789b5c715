"""One rule per parameter: scikit-learn's ``_parameter_constraints``, checked in one place.

Every estimator and dictionary declares its constructor parameters once, as scikit-learn
does::

    _parameter_constraints = {"rank": RANK, "backend": [StrOptions({"numba", "numpy"})]}

and ``fit`` starts with ``self._validate_params()``. koop's base classes route that call to
:func:`check_parameters`: scikit-learn's own check (so a class written for scikit-learn
plugs in unchanged), plus two rules scikit-learn leaves open: a bool is not a number
(``rank=True`` is refused, not read as 1) and a number must be finite (``inf`` passes an
open interval such as ``[0, inf)``). A rejected value raises scikit-learn's
``InvalidParameterError`` (a ``ValueError`` and a ``TypeError``) saying which parameter
of which class, what it must be and what it got.

Constraints that relate two parameters (``Polynomial(degree=0, include_bias=False)``)
are checked by the class after this.
"""

from __future__ import annotations

import math
from numbers import Integral, Real
from typing import ClassVar

import numpy as np
from sklearn.utils._param_validation import (
    HasMethods,
    Hidden,
    Interval,
    InvalidParameterError,
    Options,
    RealNotInt,
    StrOptions,
    make_constraint,
    validate_parameter_constraints,
)

__all__ = [
    "check_parameters",
    "ParamValidation",
    "InvalidParameterError",
    "Interval",
    "StrOptions",
    "Options",
    "HasMethods",
    "Hidden",
    "Integral",
    "Real",
    "RealNotInt",
    "RANK",
    "POSITIVE_INT",
    "NON_NEGATIVE_INT",
    "POSITIVE_REAL",
    "NON_NEGATIVE_REAL",
    "CHUNK_SIZE",
    "RCOND",
    "RANDOM_STATE",
]

#: The one contract of ``rank`` (see :func:`koop._spectral.truncation.select_rank`):
#: a positive int, an energy fraction in (0, 1), Gavish-Donoho's ``"optimal"`` hard
#: threshold, or None (the numerical rank).
RANK = [Interval(Integral, 1, None, closed="left"),
        Interval(RealNotInt, 0, 1, closed="neither"), StrOptions({"optimal"}), None]
POSITIVE_INT = [Interval(Integral, 1, None, closed="left")]
NON_NEGATIVE_INT = [Interval(Integral, 0, None, closed="left")]
POSITIVE_REAL = [Interval(Real, 0, None, closed="neither")]
NON_NEGATIVE_REAL = [Interval(Real, 0, None, closed="left")]
CHUNK_SIZE = [Interval(Integral, 1, None, closed="left"), None]
#: relative cut-off on the eigenvalues of G (None: M * machine epsilon)
RCOND = [Interval(Real, 0, 1, closed="left"), None]
RANDOM_STATE = ["random_state"]


def _describe(constraints: list) -> str:
    shown = [str(c) for c in constraints if not c.hidden]
    if len(shown) == 1:
        return shown[0]
    return f"{', '.join(shown[:-1])} or {shown[-1]}"


def _numeric_only(constraints: list) -> bool:
    """True when the constraints admit numbers but say nothing of bools."""
    names = {type(c).__name__ for c in constraints}
    return any(isinstance(c, Interval) for c in constraints) and "_Booleans" not in names \
        and not any(getattr(c, "type", None) in (bool, np.bool_, object) for c in constraints)


def check_parameters(caller: str, constraints: dict, params: dict) -> None:
    """The one validator: ``params`` against ``constraints`` (scikit-learn's vocabulary).

    scikit-learn's ``validate_parameter_constraints``, after two rules of koop's: a bool
    where a number is expected, and a number that is NaN or infinite, are refused.
    Estimators and dictionaries call it through ``self._validate_params()``
    (:class:`ParamValidation`); ``caller`` names the class in the message.

    Raises
    ------
    InvalidParameterError
        (a ``ValueError`` and a ``TypeError``) naming the parameter, the class, what
        the parameter must be and the value it got.

    Examples
    --------
    >>> try:
    ...     check_parameters("EDMD", {"rank": RANK}, {"rank": True})
    ... except ValueError as exc:
    ...     print(exc)
    The 'rank' parameter of EDMD must be an int in the range [1, inf), a float in the range (0.0, 1.0), a str among {'optimal'} or None. Got True instead.
    """  # noqa: E501
    for name, value in params.items():
        spec = constraints.get(name)
        if spec is None or spec == "no_validation":
            continue
        made = [make_constraint(c) for c in spec]
        if isinstance(value, bool | np.bool_) and _numeric_only(made):
            bad = True
        elif isinstance(value, Real) and not isinstance(value, bool | np.bool_) and \
                not math.isfinite(value) and any(isinstance(c, Interval) for c in made):
            bad = not any(c.is_satisfied_by(value) and not isinstance(c, Interval)
                          for c in made)
        else:
            continue
        if bad:
            finite = "" if isinstance(value, bool | np.bool_) else "finite: "
            raise InvalidParameterError(
                f"The {name!r} parameter of {caller} must be {finite}"
                f"{_describe(made)}. Got {value!r} instead."
            )
    validate_parameter_constraints(constraints, params, caller_name=caller)


class ParamValidation:
    """``_validate_params()`` for koop's estimators and dictionaries.

    Replaces scikit-learn's ``BaseEstimator._validate_params`` (list it first among the
    bases): the class's ``_parameter_constraints`` through :func:`check_parameters`, then
    ``_check_params()``, the hook for rules that relate several parameters.
    """

    _parameter_constraints: ClassVar[dict] = {}

    def _validate_params(self) -> None:
        check_parameters(type(self).__name__, self._parameter_constraints,
                         self.get_params(deep=False))
        self._check_params()

    def _check_params(self) -> None:
        """Rules that relate several parameters (default: none)."""


class Satisfies(HasMethods):
    """A constraint given by a predicate, described in words in the error message.

    scikit-learn's vocabulary has no "an instance of a koop class" or "a tuple of
    positive ints"; this is one constraint object (a ``HasMethods``, so scikit-learn's
    validator accepts it) whose test is ``predicate(value)``.

    Examples
    --------
    >>> c = Satisfies(lambda v: isinstance(v, tuple), "a tuple")
    >>> c.is_satisfied_by((1, 2)), c.is_satisfied_by([1, 2]), str(c)
    (True, False, 'a tuple')
    """

    def __init__(self, predicate, description: str) -> None:
        super().__init__([])
        self.predicate = predicate
        self.description = description

    def is_satisfied_by(self, val) -> bool:
        return bool(self.predicate(val))

    def __str__(self) -> str:
        return self.description


def instance_of(cls: type, description: str) -> Satisfies:
    """The constraint "an instance of ``cls``", named ``description`` in messages."""
    return Satisfies(lambda v: isinstance(v, cls), description)


__all__ += ["Satisfies", "instance_of"]
