//! The JSON forms that cross process and report boundaries: parameter
//! values (the report, the worker spec, the probe's constructor keys write
//! them one way, so a key the probe caches is the params the host uses) and
//! signal names for a child's death. Depends on nothing of the host, so the
//! registry, the probe and the worker can all use it without a cycle.

use std::collections::BTreeMap;

use mlhost_plugin_api::{ParamValue, Params};

/// One parameter value as JSON (ints stay ints): the report, the worker
/// spec and the probe's constructor keys all write params this way.
pub fn param_json(v: &ParamValue) -> serde_json::Value {
    match v {
        ParamValue::Float(f) => serde_json::json!(f),
        ParamValue::Int(i) => serde_json::json!(i),
        ParamValue::Bool(b) => serde_json::json!(b),
        ParamValue::Choice(c) => serde_json::json!(c),
    }
}

/// Params as JSON for the spec (ints stay ints).
pub fn params_json(params: &Params) -> BTreeMap<String, serde_json::Value> {
    params.iter().map(|(k, v)| (k.to_owned(), param_json(v))).collect()
}

/// Params from their JSON form (ints stay ints).
pub fn params_from_json(
    p: &BTreeMap<String, serde_json::Value>,
) -> Result<Vec<(String, ParamValue)>, String> {
    p.iter()
        .map(|(k, v)| {
            let value = match v {
                serde_json::Value::Bool(b) => ParamValue::Bool(*b),
                serde_json::Value::String(s) => ParamValue::Choice(s.clone()),
                serde_json::Value::Number(n) => match n.as_i64() {
                    Some(i) => ParamValue::Int(i),
                    None => ParamValue::Float(n.as_f64().unwrap_or(f64::NAN)),
                },
                other => return Err(format!("parameter '{k}': unusable value {other}")),
            };
            Ok((k.clone(), value))
        })
        .collect()
}

/// The conventional name of a Linux signal number.
pub fn signal_name(sig: i32) -> String {
    let name = match sig {
        1 => "SIGHUP",
        2 => "SIGINT",
        3 => "SIGQUIT",
        4 => "SIGILL",
        5 => "SIGTRAP",
        6 => "SIGABRT",
        7 => "SIGBUS",
        8 => "SIGFPE",
        9 => "SIGKILL",
        11 => "SIGSEGV",
        13 => "SIGPIPE",
        14 => "SIGALRM",
        15 => "SIGTERM",
        24 => "SIGXCPU",
        25 => "SIGXFSZ",
        31 => "SIGSYS",
        n => return format!("signal {n}"),
    };
    name.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_survive_the_trip() {
        let p = Params::default()
            .set("k", ParamValue::Int(5))
            .set("c", ParamValue::Float(0.5))
            .set("on", ParamValue::Bool(true))
            .set("mode", ParamValue::Choice("a".into()));
        let back = params_from_json(&params_json(&p)).unwrap();
        assert_eq!(
            back,
            vec![
                ("c".to_owned(), ParamValue::Float(0.5)),
                ("k".to_owned(), ParamValue::Int(5)),
                ("mode".to_owned(), ParamValue::Choice("a".into())),
                ("on".to_owned(), ParamValue::Bool(true)),
            ]
        );
    }
}
