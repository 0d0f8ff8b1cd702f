//! Corruptions of the shape images at five severities, in the manner of CIFAR-10-C: what a
//! test-time adaptation stream feeds a model trained on clean images. Host code (a test
//! stream is made once, then uploaded), deterministic from a seed.

use crate::error::{Error, Result};
use crate::rng::Rng;

/// Strongest severity.
pub const MAX_SEVERITY: usize = 5;

/// One kind of corruption.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Corruption {
    /// Additive Gaussian pixel noise, clipped to [0, 1].
    Noise,
    /// Gaussian blur.
    Blur,
    /// Contrast pulled towards each image's mean colour.
    Contrast,
    /// A square of random flat colour over part of the image.
    Occlusion,
    /// Each image one of the four, drawn at random (a mixed shift).
    Mixed,
}

impl Corruption {
    /// The four single corruptions, then the mixed stream.
    pub const ALL: [Corruption; 5] =
        [Corruption::Noise, Corruption::Blur, Corruption::Contrast, Corruption::Occlusion, Corruption::Mixed];

    /// Name for tables, files and the command line.
    pub fn name(self) -> &'static str {
        match self {
            Corruption::Noise => "noise",
            Corruption::Blur => "blur",
            Corruption::Contrast => "contrast",
            Corruption::Occlusion => "occlusion",
            Corruption::Mixed => "mixed",
        }
    }

    /// Parses a name, listing the choices when it is none of them.
    pub fn parse(name: &str) -> Result<Corruption> {
        Corruption::ALL.into_iter().find(|c| c.name() == name).ok_or_else(|| {
            let names: Vec<&str> = Corruption::ALL.iter().map(|c| c.name()).collect();
            Error::Config(format!("unknown corruption {name:?}; choose one of {}", names.join(", ")))
        })
    }

    /// The strength at `severity` (1..=5): noise std, blur σ in pixels, contrast factor kept,
    /// occluded fraction of the area (a square of side √fraction·size, rounded); for the mixed
    /// stream the severity itself (each image takes its own corruption's strength).
    pub fn strength(self, severity: usize) -> f32 {
        let s = severity.clamp(1, MAX_SEVERITY) - 1;
        match self {
            Corruption::Noise => [0.04, 0.08, 0.12, 0.17, 0.22][s],
            Corruption::Blur => [0.5, 0.7, 0.9, 1.1, 1.35][s],
            Corruption::Contrast => [0.7, 0.55, 0.42, 0.32, 0.24][s],
            Corruption::Occlusion => [0.04, 0.07, 0.1, 0.14, 0.18][s],
            Corruption::Mixed => s as f32 + 1.0,
        }
    }
}

/// Checks a severity is 0 (clean) to 5, naming it otherwise.
pub fn check_severity(severity: usize) -> Result<()> {
    if severity > MAX_SEVERITY {
        return Err(Error::Config(format!("corruption severity {severity} is out of range: use 0 (clean) to 5")));
    }
    Ok(())
}

/// Corrupts every image of `pixels` (images of `size`² RGB pixels, row-major) in place at
/// `severity` (0 leaves them clean), each image drawing its randomness from `seed` and its index.
pub fn corrupt(pixels: &mut [f32], size: usize, kind: Corruption, severity: usize, seed: u64) -> Result<()> {
    check_severity(severity)?;
    let len = size * size * 3;
    if size == 0 || !pixels.len().is_multiple_of(len) {
        return Err(Error::Config(format!("{} floats are not whole {size}×{size} RGB images", pixels.len())));
    }
    if severity == 0 {
        return Ok(());
    }
    let root = Rng::new(seed);
    for (i, img) in pixels.chunks_mut(len).enumerate() {
        let mut rng = root.fork(i as u64 + 1);
        let kind = match kind {
            Corruption::Mixed => Corruption::ALL[rng.below(4)],
            k => k,
        };
        let s = kind.strength(severity);
        match kind {
            Corruption::Noise => noise(img, s, &mut rng),
            Corruption::Blur => blur(img, size, s),
            Corruption::Contrast => contrast(img, s),
            Corruption::Occlusion | Corruption::Mixed => occlude(img, size, s, &mut rng),
        }
    }
    Ok(())
}

fn noise(img: &mut [f32], std: f32, rng: &mut Rng) {
    for v in img {
        *v = (*v + std * rng.normal() as f32).clamp(0.0, 1.0);
    }
}

/// Separable Gaussian blur of standard deviation `sigma`, edges clamped.
fn blur(img: &mut [f32], size: usize, sigma: f32) {
    let radius = (2.5 * sigma).ceil() as isize;
    let weights: Vec<f32> = (-radius..=radius).map(|d| (-0.5 * (d as f32 / sigma).powi(2)).exp()).collect();
    let total: f32 = weights.iter().sum();
    let at = |i: isize| i.clamp(0, size as isize - 1) as usize;
    for axis in 0..2 {
        let src = img.to_vec();
        for y in 0..size {
            for x in 0..size {
                for c in 0..3 {
                    let mut acc = 0.0;
                    for (k, w) in weights.iter().enumerate() {
                        let d = k as isize - radius;
                        let (sx, sy) = if axis == 0 { (at(x as isize + d), y) } else { (x, at(y as isize + d)) };
                        acc += w * src[(sy * size + sx) * 3 + c];
                    }
                    img[(y * size + x) * 3 + c] = acc / total;
                }
            }
        }
    }
}

