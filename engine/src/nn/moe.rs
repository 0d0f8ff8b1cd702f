//! The mixture-of-experts feed-forward block: a router picks K of E expert MLPs per token,
//! tokens are grouped by expert without padding (dropless by default), each expert runs its
//! GELU MLP as a grouped matmul, and the outputs are combined back weighted by the gates.
//! The backward reaches the router through the chosen gates, plus the load-balancing and
//! z-loss gradients.

use crate::error::Result;
use crate::kernels::moe::{
    AuxCoefs, GroupedOpts, MoeRouting, RouteOpts, moe_combine, moe_combine_backward, moe_gather, moe_matmul,
    moe_matmul_wgrad, moe_route, moe_route_backward, moe_scatter_back,
};
use crate::kernels::{elementwise, matmul};
use crate::nn::params::{Init, ParamBuilder, ParamId, Weights};
use crate::recorder::Recorder;
use crate::tensor::{DType, Device, Tensor};

/// What an MoE block is.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MoeConfig {
    /// Experts E (≤ 64).
    pub experts: usize,
    /// Experts per token K (≤ 4).
    pub top_k: usize,
    /// Sigmoid gates instead of a softmax over experts.
    pub sigmoid_gates: bool,
    /// Renormalise the K chosen gates to sum to 1.
    pub renorm: bool,
    /// Capacity factor: each expert keeps at most ⌈factor·T·K/E⌉ slots; 0 = dropless.
    pub capacity_factor: f32,
    /// Auxiliary loss coefficients.
    pub aux: AuxCoefs,
}

impl Default for MoeConfig {
    fn default() -> Self {
        MoeConfig {
            experts: 8,
            top_k: 2,
            sigmoid_gates: false,
            renorm: true,
            capacity_factor: 0.0,
            aux: AuxCoefs::default(),
        }
    }
}

impl MoeConfig {
    /// The routing options for `tokens` tokens.
    pub fn route_opts(&self, tokens: usize) -> RouteOpts {
        let capacity = if self.capacity_factor > 0.0 {
            ((self.capacity_factor as f64 * (tokens * self.top_k) as f64 / self.experts as f64).ceil() as usize).max(1)
        } else {
            0
        };
        RouteOpts { sigmoid: self.sigmoid_gates, renorm: self.renorm, capacity }
    }

    /// Parameters of one block of width `dim` and expert hidden width `hidden`: (total, active
    /// per token).
    pub fn param_counts(&self, dim: usize, hidden: usize) -> (usize, usize) {
        let expert = dim * hidden + hidden + hidden * dim + dim;
        let router = self.experts * dim;
        (router + self.experts * expert, router + self.top_k * expert)
    }
}

/// An MoE block over `tokens` rows.
pub struct Moe {
    cfg: MoeConfig,
    opts: RouteOpts,
    router: ParamId,
    w1: ParamId,
    b1: ParamId,
    w2: ParamId,
    b2: ParamId,
    /// The last routing (expert choices, gates, per-expert counts).
    pub routing: MoeRouting,
    logits: Tensor,
    xs: Tensor,
    h: Tensor,
    pre: Tensor,
    act: Tensor,
    ys: Tensor,
    zero_bias: Tensor,
    dys: Tensor,
    dgates: Tensor,
    dlogits: Tensor,
    dxs: Tensor,
}

