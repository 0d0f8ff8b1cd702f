//! Text from a trained GPT: feed the last `context` bytes, read the next byte's logits, draw
//! from softmax(logits / temperature), repeat. Uses the model's training buffers (sequence 0
//! of its batch), so it needs no second copy of the weights.

use crate::data::{decode, encode};
use crate::error::{Error, Result};
use crate::models::Gpt;
use crate::recorder::Recorder;
use crate::rng::Rng;
use crate::tensor::Device;

/// Continues `prompt` by `len` bytes at `temperature` (0 = always the most likely byte);
/// each byte's logits are awaited, so in the browser the page keeps drawing meanwhile.
pub async fn sample(
    model: &Gpt,
    device: &Device,
    prompt: &str,
    len: usize,
    temperature: f32,
    seed: u64,
) -> Result<String> {
    if !(temperature.is_finite() && temperature >= 0.0) {
        return Err(Error::Config(format!("temperature must be ≥ 0, got {temperature}")));
    }
    let (t, vocab, batch) = (model.config().context, model.config().vocab, model.batch());
    let mut ids = encode(prompt);
    if ids.is_empty() {
        ids.push(u32::from(b'\n'));
    }
    let start = ids.len();
    let mut rng = Rng::new(seed);
    let mut tokens = vec![0u32; batch * t];
    let targets = vec![0u32; batch * t];
    for _ in 0..len {
        let window = &ids[ids.len().saturating_sub(t)..];
        tokens[..window.len()].copy_from_slice(window);
        tokens[window.len()..t].fill(0);
        model.set_batch(&tokens, &targets)?;
        let mut rec = Recorder::new(device);
        model.forward(&mut rec, false)?;
        rec.submit()?;
        let logits = model.logits().read_f32().await?;
        let row = &logits[(window.len() - 1) * vocab..window.len() * vocab];
        ids.push(draw(row, temperature, &mut rng) as u32);
    }
    Ok(decode(&ids[start..]))
}

/// An index drawn from softmax(row / temperature), or the argmax at temperature 0.
fn draw(row: &[f32], temperature: f32, rng: &mut Rng) -> usize {
    let best = row.iter().enumerate().fold(0, |b, (i, v)| if *v > row[b] { i } else { b });
    if temperature == 0.0 {
        return best;
    }
    let m = row[best];
    let w: Vec<f64> = row.iter().map(|v| (((v - m) / temperature) as f64).exp()).collect();
    rng.weighted(&w)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn greedy_takes_the_largest_and_temperature_spreads() {
        let mut rng = Rng::new(1);
        assert_eq!(draw(&[0.1, 3.0, -1.0], 0.0, &mut rng), 1);
        let hits = (0..2000).filter(|_| draw(&[0.0, 0.0], 1.0, &mut rng) == 0).count();
        assert!((800..1200).contains(&hits), "{hits}");
    }
}
