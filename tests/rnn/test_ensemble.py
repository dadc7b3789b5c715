"""The batched GTF trainer: its hand-written BPTT against torch autograd, resumability,
and the estimators it hands back."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from koop import io  # noqa: E402
from koop._kernels.plrnn import (  # noqa: E402
    gtf_gradients,
    gtf_gradients_twin,
    jacobian_norms,
    jacobian_norms_twin,
)
from koop.rnn.ensemble import GTFEnsemble, GTFSettings  # noqa: E402
from koop.rnn.teacher_forcing import gtf_rollout  # noqa: E402


def _random_problem(rng, S=2, B=3, T=12, M=4, H=9, N=3, K=4, dtype=np.float64):
    f = lambda *shape, scale=1.0: (scale * rng.standard_normal(shape)).astype(dtype)  # noqa: E731
    return (rng.uniform(0.5, 1.0, (S, M)).astype(dtype), f(S, M, H, scale=0.3),
            f(S, M, H, scale=0.5), f(S, M, scale=0.1), f(S, H, scale=0.3), f(S, N, M),
            f(S, B, M), f(S, B, T, N), f(S, B, T, K))


class _Cell(torch.nn.Module):
    """The shPLRNN step written with torch operations, for autograd."""

    def __init__(self, A, W1, W2T, h1, h2, clipped):
        super().__init__()
        self.p, self.clipped = (A, W1, W2T, h1, h2), clipped

    def forward(self, z):
        A, W1, W2T, h1, h2 = self.p
        u = z @ W2T
        act = torch.relu(u + h2) - (torch.relu(u) if self.clipped else 0.0)
        return A * z + act @ W1.T + h1


@pytest.mark.parametrize("clipped", [True, False])
@pytest.mark.parametrize("K", [4, 2])  # all units forced (affine), or the first K
def test_kernel_gradients_equal_twin_and_torch_autograd(clipped, K):
    rng = np.random.default_rng(3)
    A, W1, W2T, h1, h2, C, z0, x, zhat = _random_problem(rng, K=K)
    alpha = np.array([0.3, 0.7])
    outs = [np.empty_like(a) for a in (A, W1, W2T, h1, h2, C, z0)]
    loss = np.empty(2)
    gtf_gradients(A, W1, W2T, h1, h2, C, z0, x, zhat, alpha, clipped, *outs, loss)
    twin = gtf_gradients_twin(A, W1, W2T, h1, h2, C, z0, x, zhat, alpha, clipped)
    for got, want in zip([loss, *outs], twin, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)
    # torch autograd through the same recursion, one seed at a time
    for s in range(2):
        t = [torch.tensor(a[s], requires_grad=True) for a in (A, W1, W2T, h1, h2, C, z0)]
        tA, tW1, tW2T, th1, th2, tC, tz0 = t

        Z = gtf_rollout(_Cell(tA, tW1, tW2T, th1, th2, clipped), tz0,
                        torch.tensor(zhat[s]), float(alpha[s]))
        L = torch.mean((Z @ tC.T - torch.tensor(x[s])) ** 2)
        L.backward()
        assert abs(L.item() - loss[s]) < 1e-12
        for got, ten in zip(outs, t, strict=True):
            np.testing.assert_allclose(got[s], ten.grad.numpy(), rtol=1e-9, atol=1e-12)


def test_jacobian_norm_kernel_equals_svd_twin():
    rng = np.random.default_rng(0)
    for M, H in [(3, 40), (5, 25)]:
        A = rng.uniform(0, 1, (2, M))
        W1, W2T = rng.normal(0, 0.3, (2, M, H)), rng.normal(0, 0.5, (2, M, H))
        h2, Z = rng.normal(0, 0.3, (2, H)), rng.normal(0, 1, (2, 50, M))
        for clipped in (True, False):
            out = np.empty((2, 50))
            jacobian_norms(A, W1, W2T, h2, Z, clipped, out)
            np.testing.assert_allclose(out, jacobian_norms_twin(A, W1, W2T, h2, Z, clipped),
                                       rtol=1e-12)


@pytest.fixture(scope="module")
def cycle():
    t = np.arange(1200) * 0.1
    X = np.column_stack([np.sin(t), np.cos(t), np.sin(2 * t)])
    return X / X.std(axis=0)


SMALL = dict(n_hidden=12, sequence_length=15, batch_size=4, n_epochs=4, batches_per_epoch=3)


@pytest.mark.parametrize("settings", [
    GTFSettings.ecg(n_latent=4, observation_regularization=1e-2, **SMALL),
    GTFSettings.lorenz63(n_latent=4, latent_regularization=1e-2, alpha=0.4, **SMALL),
], ids=["affine", "identity"])
def test_ensemble_gradients_equal_the_torch_trainers_loss(cycle, settings):
    """Every term of the batched trainer's gradient (rollout, B^+ in the initial state,
    the condition or L2 penalties) equals autograd of koop's torch model on the same
    windows, so the numba trainer optimises exactly ShallowPLRNN's objective."""
    ens = GTFEnsemble(cycle, settings, n_models=2, random_state=1)
    X = ens._windows().astype(np.float32)
    ens.params = {k: v.astype(np.float64) for k, v in ens.params.items()}
    X64 = X.astype(np.float64)
    loss, grads = _gradients64(ens, X64)
    for k, est in enumerate(ens.estimators()):
        lm = est.model_
        for p in lm.parameters():
            p.requires_grad_(True)
        xt = torch.tensor(X64[k])
        z0 = lm.infer(xt[:, 0])
        Z = gtf_rollout(lm.cell, z0, lm.forcing_signals(xt[:, 1:]), float(ens.alpha[k]))
        L = torch.mean((lm.observe(Z) - xt[:, 1:]) ** 2)
        obj = L
        if settings.latent_regularization:
            obj = obj + settings.latent_regularization * lm.cell.regularization()
        if settings.observation_regularization:
            obj = obj + settings.observation_regularization * lm.observation_penalty()
        obj.backward()
        assert abs(L.item() - loss[k]) < 1e-10
        names = {"A": lm.cell.A, "W1": lm.cell.W1, "W2T": lm.cell.W2, "h1": lm.cell.h1,
                 "h2": lm.cell.h2}
        names["B" if settings.observation_model == "affine" else "L"] = (
            lm.B if settings.observation_model == "affine" else lm.L)
        for name, param in names.items():
            if param is None:
                continue
            want = param.grad.numpy().T if name == "W2T" else param.grad.numpy()
            np.testing.assert_allclose(grads[name][k], want, rtol=1e-8, atol=1e-11,
                                       err_msg=name)


