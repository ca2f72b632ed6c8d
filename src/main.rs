fn main() -> std::process::ExitCode {
    openvoice::cli::main()
}
