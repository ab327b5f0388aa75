//! Memory formats: contiguous and channels-last strides, and the contiguity tests of `TensorImpl`.

use crate::error::{ensure, Error, Result};
use crate::rules::shape::{fmt_shape, mul};

/// `c10::MemoryFormat`, as the client numbers it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemoryFormat {
    Contiguous,
    Preserve,
    ChannelsLast,
    ChannelsLast3d,
}

impl MemoryFormat {
    pub fn from_code(code: i64) -> Result<Self> {
        match code {
            0 => Ok(MemoryFormat::Contiguous),
            1 => Ok(MemoryFormat::Preserve),
            2 => Ok(MemoryFormat::ChannelsLast),
            3 => Ok(MemoryFormat::ChannelsLast3d),
            _ => Err(Error::invalid(format!("unknown memory format {code}"))),
        }
    }
}

/// Strides of a fresh tensor in `format` (`empty_tensor_restride`); `Preserve` is an error.
pub fn strides_for(sizes: &[i64], format: MemoryFormat) -> Result<Vec<i64>> {
    match format {
        MemoryFormat::Contiguous => contiguous_strides(sizes),
        MemoryFormat::Preserve => Err(Error::invalid("unsupported memory format Preserve")),
        MemoryFormat::ChannelsLast => {
            ensure!(
                sizes.len() == 4,
                "required rank 4 tensor to use channels_last format, got sizes {}",
                fmt_shape(sizes)
            );
            channels_last_strides(sizes, &[1, 3, 2, 0])
        }
        MemoryFormat::ChannelsLast3d => {
            ensure!(
                sizes.len() == 5,
                "required rank 5 tensor to use channels_last_3d format, got sizes {}",
                fmt_shape(sizes)
            );
            channels_last_strides(sizes, &[1, 4, 3, 2, 0])
        }
    }
}

fn overflow(sizes: &[i64]) -> Error {
    Error::invalid(format!(
        "strides of sizes {} overflow int64",
        fmt_shape(sizes)
    ))
}

/// Row-major strides; a size-0 dim counts as 1 so that strides stay distinct, like `empty`.
pub fn contiguous_strides(sizes: &[i64]) -> Result<Vec<i64>> {
    let mut strides = vec![1i64; sizes.len()];
    let mut next = 1i64;
    for i in (0..sizes.len()).rev() {
        strides[i] = next;
        next = mul(next, sizes[i].max(1)).ok_or_else(|| overflow(sizes))?;
    }
    Ok(strides)
}

/// Channels-last strides, innermost dim first in `order`. Unlike contiguous strides these
/// multiply by raw sizes (c10's `get_channels_last_strides_2d`).
fn channels_last_strides(sizes: &[i64], order: &[usize]) -> Result<Vec<i64>> {
    let mut strides = vec![0i64; sizes.len()];
    let mut next = 1i64;
    for &d in order {
        strides[d] = next;
        next = next.checked_mul(sizes[d]).ok_or_else(|| overflow(sizes))?;
    }
    Ok(strides)
}

/// `is_contiguous()`: size-1 dims and empty tensors never break contiguity.
pub fn is_contiguous(sizes: &[i64], strides: &[i64]) -> bool {
    if sizes.contains(&0) {
        return true;
    }
    dense_in_order(sizes, strides, (0..sizes.len()).rev())
}

/// `is_contiguous(format)`: channels-last is defined for 4-d tensors only, channels-last-3d
/// for 5-d ones.
pub fn is_contiguous_in(sizes: &[i64], strides: &[i64], format: MemoryFormat) -> bool {
    match (format, sizes.len()) {
        (MemoryFormat::ChannelsLast, 4) => dense_in_order(sizes, strides, [1, 3, 2, 0]),
        (MemoryFormat::ChannelsLast3d, 5) => dense_in_order(sizes, strides, [1, 4, 3, 2, 0]),
        (MemoryFormat::Contiguous, _) => is_contiguous(sizes, strides),
        _ => false,
    }
}

/// `suggest_memory_format`: channels-last (3d) for a 4-d (5-d) tensor whose strides are
/// like channels-last's, else contiguous.
pub fn suggest_memory_format(sizes: &[i64], strides: &[i64]) -> MemoryFormat {
    match sizes.len() {
        4 if strides_like(sizes, strides, &[1, 3, 2, 0]) => MemoryFormat::ChannelsLast,
        5 if strides_like(sizes, strides, &[1, 4, 3, 2, 0]) => MemoryFormat::ChannelsLast3d,
        _ => MemoryFormat::Contiguous,
    }
}

/// c10's `is_channels_last_strides_2d_s4`/`_3d_s5`: strides that grow along `order`
/// (channels first, batch last), not necessarily dense. Ambiguous cases (a size-1 channel
/// dim, batch and channel strides alike) read as contiguous, as PyTorch reads them.
fn strides_like(sizes: &[i64], strides: &[i64], order: &[usize]) -> bool {
    if strides[1] == 0 {
        return false;
    }
    let mut min = 0i64;
    for &d in order {
        if sizes[d] == 0 || strides[d] < min || (d == 0 && min == strides[1]) {
            return false;
        }
        min = strides[d];
        if sizes[d] > 1 {
            min = min.saturating_mul(sizes[d]);
        }
    }
    true
}

