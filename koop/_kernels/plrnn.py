r"""Loss and gradients of a batch of shallow PLRNNs under generalized teacher forcing.

One call handles ``S`` independent models (one parameter set per seed) on their own
batches of ``B`` training windows of ``T`` steps, and returns every model's loss and the
gradients of that loss with respect to its own parameters: training many seeds at once
costs one call per optimizer step instead of one per seed.

The model (Hess et al., ICML 2023), per seed, with ``A`` a vector, ``W_1`` of shape
(M, H), ``W_2^T`` stored as ``W2T`` of shape (M, H) (the hidden index contiguous, so the
inner loops vectorise), and an affine read-out ``C`` of shape (N, M):

.. math::

    u_t = W_2 \tilde z_{t-1}, \quad
    a_t = \mathrm{ReLU}(u_t + h_2) - \mathrm{ReLU}(u_t) \;\text{(clipped; plain: no second term)},

    z_t = A \odot \tilde z_{t-1} + W_1 a_t + h_1, \qquad \hat x_t = C z_t,

    \tilde z_t = (1 - \alpha)\, z_t + \alpha\, \hat z_t \quad\text{on the first K units},

with :math:`\tilde z_{-1} = z_0` given. The loss of a seed is the mean squared error
:math:`\frac{1}{B T N}\sum_{b,t} \|\hat x_t - x_t\|^2` of the *unforced* predictions.
Backpropagation through time runs the recursion backwards: with
:math:`g_t = \partial L/\partial z_t = C^T \tfrac{2}{BTN}(\hat x_t - x_t) + D_\alpha
\,\partial L/\partial \tilde z_t` (:math:`D_\alpha` is :math:`1-\alpha` on the forced
units and 1 elsewhere), the hidden gradient :math:`\gamma_t = W_1^T g_t`, and the gates
:math:`d^+_t = 1[u_t + h_2 > 0]`, :math:`d^0_t = 1[u_t > 0]`,

.. math::

    \partial L/\partial \tilde z_{t-1} = A \odot g_t + W_2^T\,[(d^+_t - d^0_t) \odot \gamma_t],

and the parameter gradients are the sums over ``b`` and ``t`` of
:math:`g_t \odot \tilde z_{t-1}` (A), :math:`g_t a_t^T` (W1),
:math:`\tilde z_{t-1} [(d^+_t - d^0_t)\odot\gamma_t]^T` (W2T), :math:`g_t` (h1),
:math:`d^+_t \odot \gamma_t` (h2) and :math:`\tfrac{2}{BTN}(\hat x_t - x_t) z_t^T` (C).
``dz0`` is :math:`\partial L/\partial z_0` per window; the caller maps it to the
parameters of the initial-state model (an inverse of ``C``, or ``[x, L x]``).

The forcing signals :math:`\hat z_t` carry no gradient, as in the authors' code, where
they are computed outside the differentiated function.

``gtf_gradients`` is the numba kernel (serial, no allocation inside the loops beyond
per-call scratch); ``gtf_gradients_twin`` the plain numpy specification it is tested
against. Both work in the dtype of the inputs (float32 in training, as the authors'
Flux code; float64 in the tests).
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["gtf_gradients", "gtf_gradients_twin", "jacobian_norms", "jacobian_norms_twin"]


@njit(cache=True, nogil=True, fastmath=True)
def gtf_gradients(A, W1, W2T, h1, h2, C, z0, x, zhat, alpha, clipped,
                  dA, dW1, dW2T, dh1, dh2, dC, dz0, loss):
    """Fill the gradient arrays (zeroed here) and ``loss`` (S,) for S seeds.

    Shapes: A, h1 (S, M); W1, W2T, dW1, dW2T (S, M, H); h2 (S, H); C (S, N, M);
    z0, dz0 (S, B, M); x (S, B, T, N) targets; zhat (S, B, T, K) forcing signals for
    the first K <= M units; alpha (S,) the forcing of each seed, in [0, 1]; clipped a
    bool. All float arrays
    share one dtype, and every accumulation stays in it (no silent float64 promotion,
    which would halve the vector width in float32 training).
    """
    S, M, H = W1.shape
    N = C.shape[1]
    B, T = x.shape[1], x.shape[2]
    K = zhat.shape[3]
    dt = x.dtype
    # histories of all windows: the weight gradients are then two BLAS products per seed
    zt_all = np.empty((B * T, M), dtype=dt)   # tilde z_{t-1}, the input of step t
    g_all = np.empty((B * T, M), dtype=dt)    # dL/dz_t
    a_all = np.empty((B * T, H), dtype=dt)    # hidden activations a_t
    gu_all = np.empty((B * T, H), dtype=dt)   # dL/du_t
    z_hist = np.empty((T, M), dtype=dt)    # z_t, the unforced prediction
    u_hist = np.empty((T, H), dtype=dt)
    r_hist = np.empty((T, N), dtype=dt)    # scaled residual 2/(BTN) (xhat - x)
    zt = np.empty(M, dtype=dt)
    g = np.empty(M, dtype=dt)
    gz = np.empty(M, dtype=dt)
    zero = dt.type(0.0)
    one = dt.type(1.0)
    cl = one if clipped else zero
    scale = dt.type(2.0 / (B * T * N))
    for s in range(S):
        al = alpha[s]
        keep = one - al
        As, W1s, W2s, h1s, h2s, Cs = A[s], W1[s], W2T[s], h1[s], h2[s], C[s]
        dAs, dW1s, dW2s, dh1s, dh2s, dCs = dA[s], dW1[s], dW2T[s], dh1[s], dh2[s], dC[s]
        dAs[:] = zero
        dh1s[:] = zero
        dh2s[:] = zero
        dCs[:, :] = zero
        total = 0.0
        for b in range(B):
            xb = x[s, b]
            zhb = zhat[s, b]
            zt_hist = zt_all[b * T : (b + 1) * T]
            g_hist = g_all[b * T : (b + 1) * T]
            a_hist = a_all[b * T : (b + 1) * T]
            gu_hist = gu_all[b * T : (b + 1) * T]
            for m in range(M):
                zt[m] = z0[s, b, m]
            # forward
            for t in range(T):
                uh = u_hist[t]
                ah = a_hist[t]
                for m in range(M):
                    zt_hist[t, m] = zt[m]
                for h in range(H):
                    uh[h] = zero
                for m in range(M):
                    zm = zt[m]
                    wm = W2s[m]
                    for h in range(H):
                        uh[h] += wm[h] * zm
                for h in range(H):
                    u = uh[h]
                    ah[h] = max(u + h2s[h], zero) - cl * max(u, zero)
                for m in range(M):
                    wm = W1s[m]
                    acc = zero
                    for h in range(H):
                        acc += wm[h] * ah[h]
                    z_hist[t, m] = As[m] * zt[m] + acc + h1s[m]
                for n in range(N):
                    acc = zero
                    for m in range(M):
                        acc += Cs[n, m] * z_hist[t, m]
                    r = acc - xb[t, n]
                    total += r * r
                    r_hist[t, n] = scale * r
                for m in range(M):
                    if m < K:
                        zt[m] = keep * z_hist[t, m] + al * zhb[t, m]
                    else:
                        zt[m] = z_hist[t, m]
            # backward
            for m in range(M):
                gz[m] = zero  # dL / d tilde z_t from the future
            for t in range(T - 1, -1, -1):
                uh = u_hist[t]
                gam = gu_hist[t]
                for m in range(M):
                    acc = zero
                    for n in range(N):
                        acc += Cs[n, m] * r_hist[t, n]
                    g[m] = acc + (keep * gz[m] if m < K else gz[m])
                    g_hist[t, m] = g[m]
                for n in range(N):
                    rn = r_hist[t, n]
                    for m in range(M):
                        dCs[n, m] += rn * z_hist[t, m]
                for h in range(H):
                    gam[h] = zero
                for m in range(M):
                    gm = g[m]
                    dh1s[m] += gm
                    dAs[m] += gm * zt_hist[t, m]
                    wm = W1s[m]
                    for h in range(H):
                        gam[h] += wm[h] * gm
                for h in range(H):
                    u = uh[h]
                    gh = gam[h]
                    on = one if u + h2s[h] > zero else zero
                    pos = one if u > zero else zero
                    dh2s[h] += on * gh
                    gam[h] = gh * (on - cl * pos)
                for m in range(M):
                    wm = W2s[m]
                    acc = zero
                    for h in range(H):
                        acc += wm[h] * gam[h]
                    gz[m] = As[m] * g[m] + acc
            for m in range(M):
                dz0[s, b, m] = gz[m]
        dW1s[:, :] = np.dot(g_all.T, a_all)
        dW2s[:, :] = np.dot(zt_all.T, gu_all)
        loss[s] = total / (B * T * N)


def gtf_gradients_twin(A, W1, W2T, h1, h2, C, z0, x, zhat, alpha, clipped):
    """Plain numpy specification of :func:`gtf_gradients`; returns
    ``(loss, dA, dW1, dW2T, dh1, dh2, dC, dz0)``."""
    S, M, _ = W1.shape
    N = C.shape[1]
    B, T = x.shape[1], x.shape[2]
    K = zhat.shape[3]
    scale = 2.0 / (B * T * N)
    al = np.asarray(alpha, dtype=x.dtype)[:, None, None]
    damp = np.where(np.arange(M) < K, 1.0 - al, 1.0)
    zt = z0.copy()                       # (S, B, M)
    hist = []
    loss = np.zeros(S)
    for t in range(T):
        u = np.einsum("sbm,smh->sbh", zt, W2T)
        a = np.maximum(u + h2[:, None], 0.0) - (np.maximum(u, 0.0) if clipped else 0.0)
        z = A[:, None] * zt + np.einsum("sbh,smh->sbm", a, W1) + h1[:, None]
        r = np.einsum("snm,sbm->sbn", C, z) - x[:, :, t]
        loss += (r**2).sum(axis=(1, 2))
        hist.append((zt, u, a, z, scale * r))
        zt = z.copy()
        zt[..., :K] = (1.0 - al) * z[..., :K] + al * zhat[:, :, t]
    grads = [np.zeros_like(p) for p in (A, W1, W2T, h1, h2, C)]
    dA, dW1, dW2T, dh1, dh2, dC = grads
    gz = np.zeros_like(z0)
    for zt, u, a, z, r in reversed(hist):
        g = np.einsum("snm,sbn->sbm", C, r) + damp * gz
        dC += np.einsum("sbn,sbm->snm", r, z)
        dh1 += g.sum(axis=1)
        dA += (g * zt).sum(axis=1)
        dW1 += np.einsum("sbm,sbh->smh", g, a)
        gam = np.einsum("smh,sbm->sbh", W1, g)
        on = (u + h2[:, None]) > 0
        dh2 += (gam * on).sum(axis=1)
        gu = gam * (on.astype(float) - ((u > 0).astype(float) if clipped else 0.0))
        dW2T += np.einsum("sbm,sbh->smh", zt, gu)
        gz = A[:, None] * g + np.einsum("smh,sbh->sbm", W2T, gu)
    return (loss / (B * T * N), dA, dW1, dW2T, dh1, dh2, dC, gz)


@njit(cache=True, nogil=True, fastmath=True)
def jacobian_norms(A, W1, W2T, h2, Z, clipped, out):
    r"""Spectral norms :math:`\|J(z)\|_2` of the shPLRNN Jacobian at the states ``Z``.

    ``Z`` is (S, P, M) (P states per seed), ``out`` (S, P) float64. For each state,
    :math:`J = \mathrm{diag}(A) + W_1 \mathrm{diag}(d) W_2` with the gates
    :math:`d = 1[W_2 z > -h_2] - 1[W_2 z > 0]` (clipped) or :math:`1[W_2 z > -h_2]`, and
    :math:`\|J\|_2^2` is the largest eigenvalue of :math:`J^T J` (cyclic Jacobi rotations,
    quadratically convergent and cheap for the small M of these models).
    """
    S, M, H = W1.shape
    P = Z.shape[1]
    J = np.empty((M, M))
    JtJ = np.empty((M, M))
    d = np.empty(H)
    for s in range(S):
        for p in range(P):
            for h in range(H):
                u = 0.0
                for m in range(M):
                    u += W2T[s, m, h] * Z[s, p, m]
                g = 1.0 if u > -h2[s, h] else 0.0
                if clipped and u > 0.0:
                    g -= 1.0
                d[h] = g
            for i in range(M):
                for j in range(M):
                    acc = 0.0
                    for h in range(H):
                        acc += W1[s, i, h] * d[h] * W2T[s, j, h]
                    J[i, j] = acc
                J[i, i] += A[s, i]
            for i in range(M):
                for j in range(M):
                    acc = 0.0
                    for k in range(M):
                        acc += J[k, i] * J[k, j]
                    JtJ[i, j] = acc
            out[s, p] = np.sqrt(max(_largest_symmetric_eigenvalue(JtJ), 0.0))


@njit(cache=True, nogil=True)
def _largest_symmetric_eigenvalue(S):
    """Largest eigenvalue of the symmetric matrix ``S`` (overwritten) by cyclic Jacobi."""
    n = S.shape[0]
    for _ in range(100):
        off = 0.0
        scale = 0.0
        for i in range(n):
            scale += S[i, i] * S[i, i]
            for j in range(i + 1, n):
                off += S[i, j] * S[i, j]
        if off <= 1e-30 * scale or off == 0.0:
            break
        for p in range(n - 1):
            for q in range(p + 1, n):
                if S[p, q] == 0.0:
                    continue
                theta = (S[q, q] - S[p, p]) / (2.0 * S[p, q])
                t = (1.0 if theta >= 0 else -1.0) / (abs(theta) + np.sqrt(theta * theta + 1.0))
                c = 1.0 / np.sqrt(t * t + 1.0)
                sn = t * c
                for k in range(n):  # S <- S R (columns p, q)
                    skp, skq = S[k, p], S[k, q]
                    S[k, p] = c * skp - sn * skq
                    S[k, q] = sn * skp + c * skq
                for k in range(n):  # S <- R^T S (rows p, q)
                    spk, sqk = S[p, k], S[q, k]
                    S[p, k] = c * spk - sn * sqk
                    S[q, k] = sn * spk + c * sqk
    best = S[0, 0]
    for i in range(1, n):
        best = max(best, S[i, i])
    return best


def jacobian_norms_twin(A, W1, W2T, h2, Z, clipped):
    """Plain numpy specification of :func:`jacobian_norms` (exact SVD norms)."""
    u = np.einsum("spm,smh->sph", Z, W2T)
    d = (u > -h2[:, None]).astype(np.float64)
    if clipped:
        d -= u > 0
    J = np.einsum("smh,sph,snh->spmn", W1, d, W2T, optimize=True)
    idx = np.arange(A.shape[1])
    J[:, :, idx, idx] += A[:, None, :]
    return np.linalg.norm(J, ord=2, axis=(-2, -1))