impl Moe {
    /// Declares the router (E, C), per-expert W1 (E, C, H), b1 (E, H), W2 (E, H, C), b2 (E, C).
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        device: &Device,
        pb: &mut ParamBuilder,
        name: &str,
        tokens: usize,
        dim: usize,
        hidden: usize,
        cfg: &MoeConfig,
        std: f32,
        proj_std: f32,
    ) -> Result<Moe> {
        let e = cfg.experts;
        let routing = MoeRouting::new(device, tokens, e, cfg.top_k)?;
        let slots = tokens * cfg.top_k;
        let t = |what: &str, shape: &[usize]| Tensor::empty(device, &format!("{name}.{what}"), shape, DType::F32);
        Ok(Moe {
            opts: cfg.route_opts(tokens),
            router: pb.declare(&format!("{name}.router"), &[e, dim], Init::Normal(std), true),
            w1: pb.declare(&format!("{name}.w1"), &[e, dim, hidden], Init::Normal(std), true),
            b1: pb.declare(&format!("{name}.b1"), &[e, hidden], Init::Const(0.0), false),
            w2: pb.declare(&format!("{name}.w2"), &[e, hidden, dim], Init::Normal(proj_std), true),
            b2: pb.declare(&format!("{name}.b2"), &[e, dim], Init::Const(0.0), false),
            routing,
            logits: t("logits", &[tokens, e])?,
            xs: t("xs", &[slots, dim])?,
            h: t("h", &[slots, hidden])?,
            pre: t("pre", &[slots, hidden])?,
            act: t("act", &[slots, hidden])?,
            ys: t("ys", &[slots, dim])?,
            zero_bias: Tensor::from_f32(device, &format!("{name}.zero"), &[hidden], &vec![0.0; hidden])?,
            dys: t("dys", &[slots, dim])?,
            dgates: t("dgates", &[tokens, cfg.top_k])?,
            dlogits: t("dlogits", &[tokens, e])?,
            dxs: t("dxs", &[slots, dim])?,
            cfg: cfg.clone(),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &MoeConfig {
        &self.cfg
    }

    /// The parameters: router (E, C), W1 (E, C, H), b1 (E, H), W2 (E, H, C), b2 (E, C).
    pub fn param_ids(&self) -> [ParamId; 5] {
        [self.router, self.w1, self.b1, self.w2, self.b2]
    }

    /// The router logits of the last forward (T, E).
    pub fn logits(&self) -> &Tensor {
        &self.logits
    }

    /// y = Σ_k gate_k · expert_k(x) per token.
    pub fn forward(&self, rec: &mut Recorder, w: &Weights, x: &Tensor, y: &Tensor) -> Result<()> {
        let r = &self.routing;
        let trans_b = matmul::MatmulOpts { trans_b: true, ..Default::default() };
        matmul::matmul(rec, x, &w.value(self.router), &self.logits, trans_b)?;
        moe_route(rec, &self.logits, r, &self.opts)?;
        moe_gather(rec, x, r, &self.xs)?;
        moe_matmul(rec, &self.xs, &w.value(self.w1), Some(&w.value(self.b1)), &self.h, r, GroupedOpts::default())?;
        elementwise::bias_gelu(rec, &self.h, &self.zero_bias, &self.act, &self.pre)?;
        moe_matmul(rec, &self.act, &w.value(self.w2), Some(&w.value(self.b2)), &self.ys, r, GroupedOpts::default())?;
        moe_combine(rec, &self.ys, r, y)
    }

    /// Parameter gradients (accumulated) and dx (+)= ∂L/∂x, the auxiliary losses included.
    pub fn backward(
        &self,
        rec: &mut Recorder,
        w: &Weights,
        x: &Tensor,
        dy: &Tensor,
        dx: &Tensor,
        accumulate: bool,
    ) -> Result<()> {
        let r = &self.routing;
        moe_combine_backward(rec, dy, &self.ys, r, &self.dys, &self.dgates)?;
        moe_matmul_wgrad(rec, &self.act, &self.dys, &w.grad(self.w2), Some(&w.grad(self.b2)), r, true)?;
        // d(act) goes into `act`'s own buffer once W2's gradient has read it, then d(pre) into `h`.
        moe_matmul(
            rec,
            &self.dys,
            &w.value(self.w2),
            None,
            &self.act,
            r,
            GroupedOpts { trans_w: true, accumulate: false },
        )?;
        elementwise::gelu_backward(rec, &self.pre, &self.act, &self.h)?;
        moe_matmul_wgrad(rec, &self.xs, &self.h, &w.grad(self.w1), Some(&w.grad(self.b1)), r, true)?;
        moe_matmul(
            rec,
            &self.h,
            &w.value(self.w1),
            None,
            &self.dxs,
            r,
            GroupedOpts { trans_w: true, accumulate: false },
        )?;
        moe_scatter_back(rec, &self.dxs, r, dx, accumulate)?;
        moe_route_backward(rec, &self.logits, r, &self.dgates, &self.dlogits, &self.opts, self.cfg.aux)?;
        let acc = |ta| matmul::MatmulOpts { trans_a: ta, accumulate: true, ..Default::default() };
        matmul::matmul(rec, &self.dlogits, x, &w.grad(self.router), acc(true))?;
        matmul::matmul(rec, &self.dlogits, &w.value(self.router), dx, acc(false))
    }
}
