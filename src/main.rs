use clap::Parser;

fn main() -> std::process::ExitCode {
    // Brokers and the supervisor hold a descriptor per client: lift the soft open-file
    // limit (often 1024) to the hard limit, as the JVM does for ActiveMQ. Best effort.
    let _ = mqsim::transport::raise_open_file_limit();
    let cli = mqsim::cli::Cli::parse();
    match mqsim::cli::run(cli) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            let red = anstyle::AnsiColor::Red.on_default().bold();
            anstream::eprintln!("{red}error:{red:#} {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
