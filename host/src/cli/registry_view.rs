//! The registry as people read it: the table of every candidate, and one
//! candidate with its parameter schema (`mlhost registry --model ID`).

use std::io::Write;

use super::{BadInput, write_table};
use crate::registry::{Report, ReportRow};

/// `mlhost registry [MODEL] [--json]`: the whole report, or one candidate.
pub(super) fn run(
    report: &Report,
    model: Option<&str>,
    json: bool,
    out: &mut dyn Write,
) -> anyhow::Result<std::process::ExitCode> {
    match model {
        Some(id) => {
            let Some(row) = report.models.iter().find(|m| m.id == id) else {
                let why = if report.disabled.iter().any(|d| d == id) {
                    format!("candidate '{id}' is disabled in models.toml (enabled = false)")
                } else {
                    format!("no candidate '{id}'; `mlhost registry` lists them")
                };
                return Err(BadInput::Other(why).into());
            };
            if json {
                serde_json::to_writer_pretty(&mut *out, row)?;
                writeln!(out)?;
            } else {
                write_candidate(row, out)?;
            }
        }
        None if json => {
            serde_json::to_writer_pretty(&mut *out, report)?;
            writeln!(out)?;
        }
        None => write_registry_table(report, out)?,
    }
    Ok(std::process::ExitCode::SUCCESS)
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
    let rows: Vec<Vec<String>> = rows.into_iter().map(Vec::from).collect();
    write_table(out, &["ID", "PLUGIN", "VERSION", "TASK", "STATE", "SHA256", "PATH"], &rows)?;
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

/// A JSON value as a table cell: strings without their quotes.
fn plain(v: &serde_json::Value) -> String {
    v.as_str().map_or_else(|| v.to_string(), str::to_owned)
}

/// One candidate: what it is, its state, and a row per parameter with the
/// value it runs with beside the schema.
pub(super) fn write_candidate(row: &ReportRow, out: &mut dyn Write) -> std::io::Result<()> {
    let dash = |s: &Option<String>| s.clone().unwrap_or_else(|| "-".to_owned());
    let plugin = match (&row.plugin, &row.version) {
        (Some(p), Some(v)) => format!("{p} {v}"),
        (p, _) => dash(p),
    };
    let facts = [
        ("id", row.id.clone()),
        ("plugin", plugin),
        ("task", dash(&row.task)),
        ("state", row.state.to_owned()),
        ("prepare", format!("scale {}, encode {}, impute {}", row.scale, row.encode, row.impute)),
        ("path", dash(&row.path)),
        ("sha256", dash(&row.sha256)),
    ];
    for (k, v) in facts {
        writeln!(out, "{k:<12}{v}")?;
    }
    if !row.description.is_empty() {
        writeln!(out, "{:<12}{}", "description", row.description)?;
    }
    if let Some(reason) = &row.reason {
        writeln!(out, "{:<12}{reason}", "reason")?;
    }
    if row.params_schema.is_empty() {
        return writeln!(out, "\nno parameters");
    }
    writeln!(out)?;
    let num = |v: Option<f64>| v.map_or_else(String::new, |v| v.to_string());
    let rows: Vec<Vec<String>> = row
        .params_schema
        .iter()
        .map(|p| {
            let range = match (p.min, p.max) {
                (None, None) => "-".to_owned(),
                (min, max) => format!("[{}, {}]", num(min), num(max)),
            };
            vec![
                p.name.clone(),
                p.kind.to_owned(),
                row.params.get(&p.name).map_or_else(|| "-".to_owned(), plain),
                plain(&p.default),
                range,
                if p.log_scale { "log" } else { "-" }.to_owned(),
                if p.choices.is_empty() { "-".to_owned() } else { p.choices.join("|") },
                p.description.clone(),
            ]
        })
        .collect();
    write_table(
        out,
        &["PARAM", "KIND", "VALUE", "DEFAULT", "RANGE", "SCALE", "CHOICES", "DESCRIPTION"],
        &rows,
    )
}
