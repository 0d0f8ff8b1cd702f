//! The MoE block end to end: its gradient (router included, through the chosen gates and the
//! auxiliary losses) against finite differences of the f64 reference block, on both
//! backends; and a small MoE GPT that trains with every expert in use.

use sigmix::Recorder;
use sigmix::kernels::moe::{AuxCoefs, moe_aux_losses};
use sigmix::models::{Ffn, GptConfig};
use sigmix::nn::{Moe, MoeConfig, ParamBuilder};
use sigmix::reference::moe::{LayerParams, aux_losses, layer_forward};
use sigmix::rng::Rng;
use sigmix::train::{RunConfig, train};
use sigmix::{DType, Tensor};
use sigmix_tests::devices;

#[test]
fn the_moe_block_gradient_matches_finite_differences() {
    let (t, c, h, e, k) = (6, 4, 8, 3, 2);
    let aux = AuxCoefs { balance: 0.1, z: 0.05 };
    for (sigmoid, renorm) in [(false, true), (true, false)] {
        let cfg = MoeConfig { experts: e, top_k: k, sigmoid_gates: sigmoid, renorm, aux, ..Default::default() };
        let mut rng = Rng::new(7);
        let mut draw = |n: usize, s: f64| -> Vec<f64> { (0..n).map(|_| s * rng.normal()).collect() };
        let (x, dy) = (draw(t * c, 1.0), draw(t * c, 1.0));
        let (router, w1, b1, w2, b2) =
            (draw(e * c, 0.8), draw(e * c * h, 0.5), draw(e * h, 0.1), draw(e * h * c, 0.5), draw(e * c, 0.1));
        let params = [router.clone(), w1.clone(), b1.clone(), w2.clone(), b2.clone()];
        // The objective: Σ y·dy plus the auxiliary losses (f_e held at the base routing: a count).
        let objective = |x: &[f64], p: &[Vec<f64>; 5], counts: &[u32]| {
            let lp = LayerParams { router: &p[0], w1: &p[1], b1: &p[2], w2: &p[3], b2: &p[4] };
            let (y, r, logits) = layer_forward(x, &lp, t, c, h, e, k, sigmoid, renorm);
            let r = sigmix::reference::moe::Routing { counts: counts.to_vec(), ..r };
            let (b, z) = aux_losses(&logits, &r, e, k, aux.balance as f64, aux.z as f64);
            y.iter().zip(&dy).map(|(a, b)| a * b).sum::<f64>() + b + z
        };
        let lp = LayerParams { router: &router, w1: &w1, b1: &b1, w2: &w2, b2: &b2 };
        let counts = layer_forward(&x, &lp, t, c, h, e, k, sigmoid, renorm).1.counts;
        let fd = |which: Option<usize>, i: usize| {
            let step = 1e-5;
            let (mut up_p, mut dn_p, mut up_x, mut dn_x) = (params.clone(), params.clone(), x.clone(), x.clone());
            match which {
                Some(w) => {
                    up_p[w][i] += step;
                    dn_p[w][i] -= step;
                }
                None => {
                    up_x[i] += step;
                    dn_x[i] -= step;
                }
            }
            (objective(&up_x, &up_p, &counts) - objective(&dn_x, &dn_p, &counts)) / (2.0 * step)
        };
        for dev in devices() {
            let mut pb = ParamBuilder::default();
            let layer = Moe::new(&dev, &mut pb, "moe", t, c, h, &cfg, 0.02, 0.02).expect("builds");
            let w = pb.build(&dev, 1).expect("weights");
            for (id, v) in layer.param_ids().iter().zip(&params) {
                w.value(*id).write_f32(&v.iter().map(|v| *v as f32).collect::<Vec<_>>()).expect("upload");
            }
            let f32s = |v: &[f64]| v.iter().map(|v| *v as f32).collect::<Vec<_>>();
            let xt = Tensor::from_f32(&dev, "x", &[t, c], &f32s(&x)).expect("x");
            let dyt = Tensor::from_f32(&dev, "dy", &[t, c], &f32s(&dy)).expect("dy");
            let (y, dx) = (
                Tensor::empty(&dev, "y", &[t, c], DType::F32).expect("y"),
                Tensor::empty(&dev, "dx", &[t, c], DType::F32).expect("dx"),
            );
            let mut rec = Recorder::new(&dev);
            rec.clear(w.grads()).expect("clear");
            layer.forward(&mut rec, &w, &xt, &y).expect("forward");
            layer.backward(&mut rec, &w, &xt, &dyt, &dx, false).expect("backward");
            rec.submit().expect("runs");
            let (b, z) = moe_aux_losses(layer.logits(), &layer.routing, aux).expect("aux");
            assert!(b > 0.0 && z > 0.0, "auxiliary losses are reported");
            let mut checked = 0;
            let mut compare = |name: &str, got: Vec<f32>, which: Option<usize>| {
                let want: Vec<f64> = (0..got.len()).map(|i| fd(which, i)).collect();
                let num: f64 = got.iter().zip(&want).map(|(g, w)| (*g as f64 - w).powi(2)).sum::<f64>().sqrt();
                let den: f64 = want.iter().map(|w| w * w).sum::<f64>().sqrt();
                assert!(
                    num <= 2e-3 * den.max(1e-6),
                    "{} {name} (sigmoid {sigmoid}): rel. error {}",
                    dev.label(),
                    num / den
                );
                checked += got.len();
            };
            for (i, (id, name)) in layer.param_ids().iter().zip(["router", "w1", "b1", "w2", "b2"]).enumerate() {
                compare(name, w.grad(*id).to_f32().expect("grad"), Some(i));
            }
            compare("x", dx.to_f32().expect("dx"), None);
            assert_eq!(checked, router.len() + w1.len() + b1.len() + w2.len() + b2.len() + x.len());
        }
    }
}

#[test]
fn a_small_moe_gpt_trains_on_both_backends_with_every_expert_in_use() {
    let mut cfg = RunConfig::preset("smoke").expect("preset");
    cfg.model = GptConfig { ffn: Ffn::Moe(MoeConfig { experts: 4, top_k: 2, ..Default::default() }), ..cfg.model };
    cfg.steps = 80;
    let mut finals = Vec::new();
    for dev in devices() {
        let r = train(&dev, &cfg, &[], &mut |_| {}).expect("trains");
        let (first, last) = (r.curve[0].loss, r.curve.last().expect("curve").loss);
        assert!(last < first - 1.0, "{}: loss {first} → {last}", dev.label());
        assert!(r.active_params < r.params, "active {} of {}", r.active_params, r.params);
        assert_eq!(r.expert_load.len(), 1);
        for load in &r.expert_load {
            assert!((load.iter().sum::<f64>() - 1.0).abs() < 1e-9);
            assert!(load.iter().all(|f| *f > 0.02), "an expert starved: {load:?}");
        }
        finals.push(last);
    }
    assert!((finals[0] - finals[1]).abs() < 2e-2 * finals[0], "CPU and GPU agree: {finals:?}");
}