fn contrast(img: &mut [f32], keep: f32) {
    let pixels = (img.len() / 3) as f32;
    let mean: [f32; 3] = std::array::from_fn(|c| img.iter().skip(c).step_by(3).sum::<f32>() / pixels);
    for (i, v) in img.iter_mut().enumerate() {
        *v = mean[i % 3] + keep * (*v - mean[i % 3]);
    }
}

fn occlude(img: &mut [f32], size: usize, fraction: f32, rng: &mut Rng) {
    let side = ((fraction * (size * size) as f32).sqrt().round() as usize).clamp(1, size);
    let (x0, y0) = (rng.below(size - side + 1), rng.below(size - side + 1));
    let colour: [f32; 3] = std::array::from_fn(|_| rng.uniform() as f32);
    for y in y0..y0 + side {
        for x in x0..x0 + side {
            img[(y * size + x) * 3..(y * size + x) * 3 + 3].copy_from_slice(&colour);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::ShapeImages;

    fn images() -> ShapeImages {
        // The preset's size: at much smaller sides neighbouring occlusion severities round to
        // the same square.
        ShapeImages::generate(40, 16, 9)
    }

    fn spread(img: &[f32]) -> f32 {
        let m = img.iter().sum::<f32>() / img.len() as f32;
        (img.iter().map(|v| (v - m).powi(2)).sum::<f32>() / img.len() as f32).sqrt()
    }

    #[test]
    fn each_corruption_does_what_it_says_and_grows_with_severity() {
        let clean = images();
        let n = clean.image_len();
        let run = |kind, severity| {
            let mut px = clean.pixels.clone();
            corrupt(&mut px, clean.size, kind, severity, 4).expect("corrupts");
            px
        };
        assert_eq!(run(Corruption::Noise, 0), clean.pixels, "severity 0 is clean");
        let distance = |px: &[f32]| px.iter().zip(&clean.pixels).map(|(a, b)| (a - b).abs()).sum::<f32>();
        for kind in Corruption::ALL {
            let d: Vec<f32> = (1..=MAX_SEVERITY).map(|s| distance(&run(kind, s))).collect();
            assert!(d.windows(2).all(|w| w[1] > w[0]), "{}: distance from clean {d:?} must grow", kind.name());
            assert!(run(kind, 3).iter().all(|v| (0.0..=1.0).contains(v)), "{} stays in [0, 1]", kind.name());
            assert_eq!(run(kind, 4), run(kind, 4), "{} is deterministic", kind.name());
        }
        // Contrast keeps each image's mean colour and scales every deviation from it by the factor.
        let (low, keep) = (run(Corruption::Contrast, 5), Corruption::Contrast.strength(5));
        for (a, b) in low.chunks(n).zip(clean.pixels.chunks(n)) {
            let mean: Vec<f32> = (0..3).map(|c| b.iter().skip(c).step_by(3).sum::<f32>() / (n / 3) as f32).collect();
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                let m = mean[i % 3];
                assert!((x - m - keep * (y - m)).abs() < 1e-5, "pixel {i}: {x} from {y}");
            }
        }
        // Blur keeps a flat image flat and lowers the spread of a sharp one.
        let mut flat = vec![0.3f32; n];
        blur(&mut flat, 16, 1.5);
        assert!(flat.iter().all(|v| (v - 0.3).abs() < 1e-6));
        let blurred = run(Corruption::Blur, 5);
        assert!(spread(&blurred[..n]) < spread(&clean.pixels[..n]));
        // Occlusion paints one flat square covering about the fraction asked for.
        let occ = run(Corruption::Occlusion, 5);
        let changed = occ[..n].chunks(3).zip(clean.pixels[..n].chunks(3)).filter(|(a, b)| a != b).count();
        let side = (Corruption::Occlusion.strength(5) * 256.0).sqrt().round() as usize;
        assert!(changed <= side * side && changed * 2 >= side * side, "{changed} of {} pixels", side * side);
    }

    #[test]
    fn bad_arguments_are_named() {
        let mut px = vec![0.5; 12 * 12 * 3];
        let err = corrupt(&mut px, 12, Corruption::Blur, 6, 0).unwrap_err().to_string();
        assert!(err.contains("severity 6"), "{err}");
        let err = corrupt(&mut px[..100], 12, Corruption::Blur, 1, 0).unwrap_err().to_string();
        assert!(err.contains("100 floats"), "{err}");
        assert!(Corruption::parse("fog").unwrap_err().to_string().contains("noise, blur"));
        assert_eq!(Corruption::parse("mixed").ok(), Some(Corruption::Mixed));
    }
}
