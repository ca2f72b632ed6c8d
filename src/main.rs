// glibc's malloc took a tenth of the CPU of serving a cached page (and its arena locks stalled
// the two workers against each other); mimalloc keeps per-thread free lists.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    openvoice::cli::main()
}
