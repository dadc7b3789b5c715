"""Figure for docs/havok.md: HAVOK on Lorenz-63 (Brunton et al. 2017, Fig. 1 protocol).

x(t) from x0 = [-8, 8, 27], dt = 0.001, 200 000 samples; q = 100 (``n_delays=99``),
r = 15. Panels: (a) v_1 with the windows where the forcing is active (|v_15| > 0.9 RMS)
in red and lobe switches (sign changes of x) as grey lines; (b) the forcing v_15 and the
threshold; (c) v_1 from the linear model driven by the measured v_15 against the data;
(d) the distribution of v_15 against a Gaussian of the same standard deviation.

Usage::

    .venv/bin/python benchmarks/havok_figure.py    # writes docs/img/havok_lorenz.png
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from koop import systems
from koop.estimators import HAVOK

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "img" / "havok_lorenz.png"
DT, N_DELAYS, RANK = 0.001, 99, 15


def main() -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x = systems.lorenz63(200_000, dt=DT, x0=[-8.0, 8.0, 27.0])[:, 0]
    model = HAVOK(n_delays=N_DELAYS, rank=RANK).fit(x, dt=DT)
    v = model.delay_coordinates_
    active = model.forcing_active()
    st = model.forcing_statistics()
    t = DT * (np.arange(len(v)) + N_DELAYS)  # window i ends at sample i + n_delays
    span = slice(0, 50_000)
    switches = (np.flatnonzero(np.diff(np.sign(x)) != 0) + 1) * DT
    switches = switches[switches < t[span.stop - 1]]
    sim = model.simulate_coordinates(v[0], v[1 : span.stop, -1])[:, 0]

    fig, axes = plt.subplots(4, 1, figsize=(9, 9.5), constrained_layout=True)
    ax = axes[0]
    for s in switches:
        ax.axvline(s, color="0.8", lw=0.6, zorder=0)
    v1 = v[span, 0]
    ax.plot(t[span], v1, color="0.2", lw=0.8, label="$v_1$")
    ax.plot(t[span], np.where(active[span], v1, np.nan), color="tab:red", lw=1.2,
            label="forcing active")
    ax.set_ylabel("$v_1$")
    ax.set_title(f"(a) $v_1$; red: $|v_{{15}}| > 0.9$ RMS ({st.active_fraction:.0%} of the "
                 "time); grey: lobe switches")
    ax.legend(loc="upper right", fontsize=8)

    ax = axes[1]
    ax.plot(t[span], v[span, -1], color="tab:red", lw=0.6)
    for sign in (-1, 1):
        ax.axhline(sign * st.threshold, color="k", ls="--", lw=0.6)
    ax.set_ylabel("$v_{15}$")
    ax.set_title("(b) forcing $v_{15}$ and the activity threshold")

    ax = axes[2]
    err = np.linalg.norm(sim - v[1 : span.stop, 0]) / np.linalg.norm(v[1 : span.stop, 0])
    ax.plot(t[span], v1, color="0.2", lw=0.8, label="data")
    ax.plot(t[1 : span.stop], sim, color="tab:blue", lw=0.8, ls="--",
            label="linear model driven by $v_{15}$")
    ax.set_ylabel("$v_1$")
    ax.set_xlabel("t")
    ax.set_title(f"(c) HAVOK model vs data (relative L2 error {err:.2f})")
    ax.legend(loc="upper right", fontsize=8)

    ax = axes[3]
    f = model.forcing_ / st.rms
    bins = np.linspace(-8, 8, 161)
    hist, edges = np.histogram(f, bins=bins, density=True)
    centers = 0.5 * (edges[1:] + edges[:-1])
    ax.semilogy(centers, np.where(hist > 0, hist, np.nan), color="tab:red",
                label=f"$v_{{15}}$ (excess kurtosis {st.excess_kurtosis:.1f})")
    ax.semilogy(centers, np.exp(-centers**2 / 2) / np.sqrt(2 * np.pi), "k--", lw=0.8,
                label="Gaussian")
    ax.set_ylim(1e-6, 2)
    ax.set_xlabel("$v_{15}$ / RMS")
    ax.set_ylabel("density")
    ax.set_title("(d) the forcing has heavy tails")
    ax.legend(fontsize=8)

    OUT.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(OUT, dpi=110)
    print(f"wrote {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
