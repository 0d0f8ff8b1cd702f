//! Procedural images for the self-supervised demo: one coloured shape on a coloured
//! background per image, drawn from a seed. The label (which shape) is what a linear probe
//! must recover; colour, position, size and rotation are nuisances the augmentations vary.

use crate::rng::Rng;

/// The shape classes, in label order.
pub const SHAPE_CLASSES: [&str; 5] = ["disk", "square", "triangle", "ring", "cross"];

/// Images (count × size × size × 3, RGB in [0, 1], row-major) and their labels.
#[derive(Clone, Debug)]
pub struct ShapeImages {
    /// Side of each square image, pixels.
    pub size: usize,
    /// Pixels, image after image, each `size × size × 3` (height, width, channel).
    pub pixels: Vec<f32>,
    /// Shape class of each image (index into `SHAPE_CLASSES`).
    pub labels: Vec<u32>,
}

impl ShapeImages {
    /// `count` images of `size`² pixels drawn from `seed`, classes in turn (balanced).
    pub fn generate(count: usize, size: usize, seed: u64) -> ShapeImages {
        let mut rng = Rng::new(seed);
        let mut pixels = Vec::with_capacity(count * size * size * 3);
        let mut labels = Vec::with_capacity(count);
        for i in 0..count {
            let class = i % SHAPE_CLASSES.len();
            labels.push(class as u32);
            draw(&mut rng, class, size, &mut pixels);
        }
        ShapeImages { size, pixels, labels }
    }

    /// Number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether there are no images.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Floats per image.
    pub fn image_len(&self) -> usize {
        self.size * self.size * 3
    }
}

/// Whether point (x, y), in units of the shape's radius around its centre and already
/// rotated into the shape's frame, is inside shape `class`.
fn inside(class: usize, x: f32, y: f32) -> bool {
    let r = (x * x + y * y).sqrt();
    match class {
        0 => r <= 1.0,
        1 => x.abs().max(y.abs()) <= 0.8,
        2 => (0..3).all(|k| {
            let a = std::f32::consts::FRAC_PI_2 + k as f32 * 2.0 * std::f32::consts::PI / 3.0;
            x * a.cos() + y * a.sin() <= 0.5
        }),
        3 => (0.55..=1.0).contains(&r),
        _ => (x.abs() <= 0.3 && y.abs() <= 1.0) || (y.abs() <= 0.3 && x.abs() <= 1.0),
    }
}

/// Appends one image: a random background, a shape of random colour, centre, radius and
/// angle, anti-aliased by 4×4 supersampling.
fn draw(rng: &mut Rng, class: usize, size: usize, out: &mut Vec<f32>) {
    let colour = |rng: &mut Rng, lo: f64, hi: f64| [0; 3].map(|_| (lo + (hi - lo) * rng.uniform()) as f32);
    // Foreground and background from different brightness bands, in random order, so the
    // shape is always visible but neither colour tells the class.
    let (mut fg, mut bg) = (colour(rng, 0.55, 1.0), colour(rng, 0.0, 0.4));
    if rng.uniform() < 0.5 {
        std::mem::swap(&mut fg, &mut bg);
    }
    let s = size as f32;
    let radius = s * (0.2 + 0.12 * rng.uniform() as f32);
    let cx = s * (0.3 + 0.4 * rng.uniform() as f32);
    let cy = s * (0.3 + 0.4 * rng.uniform() as f32);
    let angle = (rng.uniform() * std::f64::consts::TAU) as f32;
    let (sin, cos) = angle.sin_cos();
    const SUB: usize = 4;
    for py in 0..size {
        for px in 0..size {
            let mut cover = 0.0;
            for sy in 0..SUB {
                for sx in 0..SUB {
                    let x = (px as f32 + (sx as f32 + 0.5) / SUB as f32 - cx) / radius;
                    let y = (py as f32 + (sy as f32 + 0.5) / SUB as f32 - cy) / radius;
                    let (u, v) = (cos * x + sin * y, -sin * x + cos * y);
                    if inside(class, u, v) {
                        cover += 1.0;
                    }
                }
            }
            let a = cover / (SUB * SUB) as f32;
            out.extend((0..3).map(|c| a * fg[c] + (1.0 - a) * bg[c]));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_are_balanced_deterministic_and_show_their_shape() {
        let a = ShapeImages::generate(20, 16, 3);
        let b = ShapeImages::generate(20, 16, 3);
        assert_eq!(a.pixels, b.pixels);
        assert_eq!(a.len(), 20);
        assert_eq!(a.pixels.len(), 20 * a.image_len());
        for c in 0..SHAPE_CLASSES.len() as u32 {
            assert_eq!(a.labels.iter().filter(|l| **l == c).count(), 4);
        }
        assert!(a.pixels.iter().all(|p| (0.0..=1.0).contains(p)));
        // Every image has two clearly different colours (the shape is visible).
        for img in a.pixels.chunks(a.image_len()) {
            let lum: Vec<f32> = img.chunks(3).map(|p| p.iter().sum::<f32>() / 3.0).collect();
            let (lo, hi) = lum.iter().fold((f32::MAX, f32::MIN), |(l, h), v| (l.min(*v), h.max(*v)));
            assert!(hi - lo > 0.05, "flat image: {lo}..{hi}");
        }
    }
}
