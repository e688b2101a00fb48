use clap::Parser;

/// A reporting verb whose reader went away (`mqsim events | head -1`) has nothing left to
/// do: it exits at once, with status 0, as `cat` would have exited quietly. Rust starts with
/// SIGPIPE ignored, so without this the next `println!` panics ("failed printing to stdout:
/// Broken pipe", exit 101). Only pipes raise SIGPIPE here: sockets are written with
/// `MSG_NOSIGNAL` by std/mio, so a client verb's broken connection is still an error it
/// handles. The broker and supervisor processes keep the default (ignored).
extern "C" fn reader_gone(_: nix::libc::c_int) {
    // SAFETY: _exit is async-signal-safe; nothing is flushed or unwound.
    unsafe { nix::libc::_exit(0) }
}

fn exit_quietly_on_broken_pipe() {
    use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, Signal, sigaction};
    let action = SigAction::new(SigHandler::Handler(reader_gone), SaFlags::empty(), SigSet::empty());
    // SAFETY: the handler only calls _exit.
    let _ = unsafe { sigaction(Signal::SIGPIPE, &action) };
}

fn main() -> std::process::ExitCode {
    // Brokers and the supervisor hold a descriptor per client: lift the soft open-file
    // limit (often 1024) to the hard limit, as the JVM does for ActiveMQ. Best effort.
    let _ = mqsim::transport::raise_open_file_limit();
    let cli = mqsim::cli::Cli::parse();
    if !cli.command.is_daemon() {
        exit_quietly_on_broken_pipe();
    }
    match mqsim::cli::run(cli) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            let red = anstyle::AnsiColor::Red.on_default().bold();
            anstream::eprintln!("{red}error:{red:#} {e}");
            std::process::ExitCode::from(e.exit_code())
        }
    }
}
