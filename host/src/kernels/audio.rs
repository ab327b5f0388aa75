//! torchaudio's `_lfilter_core_loop`: an IIR filter's recursion, sample by sample, in the order
//! of torchaudio's CPU kernel (each output sample is its input less the filter's previous
//! outputs weighted by the flipped coefficients, subtracted one by one).

use std::ops::{Mul, SubAssign};

use tch::{Kind, TchError, Tensor};

use super::elements::{tensor_of, values};

/// `_lfilter_core_loop(input_signal_windows, a_coeff_flipped, padded_output_waveform)`: the
/// padded output with every sample past its first `order - 1` filled in.
pub fn lfilter_core_loop(inputs: &[Tensor]) -> Result<Tensor, TchError> {
    let [x, a, out] = inputs else {
        return Err(TchError::Kind(
            "_lfilter_core_loop: windows, coefficients and output expected".into(),
        ));
    };
    match x.kind() {
        Kind::Double => recurse::<f64>(x, a, out),
        _ => recurse::<f32>(x, a, out),
    }
}

fn recurse<T>(x: &Tensor, a: &Tensor, out: &Tensor) -> Result<Tensor, TchError>
where
    T: tch::kind::Element + Copy + Default + SubAssign + Mul<Output = T>,
{
    let (samples, order) = (x.size()[2] as usize, a.size()[1] as usize);
    let (channels, padded) = (a.size()[0] as usize, samples + order - 1);
    let (x_values, coefficients) = (values::<T>(x)?, values::<T>(a)?);
    let mut y = values::<T>(out)?;
    for (row, (input, output)) in x_values
        .chunks(samples.max(1))
        .zip(y.chunks_mut(padded.max(1)))
        .enumerate()
    {
        let taps = &coefficients[(row % channels) * order..][..order];
        for (i, &sample) in input.iter().enumerate() {
            let mut a0 = sample;
            for (k, &tap) in taps.iter().enumerate() {
                a0 -= output[i + k] * tap;
            }
            output[i + order - 1] = a0;
        }
    }
    tensor_of(&y, &out.size(), out)
}
