"""The LFADS sequential variational auto-encoder as one Lightning module.

Shapes: B trials in a batch, T time bins, N neurons. Inputs are (B, T, N) with NaN at unsampled
entries when SBTT is on.

Architecture (Sussillo et al. 2016; Pandarinath et al. 2018; sizes from parameters):

- IC encoder: bidirectional GRU over the inputs → Gaussian posterior over the initial condition
  (``ic_dim``), prior N(trainable mean, ``ic_prior_var``), posterior variance floor
  ``ic_post_var_min``; a linear map takes the sample to the generator's initial state.
- Controller input encoder: bidirectional GRU; its forward half is delayed and its backward half
  advanced by ``ci_lag`` bins.
- Controller: GRU fed with the encoder output and the previous factors; it emits the Gaussian
  posterior of the inferred input u(t) (``co_dim``), whose prior is AR(1) with trainable time
  constant τ and process variance.
- Generator: GRU driven by u(t); factors = linear(generator state); readout: factors → the
  observation model's parameters for every neuron.

Speed: on a CPU (``recurrence='auto'`` or ``'fused'``) the encoders and the
controller–generator loop are autograd functions with hand-written backward passes
(:mod:`.recurrence`); with ``recurrence='autograd'`` (and 'auto' on a GPU) both encoders are
``nn.GRU`` layers and the controller and generator run in one Python loop of plain matrix
products that autograd records. Either way the controller's input projection of the encoder
output is computed for all time steps before the loop. GRU states are clipped at
``cell_clip``: a GRU state is a convex combination of its previous value and a tanh, so
|h_t| ≤ max(1, |h_0|) and clipping the initial states is the same as clipping every step.
"""

from __future__ import annotations

import math
from typing import Any

import lightning as L
import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from calcium_dynamics.models.lfads.augmentations import (
    AugmentationStack,
    CoordinatedDropout,
    SelectiveBackprop,
)
from calcium_dynamics.models.lfads.observations import build_observation
from calcium_dynamics.models.lfads.recurrence import bidirectional_grus, controlled_generator

_LOG_2PI = math.log(2.0 * math.pi)
#: how the recurrent parts run (``LFADS(recurrence=...)``)
RECURRENCES = ("auto", "fused", "autograd")


