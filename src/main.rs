// Parsing and fixing allocate many small strings and vectors; mimalloc serves them faster than the system
// allocator (measured in benches/cli.rs).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    dockopt::cli::main()
}
