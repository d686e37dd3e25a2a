"""What makes an outcome model unfit for its data, found before (or instead of) a silent wrong number.

- :class:`NotEstimable`: raised by an analysis that cannot give an estimate; its ``reason`` is
  written, in a statistician's words, in ``outcomes.csv`` (``status`` ``not_estimable``).
- :func:`independent_columns`: the columns of a design matrix that are not linear combinations of
  the ones before them, as R's ``lm`` keeps (a later aliased column is dropped, its coefficient
  ``NA``): a covariate identical to the arm, a constant baseline.
- :func:`separated`: whether a logistic model's data are (quasi-)completely separated, by the
  linear programme of Konis (2007) that R's ``detectseparation`` solves; the maximum likelihood
  estimate is then infinite and a fitted number is an artefact of the iterations.
"""

from __future__ import annotations

import numpy as np

#: Relative size below which a column's part not explained by the columns before it counts as zero
#: (R's ``lm.fit`` uses ``tol = 1e-07``).
ALIAS_TOL = 1e-7


class NotEstimable(Exception):
    """An analysis that cannot be estimated on these data, and why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def independent_columns(X: np.ndarray, tol: float = ALIAS_TOL) -> list[int]:
    """Indices of the columns of ``X`` kept by sequential orthogonalisation, in order (R's pivoting)."""
    return independent_basis(X, tol)[0]


def independent_basis(
    X: np.ndarray, tol: float = ALIAS_TOL, start: np.ndarray | None = None, basis_wanted: bool = True
) -> tuple[list[int], np.ndarray]:
    """:func:`independent_columns` and the orthonormal basis of the kept columns.

    ``start`` is the basis of columns before ``X`` (from an earlier call on them): the columns kept are
    then those of ``X`` independent of those too, exactly as if the two had been checked as one matrix.
    Without ``basis_wanted`` the basis returned lacks the last column's part (not needed to judge it).
    """
    kept: list[int] = []
    basis = np.zeros((X.shape[0], 0)) if start is None else start
    for j in range(X.shape[1]):
        col = X[:, j].astype(float)
        norm = float(np.linalg.norm(col))
        if norm == 0.0:
            continue
        resid = col - basis @ (basis.T @ col) if basis.shape[1] else col
        resid = resid - basis @ (basis.T @ resid) if basis.shape[1] else resid  # twice is enough (Kahan)
        r = float(np.linalg.norm(resid))
        if r > tol * norm:
            kept.append(j)
            if basis_wanted or j < X.shape[1] - 1:
                basis = np.column_stack([basis, resid / r])
    return kept, basis


def separated(X: np.ndarray, y: np.ndarray) -> bool:
    """True when some direction ``b`` has ``x_i'b >= 0`` for every event and ``<= 0`` for every
    non-event, not all zero: (quasi-)complete separation (Konis 2007; R's ``detectseparation``)."""
    from scipy.optimize import linprog

    sign = np.where(y > 0.5, 1.0, -1.0)
    A = -(sign[:, None] * X)  # -s_i x_i'b <= 0
    c = -(sign[:, None] * X).sum(axis=0)  # maximise sum s_i x_i'b
    res = linprog(c, A_ub=A, b_ub=np.zeros(len(y)), bounds=[(-1.0, 1.0)] * X.shape[1], method="highs")
    return bool(res.status == 0 and res.fun is not None and -res.fun > 1e-7)


def count_separated(X: np.ndarray, y: np.ndarray) -> bool:
    """True when a log-linear (Poisson or negative binomial) model's maximum likelihood estimate does not
    exist: some direction ``b`` has ``x_i'b = 0`` for every positive count and ``x_i'b <= 0`` for every
    zero, not all zero (Haberman 1974; Santos Silva and Tenreyro 2010; R's ``detectseparation`` for
    ``poisson``). An arm whose counts are all zero is the plainest case: its rate ratio is 0 or infinite."""
    from scipy.optimize import linprog

    zero = y <= 0
    if not zero.any():
        return False
    pos = ~zero
    a_eq, b_eq = (X[pos], np.zeros(int(pos.sum()))) if pos.any() else (None, None)
    # maximise the total by which the zeros' linear predictors fall, the positive counts' held where they are
    res = linprog(X[zero].sum(axis=0), A_ub=X[zero], b_ub=np.zeros(int(zero.sum())), A_eq=a_eq, b_eq=b_eq,
                  bounds=[(-1.0, 1.0)] * X.shape[1], method="highs")  # fmt: skip
    return bool(res.status == 0 and res.fun is not None and -res.fun > 1e-7)