fn dense_in_order(sizes: &[i64], strides: &[i64], order: impl IntoIterator<Item = usize>) -> bool {
    let mut expected = 1i64;
    for d in order {
        if sizes[d] == 1 {
            continue;
        }
        if strides[d] != expected {
            return false;
        }
        expected = expected.saturating_mul(sizes[d]);
    }
    true
}

/// `is_non_overlapping_and_dense()`: some permutation of the dims is contiguous.
pub fn is_non_overlapping_and_dense(sizes: &[i64], strides: &[i64]) -> bool {
    if is_contiguous(sizes, strides) {
        return true;
    }
    if sizes.len() == 1 {
        return sizes[0] < 2 || strides[0] == 1;
    }
    let mut perm: Vec<usize> = (0..sizes.len()).collect();
    // Dims of size 0 or 1 go last; they never break density.
    perm.sort_by_key(|&d| (sizes[d] < 2, strides[d]));
    let mut required = 1i64;
    for d in perm {
        if sizes[d] < 2 {
            return true;
        }
        if strides[d] != required {
            return false;
        }
        required = required.saturating_mul(sizes[d]);
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `x.suggest_memory_format()` as torch 2.13 gives it for each layout.
    #[test]
    fn suggested_formats() {
        let (cl, cl3d, c) = (
            MemoryFormat::ChannelsLast,
            MemoryFormat::ChannelsLast3d,
            MemoryFormat::Contiguous,
        );
        let cases: [(&[i64], &[i64], MemoryFormat); 8] = [
            (&[2, 3, 4, 5], &[60, 1, 15, 3], cl),
            (&[2, 3, 4, 5], &[60, 20, 5, 1], c),
            // An HWC image permuted and unsqueezed: batch stride 3, not channels-last.
            (&[1, 3, 8, 8], &[3, 1, 24, 3], c),
            (&[1, 3, 8, 8], &[192, 1, 24, 3], cl),
            // Ambiguous: one channel, or batch and channel strides alike.
            (&[2, 1, 4, 4], &[16, 16, 4, 1], c),
            (&[2, 1, 1, 1], &[1, 1, 1, 1], c),
            (&[2, 3, 2, 2, 2], &[24, 1, 12, 6, 3], cl3d),
            (&[3, 4], &[1, 3], c),
        ];
        for (sizes, strides, format) in cases {
            assert_eq!(
                suggest_memory_format(sizes, strides),
                format,
                "{sizes:?} {strides:?}"
            );
        }
    }

    /// Strides printed by torch 2.13 for `torch.empty(..., device="meta")`.
    #[test]
    fn fresh_strides() {
        assert_eq!(contiguous_strides(&[2, 3, 4]).unwrap(), vec![12, 4, 1]);
        assert_eq!(contiguous_strides(&[2, 0, 3]).unwrap(), vec![3, 3, 1]);
        assert_eq!(contiguous_strides(&[3, 0]).unwrap(), vec![1, 1]);
        assert_eq!(contiguous_strides(&[]).unwrap(), Vec::<i64>::new());
        let cl = MemoryFormat::ChannelsLast;
        assert_eq!(strides_for(&[2, 3, 1, 4], cl).unwrap(), vec![12, 1, 12, 3]);
        assert_eq!(strides_for(&[2, 0, 3, 4], cl).unwrap(), vec![0, 1, 0, 0]);
        assert_eq!(strides_for(&[2, 3, 4, 5], cl).unwrap(), vec![60, 1, 15, 3]);
        assert_eq!(
            strides_for(&[2, 3, 4], cl).unwrap_err().message,
            "required rank 4 tensor to use channels_last format, got sizes [2, 3, 4]"
        );
        assert!(contiguous_strides(&[i64::MAX, 0, 4, 4]).is_err());
    }

    #[test]
    fn contiguity() {
        assert!(is_contiguous(&[2, 3], &[3, 1]));
        assert!(!is_contiguous(&[2, 3], &[1, 2]));
        assert!(is_contiguous(&[2, 1, 3], &[3, 99, 1]));
        assert!(is_contiguous(&[2, 0], &[7, 7]));
        let cl = MemoryFormat::ChannelsLast;
        assert!(is_contiguous_in(&[2, 3, 4, 5], &[60, 1, 15, 3], cl));
        assert!(!is_contiguous_in(&[2, 3, 4, 5], &[60, 20, 5, 1], cl));
        assert!(is_contiguous_in(
            &[2, 3, 1, 4, 5],
            &[60, 1, 60, 15, 3],
            MemoryFormat::ChannelsLast3d
        ));
        assert!(!is_contiguous_in(&[2, 3, 4], &[12, 1, 3], cl));
        assert!(is_non_overlapping_and_dense(&[3, 4], &[1, 3]));
        assert!(!is_non_overlapping_and_dense(&[4, 3], &[6, 2]));
        assert!(!is_non_overlapping_and_dense(&[2, 3], &[0, 1]));
        assert!(is_non_overlapping_and_dense(&[4, 2, 3], &[1, 12, 4]));
    }
}
