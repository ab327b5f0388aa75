//! The host's CPU block cache in a process of its own, since it becomes libtorch's allocator
//! for the whole process: freed large blocks are reused and counted, small ones and blocks
//! beyond the budget are not kept, and `empty_cpu_cache` gives them back.

use tch::{Kind, Tensor};
use torch_remote_host::memory::{cache_cpu_blocks, cpu_cache_bytes, empty_cpu_cache};

const MIB: i64 = 1 << 20;

fn bytes(n: i64) -> Tensor {
    Tensor::empty([n], (Kind::Uint8, tch::Device::Cpu))
}

#[test]
fn freed_blocks_are_reused_within_the_budget_and_emptied() {
    cache_cpu_blocks(8 << 20);
    let small = bytes(MIB / 2);
    drop(small);
    assert_eq!(cpu_cache_bytes(), 0, "blocks under 1 MiB are malloc's");

    let mut first = bytes(3 * MIB);
    let _ = first.fill_(7);
    let address = first.data_ptr();
    drop(first);
    assert_eq!(
        cpu_cache_bytes(),
        4 << 20,
        "3 MiB is kept as its 2 MiB-rounded block"
    );

    let mut again = bytes(3 * MIB + 1);
    assert_eq!(
        again.data_ptr(),
        address,
        "a block of the same rounded size is reused"
    );
    assert_eq!(cpu_cache_bytes(), 0);
    let _ = again.fill_(1);
    assert_eq!(again.sum(Kind::Int64).int64_value(&[]), 3 * MIB + 1);

    let beyond = bytes(10 * MIB);
    drop(beyond);
    assert_eq!(cpu_cache_bytes(), 0, "a block over the budget is freed");
    drop(again);
    assert_eq!(cpu_cache_bytes(), 4 << 20);
    empty_cpu_cache();
    assert_eq!(cpu_cache_bytes(), 0);
}