def _gradients64(ens, X):
    """Run GTFEnsemble.gradients in float64 (the module's dtype is float32 for training)."""
    import koop.rnn.ensemble as mod

    before = mod._DT
    mod._DT = np.float64
    try:
        return ens.gradients(X)
    finally:
        mod._DT = before


def test_resumed_training_equals_uninterrupted(cycle, tmp_path):
    settings = GTFSettings.lorenz63(n_latent=3, **SMALL)
    straight = GTFEnsemble(cycle, settings, n_models=3, random_state=5).train()
    part = GTFEnsemble(cycle, settings, n_models=3, random_state=5)
    part.train(until_epoch=2, checkpoint=tmp_path / "ens.npz", checkpoint_every=1)
    resumed = GTFEnsemble.load(tmp_path / "ens.npz", cycle).train()
    assert resumed.epoch == straight.epoch == settings.n_epochs
    for k in straight.params:
        np.testing.assert_array_equal(resumed.params[k], straight.params[k])
    np.testing.assert_array_equal(resumed.loss_history, straight.loss_history)
    np.testing.assert_array_equal(resumed.alpha_history, straight.alpha_history)


def test_a_seed_does_not_depend_on_its_batch_mates(cycle):
    settings = GTFSettings.ecg(n_latent=3, **SMALL)
    three = GTFEnsemble(cycle, settings, n_models=3, random_state=2).train()
    one = GTFEnsemble(cycle, settings, n_models=1, random_state=2).train()
    for k in one.params:
        np.testing.assert_allclose(three.params[k][0], one.params[k][0], rtol=1e-5,
                                   atol=1e-6)


def test_training_lowers_the_loss_and_flags_divergence(cycle):
    settings = GTFSettings.ecg(n_latent=3, n_hidden=20, sequence_length=20, batch_size=8,
                               n_epochs=30, batches_per_epoch=5, learning_rate=1e-2,
                               final_learning_rate=1e-3)
    ens = GTFEnsemble(cycle, settings, n_models=2, random_state=0)
    ens.params["W1"][1] = np.nan  # seed 1 is broken from the start
    ens.train()
    assert ens.diverged.tolist() == [False, True]
    assert np.isnan(ens.loss_history[1]).all()
    first, last = ens.loss_history[0, :3].mean(), ens.loss_history[0, -3:].mean()
    assert last < 0.7 * first, (first, last)


