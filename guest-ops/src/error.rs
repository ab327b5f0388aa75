//! The guest's error type and its conversion into the WIT `op-error`.

use crate::types::{Arg, ErrorKind, OpError};

#[derive(Debug, Clone, PartialEq)]
pub struct Error {
    pub kind: ErrorKind,
    pub message: String,
}

pub type Result<T> = core::result::Result<T, Error>;

impl Error {
    pub fn invalid(message: impl Into<String>) -> Self {
        Error {
            kind: ErrorKind::InvalidArgument,
            message: message.into(),
        }
    }

    /// A dim or an index out of range: an `IndexError` in Python.
    pub fn index(message: impl Into<String>) -> Self {
        Error {
            kind: ErrorKind::IndexOutOfRange,
            message: message.into(),
        }
    }

    /// An argument value the op does not take: a `ValueError` in Python.
    pub fn value(message: impl Into<String>) -> Self {
        Error {
            kind: ErrorKind::InvalidValue,
            message: message.into(),
        }
    }

    /// A factorization that failed on the matrix's values: a `torch.linalg.LinAlgError`.
    pub fn linalg(message: impl Into<String>) -> Self {
        Error {
            kind: ErrorKind::LinalgFailed,
            message: message.into(),
        }
    }

    /// An argument of the wrong type: a `TypeError` in Python.
    pub fn wrong_type(message: impl Into<String>) -> Self {
        Error {
            kind: ErrorKind::WrongType,
            message: message.into(),
        }
    }

    pub fn unsupported(message: impl Into<String>) -> Self {
        Error {
            kind: ErrorKind::NotImplemented,
            message: message.into(),
        }
    }

    pub fn kernel(message: impl Into<String>) -> Self {
        Error {
            kind: ErrorKind::KernelFailed,
            message: message.into(),
        }
    }

    /// The WIT error for op `op`. The message starts with the op and ends with the tensor
    /// arguments, so that every error names the op, the shapes, the dtypes and the device.
    pub fn into_op_error(self, op: &str, args: &[Arg]) -> OpError {
        let tensors = describe_tensors(args);
        // `_linalg_check_errors` reads a factorization's infos, not the user's tensors; its
        // message names the function and the matrix that failed.
        let context = if op == "_linalg_check_errors" {
            String::new()
        } else if tensors.is_empty() {
            " (on device remote)".to_string()
        } else {
            format!(" (tensors {tensors} on device remote)")
        };
        let message = if names_its_op(op, &self.message) {
            format!("{}{context}", self.message)
        } else {
            format!("{op}: {}{context}", self.message)
        };
        OpError {
            kind: self.kind,
            op: op.to_string(),
            message,
        }
    }
}

/// Whether `message` starts by naming op `op` as PyTorch does (`cat(): ...`, `linalg.cross:
/// ...`, `linalg.inv: ...` from `_linalg_check_errors`, `kaiser_window expects ...`), so that
/// the op's aten name in front would say it twice.
fn names_its_op(op: &str, message: &str) -> bool {
    let base = op.split('.').next().unwrap_or(op);
    let public = base.trim_start_matches('_');
    let namespace = public.split('_').next().unwrap_or(public);
    // A name that is a plain word (`index`) may start a message without naming the op.
    let named = |name: &str| {
        message.strip_prefix(name).is_some_and(|rest| {
            rest.starts_with(':')
                || rest.starts_with("():")
                || (name.contains('_') && rest.starts_with(' '))
        })
    };
    let namespaced = matches!(namespace, "linalg" | "fft" | "special")
        && message
            .strip_prefix(namespace)
            .and_then(|rest| rest.strip_prefix('.'))
            .and_then(|rest| rest.split_once(':'))
            .is_some_and(|(name, _)| !name.contains(' '));
    named(base) || named(&public.replacen('_', ".", 1)) || namespaced
}

fn describe_tensors(args: &[Arg]) -> String {
    let mut parts = Vec::new();
    for arg in args {
        match arg {
            Arg::Tensor(t) | Arg::OptionalTensor(Some(t)) => parts.push(t.describe()),
            Arg::TensorList(list) => {
                let inner: Vec<String> = list.iter().map(|t| t.describe()).collect();
                parts.push(format!("[{}]", inner.join(", ")));
            }
            Arg::OptionalTensorList(list) => {
                let inner: Vec<String> = list
                    .iter()
                    .map(|t| t.as_ref().map_or("None".into(), |t| t.describe()))
                    .collect();
                parts.push(format!("[{}]", inner.join(", ")));
            }
            _ => {}
        }
    }
    parts.join(", ")
}

/// Returns the error `kind` (an `Error` constructor) makes of the message unless `cond`
/// holds; the `ensure` macros name the kind.
macro_rules! ensure_kind {
    ($kind:ident, $cond:expr, $($fmt:tt)+) => {
        if !$cond {
            return Err($crate::error::Error::$kind(format!($($fmt)+)));
        }
    };
}
pub(crate) use ensure_kind;

/// Returns an invalid-argument error unless `cond` holds.
macro_rules! ensure {
    ($($t:tt)+) => { $crate::error::ensure_kind!(invalid, $($t)+) };
}
pub(crate) use ensure;

/// Like `ensure!`, for a dim or an index out of range (`IndexError`).
macro_rules! ensure_index {
    ($($t:tt)+) => { $crate::error::ensure_kind!(index, $($t)+) };
}
pub(crate) use ensure_index;

/// Like `ensure!`, for an argument value the op does not take (`ValueError`).
macro_rules! ensure_value {
    ($($t:tt)+) => { $crate::error::ensure_kind!(value, $($t)+) };
}
pub(crate) use ensure_value;

/// Like `ensure!`, for an argument of the wrong type (`TypeError`).
macro_rules! ensure_type {
    ($($t:tt)+) => { $crate::error::ensure_kind!(wrong_type, $($t)+) };
}
pub(crate) use ensure_type;

/// Like `ensure!`, for a dtype the op's kernel has no code for: PyTorch's dispatch macros
/// raise `NotImplementedError` ("\"kernel\" not implemented for 'Long'").
macro_rules! ensure_kernel {
    ($($t:tt)+) => { $crate::error::ensure_kind!(unsupported, $($t)+) };
}
pub(crate) use ensure_kernel;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_op_is_named_once() {
        let named = |op, message: &str| Error::invalid(message).into_op_error(op, &[]).message;
        assert_eq!(
            named(
                "_linalg_check_errors",
                "linalg.inv: The diagonal element 2 is zero"
            ),
            "linalg.inv: The diagonal element 2 is zero"
        );
        assert_eq!(
            named(
                "kaiser_window",
                "kaiser_window expects floating point dtypes"
            ),
            "kaiser_window expects floating point dtypes (on device remote)"
        );
        assert_eq!(
            named(
                "linalg_cross",
                "linalg.cross: inputs dimension -1 must have length 3"
            ),
            "linalg.cross: inputs dimension -1 must have length 3 (on device remote)"
        );
        assert_eq!(
            named("cat", "cat(): expected a non-empty list of Tensors"),
            "cat(): expected a non-empty list of Tensors (on device remote)"
        );
        assert_eq!(
            named(
                "index.Tensor",
                "index 5 is out of bounds for dimension 0 with size 3"
            ),
            "index.Tensor: index 5 is out of bounds for dimension 0 with size 3 (on device remote)"
        );
        assert_eq!(
            named("mm", "self must be a matrix"),
            "mm: self must be a matrix (on device remote)"
        );
    }
}
