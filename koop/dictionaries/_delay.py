"""Time-delay (Takens) coordinates."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from koop._kernels.features import delay_windows
from koop._params import NON_NEGATIVE_INT, POSITIVE_INT
from koop.dictionaries._base import Dictionary

__all__ = ["TimeDelay", "delay_windows"]


class TimeDelay(Dictionary):
    r"""Delay coordinates :math:`\psi(x_n) = (x_n, x_{n-s}, \dots, x_{n-qs})`.

    A lagged dictionary: each row needs ``n_lags = n_delays * stride`` past samples, so
    ``transform`` of ``n`` samples returns ``n - n_lags`` rows; row ``i`` holds sample
    ``i + n_lags`` and its past. Columns are ordered delay-major:
    ``x0(t), x1(t), ..., x0(t-s), x1(t-s), ...``. It needs trajectories, not shuffled
    snapshot pairs.

    Parameters
    ----------
    n_delays : int, default=1
        Number of delays :math:`q`; the dictionary has ``(q + 1) * n_features`` functions.
    stride : int, default=1
        Spacing :math:`s` of the delays in samples.

    Examples
    --------
    >>> import numpy as np
    >>> TimeDelay(n_delays=2).fit_transform(np.arange(5.0)).tolist()
    [[2.0, 1.0, 0.0], [3.0, 2.0, 1.0], [4.0, 3.0, 2.0]]
    """

    _parameter_constraints: ClassVar[dict] = {"n_delays": NON_NEGATIVE_INT, "stride": POSITIVE_INT}
    size_param = "n_delays"
    _accepts_complex = True

    def __init__(self, n_delays: int = 1, stride: int = 1) -> None:
        self.n_delays = n_delays
        self.stride = stride

    @property
    def n_lags(self) -> int:  # type: ignore[override]
        return int(self.n_delays) * int(self.stride)

    def _transform(self, X: np.ndarray) -> np.ndarray:
        windows = delay_windows(X, self.n_delays, self.stride)
        return np.ascontiguousarray(windows.reshape(windows.shape[0], -1),
                                    dtype=np.result_type(X.dtype, np.float64))

    def _n_output(self) -> int:
        return self.n_features_in_ * (self.n_delays + 1)

    def _feature_names(self, input_names: list[str]) -> list[str]:
        names = []
        for lag in range(self.n_delays + 1):
            suffix = "(t)" if lag == 0 else f"(t-{lag * self.stride})"
            names.extend(f"{n}{suffix}" for n in input_names)
        return names

    def _kernel_spec(self) -> tuple[str, dict]:
        return "delay", {"n_delays": int(self.n_delays), "stride": int(self.stride)}