def _gru_step(gi: torch.Tensor, gh: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
    """One GRU update from precomputed input (gi) and hidden (gh) projections, (B, 3H) each.

    ``unbind`` (not slicing) splits the gates: its backward is one stack instead of a
    zero-filled full-size gradient per slice.
    """
    size = h.shape[-1]
    i_r, i_z, i_n = gi.unflatten(-1, (3, size)).unbind(-2)
    h_r, h_z, h_n = gh.unflatten(-1, (3, size)).unbind(-2)
    r = torch.sigmoid(i_r + h_r)
    z = torch.sigmoid(i_z + h_z)
    n = torch.tanh(i_n + r * h_n)
    return n + z * (h - n)


def _contains_nan(x: torch.Tensor) -> bool:
    """Whether ``x`` holds a NaN. A sum is NaN whenever an entry is, so the entry-wise test (a
    boolean tensor of the full size) runs only when the sum is NaN (a NaN, or +inf and -inf)."""
    return bool(torch.isnan(x.sum())) and bool(torch.isnan(x).any())


def _gru_weights(module: nn.Module, input_size: int, hidden_size: int) -> None:
    bound = 1.0 / math.sqrt(hidden_size)
    module.weight_ih = nn.Parameter(
        torch.empty(3 * hidden_size, input_size).uniform_(-bound, bound)
    )
    module.weight_hh = nn.Parameter(
        torch.empty(3 * hidden_size, hidden_size).uniform_(-bound, bound)
    )
    module.bias_ih = nn.Parameter(torch.empty(3 * hidden_size).uniform_(-bound, bound))
    module.bias_hh = nn.Parameter(torch.empty(3 * hidden_size).uniform_(-bound, bound))


def _recurrent_weights(gru: nn.GRU) -> list[torch.Tensor]:
    return [gru.weight_hh_l0, gru.weight_hh_l0_reverse]


class _Cell(nn.Module):
    """Parameters of a GRU cell (used by the controller and generator loop)."""

    def __init__(self, input_size: int, hidden_size: int):
        super().__init__()
        self.input_size, self.hidden_size = input_size, hidden_size
        _gru_weights(self, input_size, hidden_size)


class LFADS(L.LightningModule):
    """LFADS with a swappable observation model and SBTT / coordinated-dropout augmentations.

    Args:
        n_neurons: N. n_steps: T (every batch must have exactly T bins).
        observation: 'poisson', 'gaussian', 'zig' or 'calcium'; observation_kwargs go to it.
        sbtt: treat NaN inputs as unsampled (SBTT); otherwise NaN inputs are an error.
        cd_keep_ratio: coordinated-dropout keep probability (1 disables it).
        ic_enc_dim, ci_enc_dim, con_dim, co_dim, ic_dim, gen_dim, fac_dim: layer sizes.
        ic_prior_var, ic_post_var_min: IC prior variance and posterior variance floor.
        co_prior_tau, co_prior_var: initial τ (bins) and variance of the AR(1) input prior.
        ci_lag: controller-input encoder lag (bins). dropout: dropout probability.
        cell_clip: GRU state clip.
        kl_ic_scale, kl_co_scale, l2_gen_scale, l2_con_scale, l2_ic_enc_scale,
        l2_ci_enc_scale: penalty scales.
        kl_start_epoch, kl_ramp_epochs, l2_start_epoch, l2_ramp_epochs: linear ramps (epochs).
        lr, adam_eps, adam_beta1, adam_beta2, weight_decay: Adam settings.
        recurrence: 'fused' runs the encoders, controller and generator with the hand-written
            backward passes of :mod:`.recurrence`; 'autograd' records every operation for
            autograd (``nn.GRU`` encoders, cuDNN's on a GPU); 'auto' (default) is 'fused' on a
            CPU and 'autograd' elsewhere. Same model, same random draws, the same numbers to
            float rounding.
    """

    def __init__(
        self,
        n_neurons: int,
        n_steps: int,
        observation: str = "poisson",
        observation_kwargs: dict[str, Any] | None = None,
        sbtt: bool = False,
        cd_keep_ratio: float = 1.0,
        ic_enc_dim: int = 64,
        ci_enc_dim: int = 64,
        con_dim: int = 64,
        co_dim: int = 2,
        ic_dim: int = 64,
        gen_dim: int = 100,
        fac_dim: int = 100,
        ic_prior_var: float = 0.1,
        ic_post_var_min: float = 1e-4,
        co_prior_tau: float = 10.0,
        co_prior_var: float = 0.1,
        ci_lag: int = 1,
        dropout: float = 0.0,
        cell_clip: float = 5.0,
        kl_ic_scale: float = 1.0,
        kl_co_scale: float = 1.0,
        l2_gen_scale: float = 0.0,
        l2_con_scale: float = 0.0,
        l2_ic_enc_scale: float = 0.0,
        l2_ci_enc_scale: float = 0.0,
        kl_start_epoch: int = 0,
        kl_ramp_epochs: int = 0,
        l2_start_epoch: int = 0,
        l2_ramp_epochs: int = 0,
        lr: float = 1e-3,
        adam_eps: float = 1e-8,
        adam_beta1: float = 0.9,
        adam_beta2: float = 0.99,
        weight_decay: float = 0.0,
        recurrence: str = "auto",
    ):
        super().__init__()
        self.save_hyperparameters()
        if n_neurons < 1 or n_steps < 1:
            raise ValueError(f"n_neurons and n_steps must be >= 1; got {n_neurons}, {n_steps}")
        if recurrence not in RECURRENCES:
            raise ValueError(f"recurrence must be one of {RECURRENCES}; got {recurrence!r}")
        self.observation = build_observation(observation, n_neurons, **(observation_kwargs or {}))
        # SBTT (``sbtt``) runs first, in compute_loss (its zero-filled data are also the
        # targets); the stack holds the augmentations after it
        augs = [CoordinatedDropout(cd_keep_ratio)] if cd_keep_ratio < 1.0 else []
        self.augment = AugmentationStack(augs)

        self.ic_encoder = nn.GRU(n_neurons, ic_enc_dim, batch_first=True, bidirectional=True)
        self.ic_to_post = nn.Linear(2 * ic_enc_dim, 2 * ic_dim)
        self.ic_to_g0 = nn.Linear(ic_dim, gen_dim)
        self.ic_prior_mean = nn.Parameter(torch.zeros(ic_dim))
        self.use_controller = co_dim > 0
        if self.use_controller:
            self.ci_encoder = nn.GRU(n_neurons, ci_enc_dim, batch_first=True, bidirectional=True)
            self.controller = _Cell(2 * ci_enc_dim + fac_dim, con_dim)
            self.con_h0 = nn.Parameter(torch.zeros(con_dim))
            self.con_to_co = nn.Linear(con_dim, 2 * co_dim)
            self.co_log_tau = nn.Parameter(torch.full((co_dim,), math.log(co_prior_tau)))
            self.co_log_var = nn.Parameter(torch.full((co_dim,), math.log(co_prior_var)))
        self.generator = _Cell(max(co_dim, 1), gen_dim)
        self.factors = nn.Linear(gen_dim, fac_dim, bias=False)
        n_params = self.observation.n_params
        self.readout = nn.Linear(fac_dim, n_params * n_neurons)
        self.drop = nn.Dropout(dropout)

    def initialise_from_data(self, data: np.ndarray) -> None:
        """Set the readout bias (and observation parameters such as the ZIG locations or the
        calcium AR coefficients) from simple statistics of training data (trials, T, N)."""
        bias = self.observation.initial_bias(np.asarray(data, dtype=np.float64))
        if bias is not None:
            with torch.no_grad():
                self.readout.bias.copy_(torch.as_tensor(bias, dtype=torch.float32).reshape(-1))

    # ------------------------------------------------------------------ forward pass
    def _check_inputs(self, data: torch.Tensor) -> None:
        hp = self.hparams
        if data.ndim != 3:
            raise ValueError(
                f"LFADS inputs must have shape (trials, bins, neurons); got {tuple(data.shape)}"
            )
        if data.shape[1] != hp.n_steps:
            raise ValueError(
                f"trials have {data.shape[1]} bins but the model was built for n_steps={hp.n_steps}"
            )
        if data.shape[2] != hp.n_neurons:
            raise ValueError(
                f"inputs have {data.shape[2]} neurons but the model was built for {hp.n_neurons}"
            )

    def forward(self, inputs: torch.Tensor, sample: bool = True) -> dict[str, torch.Tensor]:
        """Run the model on zero-filled inputs (B, T, N).

        Returns a dict with ``readout`` (B, T, n_params, N), the same as ``params`` (tuple of
        (B, T, N) views of it), ``factors`` (B, T, F),
        ``ic_mean`` / ``ic_std`` (B, ic_dim), and with a controller ``co_mean`` / ``co_std`` /
        ``u`` (B, T, co_dim). ``sample=False`` uses posterior means (inference).
        """
        hp = self.hparams
        batch, n_steps, _ = inputs.shape
        fused = self._fused(inputs)
        x = self.drop(inputs)
        h_n, ci = self._encode(x, fused)
        ic_post = self.ic_to_post(self.drop(torch.cat([h_n[0], h_n[1]], dim=-1)))
        ic_mean, ic_logvar = ic_post.chunk(2, dim=-1)
        ic_std = torch.sqrt(torch.exp(ic_logvar) + hp.ic_post_var_min)
        ic = ic_mean + ic_std * torch.randn_like(ic_std) if sample else ic_mean
        g = torch.clamp(self.ic_to_g0(ic), -hp.cell_clip, hp.cell_clip)
        f = self.factors(self.drop(g))
        out: dict[str, torch.Tensor] = {"ic_mean": ic_mean, "ic_std": ic_std}
        if self.use_controller:
            ci = self._lag(ci, hp.ci_enc_dim, hp.ci_lag)
            con = self.controller
            w_ci, w_fac = con.weight_ih.split([2 * hp.ci_enc_dim, hp.fac_dim], dim=1)
            ci_proj = F.linear(self.drop(ci), w_ci, con.bias_ih)  # (B, T, 3·con_dim)
            c = torch.clamp(self.con_h0, -hp.cell_clip, hp.cell_clip).expand(batch, -1)
            draw = torch.randn if sample else torch.zeros  # zeros: u = posterior mean
            eps = draw(n_steps, batch, hp.co_dim, device=inputs.device)
            run = self._controlled_generator_fused if fused else self._controlled_generator
            fac, out["co_mean"], out["co_std"], out["u"] = run(ci_proj, w_fac, c, g, f, eps)
        else:
            gen, factors = self.generator, []
            gi = gen.bias_ih.expand(batch, -1)
            for _ in range(n_steps):
                g = _gru_step(gi, F.linear(g, gen.weight_hh, gen.bias_hh), g)
                factors.append(self.factors(self.drop(g)))
            fac = torch.stack(factors, dim=1)
        raw = self.readout(fac).view(batch, n_steps, self.observation.n_params, hp.n_neurons)
        out["readout"] = raw
        out["params"] = self.observation.split(raw)
        out["factors"] = fac
        return out

    def _fused(self, inputs: torch.Tensor) -> bool:
        """Whether this forward pass runs the recurrences of :mod:`.recurrence`: the
        ``recurrence`` setting ('auto': on a CPU), with a controller, and for inputs that need
        no gradient (the fused encoders return none for them)."""
        recurrence = self.hparams.get("recurrence", "auto")
        if recurrence == "auto":
            recurrence = "fused" if inputs.device.type == "cpu" else "autograd"
        return recurrence == "fused" and self.use_controller and not inputs.requires_grad

    def _encode(self, x: torch.Tensor, fused: bool) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The IC encoder's final states (2, B, ic_enc_dim) and the controller-input encoder's
        outputs (B, T, 2·ci_enc_dim; None without a controller)."""
        hp = self.hparams
        if not fused:
            _, h_n = self.ic_encoder(x)
            return h_n, (self.ci_encoder(x)[0] if self.use_controller else None)
        if hp.ic_enc_dim == hp.ci_enc_dim:  # the four directions in one recurrence
            encoders = [self.ic_encoder, self.ci_encoder]
            (_, h_n), (ci, _) = bidirectional_grus(x, encoders, outputs=[False, True])
            return h_n, ci
        h_n = bidirectional_grus(x, [self.ic_encoder], outputs=[False])[0][1]
        return h_n, bidirectional_grus(x, [self.ci_encoder])[0][0]

    def _controlled_generator(self, ci_proj, w_fac, c, g, f, eps):
        """Controller and generator over the bins, every operation recorded by autograd.
        Returns factors, μ, σ and u of the inferred inputs, each (B, T, ·)."""
        con, gen = self.controller, self.generator
        factors, co_means, co_stds, us = [], [], [], []
        ci_steps = ci_proj.unbind(1)  # one stack in backward, not a full-size fill per step
        for t in range(len(ci_steps)):
            gi = torch.addmm(ci_steps[t], f, w_fac.t())
            c = _gru_step(gi, F.linear(c, con.weight_hh, con.bias_hh), c)
            co_mean, co_logvar = self.con_to_co(c).chunk(2, dim=-1)
            co_std = torch.exp(0.5 * co_logvar)
            u = co_mean + co_std * eps[t]
            g = _gru_step(
                F.linear(u, gen.weight_ih, gen.bias_ih), F.linear(g, gen.weight_hh, gen.bias_hh), g
            )
            f = self.factors(self.drop(g))
            factors.append(f)
            co_means.append(co_mean)
            co_stds.append(co_std)
            us.append(u)
        return tuple(torch.stack(v, dim=1) for v in (factors, co_means, co_stds, us))

    def _controlled_generator_fused(self, ci_proj, w_fac, c, g, f, eps):
        """:meth:`_controlled_generator` as one autograd function (:mod:`.recurrence`), with
        the dropout masks of the generator states drawn as that method draws them."""
        masks = None
        if self.drop.training and self.drop.p > 0:
            # as ``self.drop(ones)`` once per bin (the same draws: one Bernoulli draw into a
            # fresh (B, G) tensor per bin), scaled in one pass; ones × mask is the mask
            keep = 1.0 - self.drop.p
            masks = g.new_empty((eps.shape[0], *g.shape), requires_grad=False)
            for mask in masks:
                mask.bernoulli_(keep)
            masks.div_(keep)
        outputs = controlled_generator(
            ci_proj, f, c, g, eps, masks, w_fac, self.controller, self.con_to_co,
            self.generator, self.factors,
        )  # fmt: skip
        return tuple(v.transpose(0, 1) for v in outputs)

    @staticmethod
    def _lag(ci: torch.Tensor, size: int, lag: int) -> torch.Tensor:
        if lag <= 0:
            return ci
        fwd, bwd = ci[..., :size], ci[..., size:]
        fwd = F.pad(fwd, (0, 0, lag, 0))[:, : ci.shape[1]]
        bwd = F.pad(bwd, (0, 0, 0, lag))[:, lag:]
        return torch.cat([fwd, bwd], dim=-1)

    # ------------------------------------------------------------------ losses
    def kl_ic(self, ic_mean: torch.Tensor, ic_std: torch.Tensor) -> torch.Tensor:
        """KL(posterior ‖ prior) of the initial condition, summed over dims, per trial (B,)."""
        var_p = self.hparams.ic_prior_var
        var_q = ic_std**2
        kl = 0.5 * (
            math.log(var_p)
            - torch.log(var_q)
            + (var_q + (ic_mean - self.ic_prior_mean) ** 2) / var_p
            - 1.0
        )
        return kl.sum(dim=-1)

    def kl_co(self, co_mean: torch.Tensor, co_std: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        """Sampled KL of the inferred inputs against the AR(1) prior, per trial (B,)."""
        log_q = -0.5 * (_LOG_2PI + 2 * torch.log(co_std) + ((u - co_mean) / co_std) ** 2)
        phi = torch.exp(-1.0 / torch.exp(self.co_log_tau))
        var = torch.exp(self.co_log_var)
        innov_var = var * (1.0 - phi**2)
        first = -0.5 * (_LOG_2PI + torch.log(var) + u[:, :1] ** 2 / var)
        resid = u[:, 1:] - phi * u[:, :-1]
        rest = -0.5 * (_LOG_2PI + torch.log(innov_var) + resid**2 / innov_var)
        log_p = torch.cat([first, rest], dim=1)
        return (log_q - log_p).sum(dim=(1, 2))

    def l2_penalty(self) -> torch.Tensor:
        hp = self.hparams
        terms = [
            (hp.l2_gen_scale, [self.generator.weight_hh]),
            (
                hp.l2_ic_enc_scale,
                [self.ic_encoder.weight_hh_l0, self.ic_encoder.weight_hh_l0_reverse],
            ),
        ]
        if self.use_controller:
            terms.append((hp.l2_con_scale, [self.controller.weight_hh]))
            terms.append(
                (
                    hp.l2_ci_enc_scale,
                    [self.ci_encoder.weight_hh_l0, self.ci_encoder.weight_hh_l0_reverse],
                )
            )
        total = torch.zeros((), device=self.device)
        for scale, weights in terms:
            if scale:
                n = sum(w.numel() for w in weights)
                total = total + scale * 0.5 * sum((w**2).sum() for w in weights) / n
        return total

    @staticmethod
    def _ramp(epoch: int, start: int, length: int) -> float:
        if length <= 0:
            return 1.0 if epoch >= start else 0.0
        return float(min(1.0, max(0.0, (epoch - start + 1) / (length + 1))))

    def _augmented(self, data: torch.Tensor, training: bool):
        """The model's inputs, the targets and the cost mask (B, T, N) each, and the number of
        sampled entries, for raw data (B, T, N). SBTT runs first: its zero-filled data are the
        targets and the other augmentations' input, its sampled entries their cost mask."""
        if self.hparams.sbtt:
            target, sampled = SelectiveBackprop()(data)
            n_sampled = torch.count_nonzero(sampled)
        else:
            target = data
            sampled = torch.ones(data.shape, dtype=torch.bool, device=data.device)
            n_sampled = data.numel()
        inputs, cost_mask = self.augment(target, sampled, training)
        return inputs, target, cost_mask, n_sampled

    def compute_loss(self, data: torch.Tensor, training: bool) -> dict[str, torch.Tensor]:
        """Loss terms for a batch of raw data (B, T, N) (NaN = unsampled when SBTT is on).

        The reconstruction term is the mean NLL over the cost entries; KL terms are per trial
        divided by the mean number of sampled entries per trial, so that with unit scales the
        loss is the negative ELBO per sampled entry. A batch without any sampled entry has a
        zero reconstruction term.
        """
        self._check_inputs(data)
        hp = self.hparams
        if not hp.sbtt and _contains_nan(data):
            raise ValueError(
                "inputs contain NaN but SBTT is off (set sbtt: true for NaN-masked data)"
            )
        inputs, target, cost_mask, n_sampled = self._augmented(data, training)
        out = self(inputs, sample=True)
        recon = self.observation.readout_nll(target, out["readout"], cost_mask)
        per_trial = torch.clamp(torch.as_tensor(n_sampled / data.shape[0]), min=1.0)
        kl_ic = self.kl_ic(out["ic_mean"], out["ic_std"]).mean() / per_trial
        kl_co = (
            self.kl_co(out["co_mean"], out["co_std"], out["u"]).mean() / per_trial
            if self.use_controller
            else torch.zeros((), device=data.device)
        )
        l2 = self.l2_penalty()
        epoch = self.current_epoch if self._trainer is not None else 10**9
        kl_w = self._ramp(epoch, hp.kl_start_epoch, hp.kl_ramp_epochs)
        l2_w = self._ramp(epoch, hp.l2_start_epoch, hp.l2_ramp_epochs)
        loss = (
            recon
            + kl_w * (hp.kl_ic_scale * kl_ic + hp.kl_co_scale * kl_co)
            + l2_w * l2
            + self.observation.penalty()
        )
        return {"loss": loss, "recon": recon, "kl_ic": kl_ic, "kl_co": kl_co, "l2": l2}

    # ------------------------------------------------------------------ Lightning hooks
    def training_step(self, batch, batch_idx):
        terms = self.compute_loss(batch[0], training=True)
        self.log_dict(
            {f"train/{k}": v.detach() for k, v in terms.items()},
            on_step=False,
            on_epoch=True,
            batch_size=batch[0].shape[0],
            sync_dist=True,  # averaged over every process under DDP
        )
        return terms["loss"]

    def validation_step(self, batch, batch_idx):
        terms = self.compute_loss(batch[0], training=False)
        self.log_dict(
            {f"valid/{k}": v for k, v in terms.items()},
            on_step=False,
            on_epoch=True,
            prog_bar=True,
            batch_size=batch[0].shape[0],
            sync_dist=True,
        )

    def configure_optimizers(self):
        """Adam over all parameters. ``foreach=True``: one multi-tensor update for all
        parameters (also on a CPU, where PyTorch's default loops over them); the same
        arithmetic per entry."""
        hp = self.hparams
        return torch.optim.Adam(
            self.parameters(),
            lr=hp.lr,
            eps=hp.adam_eps,
            betas=(hp.adam_beta1, hp.adam_beta2),
            weight_decay=hp.weight_decay,
            foreach=True,
        )

    # ------------------------------------------------------------------ inference
    @torch.no_grad()
    def infer(
        self, data: np.ndarray | torch.Tensor, batch_size: int = 256
    ) -> dict[str, np.ndarray]:
        """Posterior-mean rates and factors for every trial.

        Args:
            data: (trials, T, N), NaN at unsampled entries when SBTT is on.

        Returns:
            ``rates`` (trials, T, N) from the observation model's ``rate`` (event rate for ZIG,
            spikes / bin for Poisson and calcium, mean for Gaussian), ``factors`` (trials, T, F)
            and, with a controller, ``inputs`` (trials, T, co_dim).
        """
        was_training = self.training
        self.eval()
        x = torch.as_tensor(np.asarray(data, dtype=np.float32), device=self.device)
        self._check_inputs(x)
        rates, factors, inputs = [], [], []
        for start in range(0, x.shape[0], batch_size):
            chunk = x[start : start + batch_size]
            if self.hparams.sbtt:
                chunk = torch.nan_to_num(chunk, nan=0.0)
            elif torch.isnan(chunk).any():
                raise ValueError("inputs contain NaN but SBTT is off")
            out = self(chunk, sample=False)
            rates.append(self.observation.rate(out["params"]).cpu())
            factors.append(out["factors"].cpu())
            if self.use_controller:
                inputs.append(out["co_mean"].cpu())
        self.train(was_training)
        result = {
            "rates": torch.cat(rates).numpy(),
            "factors": torch.cat(factors).numpy(),
        }
        if inputs:
            result["inputs"] = torch.cat(inputs).numpy()
        return result