def test_estimators_simulate_the_trained_parameters_and_round_trip(cycle, tmp_path):
    settings = GTFSettings.ecg(n_latent=4, **SMALL)
    ens = GTFEnsemble(cycle, settings, n_models=2, random_state=0).train()
    est = ens.estimators(dt=0.1)[1]
    p = {k: v[1].astype(np.float64) for k, v in ens.params.items()}
    z = np.linalg.pinv(p["B"]) @ cycle[0]
    ref = []
    for _ in range(25):  # plain numpy iteration of the clipped shPLRNN
        u = p["W2T"].T @ z
        z = p["A"] * z + p["W1"] @ (np.maximum(u + p["h2"], 0) - np.maximum(u, 0)) + p["h1"]
        ref.append(p["B"] @ z)
    np.testing.assert_allclose(est.simulate(cycle[0], 25), np.array(ref), rtol=1e-10,
                               atol=1e-12)
    assert est.n_parameters_ == 4 + 2 * 4 * 12 + 4 + 12 + 3 * 4
    back = io.load(io.save(est, tmp_path / "seed1.npz"))
    np.testing.assert_array_equal(back.simulate(cycle[0], 25), est.simulate(cycle[0], 25))
    assert back.observation_model == "affine" and back.dt_ == 0.1


def test_paper_presets_and_bad_settings():
    ecg = GTFSettings.ecg()
    assert (ecg.n_latent, ecg.n_hidden, ecg.alpha, ecg.alpha_method) == (5, 250, 0.3, "constant")
    assert (ecg.observation_model, ecg.observation_regularization) == ("affine", 1e-7)
    assert (ecg.n_epochs, ecg.batches_per_epoch, ecg.batch_size) == (5000, 50, 16)
    assert (ecg.learning_rate, ecg.final_learning_rate) == (1e-3, 1e-6)
    lor = GTFSettings.lorenz63()
    assert (lor.n_latent, lor.n_hidden, lor.alpha_method, lor.latent_regularization) == (
        3, 100, "product_upper_bound", 1e-5)
    X = np.zeros((500, 3))
    with pytest.raises(ValueError, match="n_latent=2 is below the 3 observed"):
        GTFEnsemble(X, GTFSettings.ecg(n_latent=2))
    with pytest.raises(ValueError, match="observation_model"):
        GTFEnsemble(X, GTFSettings.ecg(observation_model="linear"))
    with pytest.raises(ValueError, match="finite"):
        GTFEnsemble(np.full((500, 3), np.nan), GTFSettings.ecg())
    with pytest.raises(ValueError, match="windows"):
        GTFEnsemble(X[:100], GTFSettings.ecg())


def test_split_parts_trained_apart_and_merged_equal_one_ensemble(cycle, tmp_path):
    """Seeds split over processes (here: save, load, train, merge) continue exactly."""
    settings = GTFSettings.ecg(n_latent=3, **SMALL)
    straight = GTFEnsemble(cycle, settings, n_models=3, random_state=4).train()
    start = GTFEnsemble(cycle, settings, n_models=3, random_state=4).train(until_epoch=1)
    parts = start.split(2)
    assert [p.n_models for p in parts] == [2, 1]
    resumed = []
    for i, part in enumerate(parts):  # as the training script does, one process each
        part.save(tmp_path / f"part{i}.npz")
        resumed.append(GTFEnsemble.load(tmp_path / f"part{i}.npz", cycle).train())
    merged = GTFEnsemble.merge(resumed)
    assert merged.n_models == 3 and merged.epoch == straight.epoch
    for k in straight.params:
        np.testing.assert_allclose(merged.params[k], straight.params[k], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(merged.loss_history, straight.loss_history, rtol=1e-5)
    np.testing.assert_allclose(merged.train_seconds,
                               sum(p.train_seconds for p in resumed))
    merged.save(tmp_path / "merged.npz")  # the merged ensemble resumes and scores as one
    assert GTFEnsemble.load(tmp_path / "merged.npz", cycle).n_models == 3
    with pytest.raises(ValueError, match="different epochs"):
        GTFEnsemble.merge([resumed[0], parts[1]])
    with pytest.raises(ValueError, match="n_parts"):
        start.split(4)
