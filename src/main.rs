use clap::Parser;

fn main() -> std::process::ExitCode {
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
