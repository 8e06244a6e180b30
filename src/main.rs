fn main() -> std::process::ExitCode {
    dockopt::cli::main()
}
