//! PyTorch's metadata rules as pure functions: no kernel calls, no allocation of storages.

pub mod dims;
pub mod dtype;
pub mod layout;
pub mod overlap;
pub mod propagate;
pub mod shape;
pub mod view;
