//! The `mlhost` binary: parse arguments, run, print the error chain, pick the
//! exit code (0 ok, 1 the command failed, 2 bad usage or bad input).

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;
use mlhost::cli::{BadInput, Cli, run};

fn main() -> ExitCode {
    let cli = Cli::parse(); // exits 2 on bad usage
    // Buffered: a JSON report is thousands of small writes otherwise.
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let outcome = run(cli, &mut out);
    let outcome = match (outcome, out.flush()) {
        (Ok(_), Err(e)) => Err(e.into()),
        (outcome, _) => outcome,
    };
    if mlhost::plugin::loader::wedged() {
        // A plugin hung inside dlopen: a normal exit would wait on its lock.
        if let Err(err) = &outcome {
            eprintln!("error: {err:#}");
        }
        mlhost::plugin::loader::exit_now(i32::from(outcome.is_err()));
    }
    match outcome {
        Ok(code) => code,
        // `mlhost runs | head`: a closed pipe is not an error.
        Err(err)
            if err
                .downcast_ref::<std::io::Error>()
                .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe) =>
        {
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("error: {err:#}");
            if err.downcast_ref::<BadInput>().is_some() {
                ExitCode::from(2)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}
