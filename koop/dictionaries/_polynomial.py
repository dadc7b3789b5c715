"""All monomials up to a total degree."""

from __future__ import annotations

from itertools import combinations_with_replacement
from typing import ClassVar

import numpy as np

from koop._params import NON_NEGATIVE_INT
from koop.dictionaries._base import Dictionary

__all__ = ["Polynomial"]


class Polynomial(Dictionary):
    r"""All monomials :math:`x^\alpha = \prod_j x_j^{\alpha_j}` with :math:`|\alpha| \le p`.

    The columns follow scikit-learn's ``PolynomialFeatures`` order (graded, then
    lexicographic): for two variables and degree 2, ``1, x0, x1, x0^2, x0 x1, x1^2``.
    There are :math:`\binom{d + p}{p}` of them (with the constant). Each monomial is
    evaluated from a lower one by a single multiplication (``parent_`` and ``var_``).

    Parameters
    ----------
    degree : int, default=2
        Maximal total degree :math:`p`.
    include_bias : bool, default=True
        Include the constant function 1.

    Attributes
    ----------
    powers_ : ndarray of shape (n_output_features_, n_features_in_)
        Exponent of each variable in each monomial.

    Examples
    --------
    >>> import numpy as np
    >>> Polynomial(degree=2).fit_transform(np.array([[2.0, 3.0]]))
    array([[1., 2., 3., 4., 6., 9.]])
    """

    _parameter_constraints: ClassVar[dict] = {
        "degree": NON_NEGATIVE_INT, "include_bias": ["boolean"]}
    size_param = "degree"

    def __init__(self, degree: int = 2, include_bias: bool = True) -> None:
        self.degree = degree
        self.include_bias = include_bias

    def _check_params(self) -> None:
        if self.degree == 0 and not self.include_bias:
            raise ValueError("degree=0 without the bias leaves no functions.")

    def _fit(self, X: np.ndarray) -> None:
        d = X.shape[1]
        combos = []
        for k in range(0 if self.include_bias else 1, self.degree + 1):
            combos.extend(combinations_with_replacement(range(d), k))
        index = {c: i for i, c in enumerate(combos)}
        powers = np.zeros((len(combos), d), dtype=np.int64)
        parent = np.full(len(combos), -1, dtype=np.int64)
        var = np.full(len(combos), -1, dtype=np.int64)
        for i, c in enumerate(combos):
            for j in c:
                powers[i, j] += 1
            if c:
                var[i] = c[-1]
                parent[i] = index.get(c[:-1], -1)
        self.powers_ = powers
        self.parent_ = parent
        self.var_ = var

    def _transform(self, X: np.ndarray) -> np.ndarray:
        out = np.empty((X.shape[0], self.parent_.shape[0]), dtype=np.float64)
        for k, (p, v) in enumerate(zip(self.parent_, self.var_, strict=True)):
            if v < 0:
                out[:, k] = 1.0
            elif p < 0:
                out[:, k] = X[:, v]
            else:
                out[:, k] = out[:, p] * X[:, v]
        return out

    def _n_output(self) -> int:
        return int(self.powers_.shape[0])

    def _feature_names(self, input_names: list[str]) -> list[str]:
        names = []
        for row in self.powers_:
            terms = [
                name if e == 1 else f"{name}^{e}"
                for name, e in zip(input_names, row, strict=True)
                if e > 0
            ]
            names.append(" ".join(terms) if terms else "1")
        return names

    def _kernel_spec(self) -> tuple[str, dict]:
        return "polynomial", {"parent": self.parent_, "var": self.var_}
