//! The `mlhost` command line: argument parsing and the text and JSON output
//! of each command. Calls the library for all work; owns no logic of its own
//! beyond formatting.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::{Config, ConfigError};
use crate::registry::{Registry, Report};

/// Host for machine-learning models compiled as plugins.
#[derive(Debug, Parser)]
#[command(name = "mlhost", version, about)]
pub struct Cli {
    /// The host config file.
    #[arg(long, global = true, default_value = "config/mlhost.toml")]
    pub config: PathBuf,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// List every candidate model: ready, or rejected with the reason.
    Registry {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
}

/// An error that is the user's input, not a failure of the command: exit 2.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct BadInput(#[from] pub ConfigError);

/// Runs a parsed command, writing its output to `out`.
pub fn run(cli: Cli, out: &mut dyn Write) -> anyhow::Result<ExitCode> {
    let config = Config::load(&cli.config).map_err(BadInput)?;
    match cli.command {
        Command::Registry { json } => {
            let registry = Registry::discover(&config).map_err(BadInput)?;
            let report = registry.report();
            if json {
                serde_json::to_writer_pretty(&mut *out, &report)?;
                writeln!(out)?;
            } else {
                write_registry_table(&report, out)?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The registry as a table: one row per candidate, then the reason of each
/// rejected one, then warnings.
pub fn write_registry_table(report: &Report, out: &mut dyn Write) -> std::io::Result<()> {
    let dash = |s: &Option<String>| s.clone().unwrap_or_else(|| "-".to_owned());
    let rows: Vec<[String; 7]> = report
        .models
        .iter()
        .map(|m| {
            [
                m.id.clone(),
                dash(&m.plugin),
                dash(&m.version),
                dash(&m.task),
                m.state.to_owned(),
                dash(&m.sha256),
                dash(&m.path),
            ]
        })
        .collect();
    let header = ["ID", "PLUGIN", "VERSION", "TASK", "STATE", "SHA256", "PATH"].map(str::to_owned);
    let mut widths = header.clone().map(|h| h.len());
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    for row in std::iter::once(&header).chain(&rows) {
        let line: Vec<String> =
            row.iter().zip(widths).map(|(cell, w)| format!("{cell:<w$}")).collect();
        writeln!(out, "{}", line.join("  ").trim_end())?;
    }
    let ready = report.models.iter().filter(|m| m.reason.is_none()).count();
    writeln!(
        out,
        "\n{ready} ready, {} rejected, {} disabled (plugin-api {})",
        report.models.len() - ready,
        report.disabled.len(),
        report.plugin_api_version
    )?;
    for m in &report.models {
        if let Some(reason) = &m.reason {
            writeln!(out, "rejected {}: {reason}", m.id)?;
        }
    }
    for w in &report.warnings {
        writeln!(out, "warning: {w}")?;
    }
    Ok(())
}
