r"""Built-in dynamical systems that generate data (no downloads).

Every continuous-time system integrates with :func:`scipy.integrate.solve_ivp` (DOP853,
``rtol=atol=1e-12``), discards a transient so that samples lie on the attractor, and
returns an array ``(n_steps, n_features)`` sampled every ``dt``. The signature is the same
for all: ``system(n_steps, dt=..., x0=None, random_state=None, **parameters)``.
Discrete maps (:func:`linear`, :func:`slow_manifold`) iterate exactly.

Stochastic systems (``_stochastic``): :func:`ornstein_uhlenbeck` (sampled exactly, with
its exact spectrum and Hermite eigenfunctions) and :func:`prinz_potential` (a Langevin
particle in four wells, Euler–Maruyama, reference spectrum from its generator).

One module per family: ``_continuous`` (ODEs and exact maps), ``_stochastic``,
``_control`` (systems driven by an input: :func:`van_der_pol_control` returns states and
inputs), ``_labels`` (:func:`as_xarray`); argument checks shared by all in ``_common``.
"""

from koop.systems._continuous import (
    duffing,
    integrate,
    linear,
    lorenz63,
    pendulum,
    rossler,
    slow_manifold,
    slow_manifold_eigenfunctions,
    van_der_pol,
)
from koop.systems._control import (
    van_der_pol_control,
    van_der_pol_control_rhs,
    van_der_pol_control_step,
)
from koop.systems._cylinder import cylinder_wake
from koop.systems._labels import as_xarray
from koop.systems._stochastic import (
    LangevinSpectrum,
    ornstein_uhlenbeck,
    ornstein_uhlenbeck_eigenfunctions,
    ornstein_uhlenbeck_spectrum,
    ornstein_uhlenbeck_successors,
    prinz_potential,
    prinz_potential_energy,
    prinz_potential_spectrum,
)

__all__ = [
    "lorenz63", "rossler", "duffing", "pendulum", "van_der_pol", "linear",
    "slow_manifold", "slow_manifold_eigenfunctions", "integrate", "as_xarray",
    "cylinder_wake",
    "ornstein_uhlenbeck", "ornstein_uhlenbeck_spectrum", "ornstein_uhlenbeck_eigenfunctions",
    "ornstein_uhlenbeck_successors", "prinz_potential", "prinz_potential_energy",
    "prinz_potential_spectrum", "LangevinSpectrum",
    "van_der_pol_control", "van_der_pol_control_step", "van_der_pol_control_rhs",
]
