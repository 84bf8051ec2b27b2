//! What the diagnostics of a stored run (`show --confusion`, `show
//! --fairness-col`) share: finding the run, reading its spec, and its
//! dataset read again and accepted only when its id is still the run's.

use crate::data::dataset::{self, Dataset, Source};
use crate::data::target::TaskHint;
use crate::domain::RunSpec;
use crate::store::{RunRow, Store, StoreError};

/// Run `id` (an id or a unique prefix; a study's id stands for its run).
pub(super) fn find(store: &Store, id: &str) -> Result<Option<RunRow>, StoreError> {
    match store.run(id)? {
        Some(run) => Ok(Some(run)),
        None => match store.study(id)? {
            Some(study) => store.run(study.run_id.as_str()),
            None => Ok(None),
        },
    }
}

/// The run's stored spec, or why it cannot be read.
pub(super) fn spec(run: &RunRow) -> Result<RunSpec, String> {
    serde_json::from_str(&run.spec_json).map_err(|e| {
        format!(
            "run {} was stored by another mlhost version ({e}); run it again with `mlhost eval`",
            run.id
        )
    })
}

/// The run's dataset loaded again from its spec, with the cells of its key
/// columns ([`RunSpec::key_columns`], read apart as the run read them),
/// checked against the run's dataset id: the content hash, so classes,
/// rows and cells are exactly the run's. `Err` says why not.
pub(super) fn reload(
    run: &RunRow,
    spec: &RunSpec,
    hint: TaskHint,
) -> Result<(Dataset, Vec<Vec<String>>), String> {
    let source = Source::parse(&spec.dataset);
    let (data, cells) =
        dataset::load_keyed(&source, spec.label.as_deref(), hint, &spec.key_columns())
            .map_err(|e| e.to_string())?;
    if data.id != run.dataset_id.as_str() {
        return Err(format!(
            "{} changed since (dataset id was {}, is now {})",
            spec.dataset, run.dataset_id, data.id
        ));
    }
    Ok((data, cells))
}

/// The positive class's code in binary mode: `--pos-label`'s, else the
/// greater label (1), as the run scored it.
pub(super) fn positive(labels: &[String], named: Option<&str>) -> u32 {
    named.and_then(|w| labels.iter().position(|l| l == w)).map_or(1, |p| p as u32)
}
