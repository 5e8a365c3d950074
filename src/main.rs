// `--features count-alloc`: count heap allocations for benches/allocs.py.
#[cfg(feature = "count-alloc")]
#[global_allocator]
static ALLOCATOR: portico::alloc_count::CountingAllocator = portico::alloc_count::CountingAllocator;

fn main() {
    std::process::exit(portico::cli::main());
}
