//! Prints the latest criterion results as Markdown tables: the median of every implementation
//! per group and parameter with the ratios of ours to OpenSSL and to `dco3_crypto`, then the
//! spread (min / median / max) of the groups measured at one call per sample.
//!
//! Usage: `cargo run -p dracoon-crypto-benches --bin report [CRITERION_DIR]`; the default
//! directory is the workspace's `target/criterion`.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use dracoon_crypto_benches::{AWS_LC, DCO3, OPENSSL, OURS};
use serde_json::Value;

/// One benchmark's latest result.
struct Result {
    group: String,
    function: String,
    parameter: String,
    bytes: Option<u64>,
    /// Median time of one iteration, ns.
    median: f64,
    /// Per-iteration time of every sample, ns.
    samples: Vec<f64>,
    /// Whether every sample ran exactly one iteration.
    one_call: bool,
}

fn read_json(path: &Path) -> Option<Value> {
    serde_json::from_str(&fs::read_to_string(path).ok()?).ok()
}

fn load(new_dir: &Path) -> Option<Result> {
    let bench = read_json(&new_dir.join("benchmark.json"))?;
    let estimates = read_json(&new_dir.join("estimates.json"))?;
    let sample = read_json(&new_dir.join("sample.json"))?;
    let iters: Vec<f64> = sample["iters"]
        .as_array()?
        .iter()
        .filter_map(Value::as_f64)
        .collect();
    let times: Vec<f64> = sample["times"]
        .as_array()?
        .iter()
        .filter_map(Value::as_f64)
        .collect();
    let mut samples: Vec<f64> = times.iter().zip(&iters).map(|(t, n)| t / n).collect();
    samples.sort_by(f64::total_cmp);
    Some(Result {
        group: bench["group_id"].as_str()?.to_owned(),
        function: bench["function_id"].as_str()?.to_owned(),
        parameter: bench["value_str"].as_str().unwrap_or("").to_owned(),
        bytes: bench["throughput"]["Bytes"].as_u64(),
        median: estimates["median"]["point_estimate"].as_f64()?,
        one_call: iters.iter().all(|&n| n == 1.0),
        samples,
    })
}

fn collect(dir: &Path, out: &mut Vec<Result>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if !path.is_dir() {
            continue;
        }
        if path.file_name().is_some_and(|n| n == "new") {
            out.extend(load(&path));
        } else if path
            .file_name()
            .is_some_and(|n| n != "base" && n != "report")
        {
            collect(&path, out);
        }
    }
}

fn time(ns: f64) -> String {
    if ns >= 1e9 {
        format!("{:.3} s", ns / 1e9)
    } else if ns >= 1e6 {
        format!("{:.2} ms", ns / 1e6)
    } else if ns >= 1e3 {
        format!("{:.1} µs", ns / 1e3)
    } else {
        format!("{ns:.0} ns")
    }
}

fn cell(r: &Result) -> String {
    match r.bytes {
        // bytes per nanosecond = GB/s
        Some(bytes) => format!("{:.2} GB/s", bytes as f64 / r.median),
        None => time(r.median),
    }
}

fn ratio(ours: Option<&&Result>, other: Option<&&Result>) -> String {
    match (ours, other) {
        (Some(a), Some(b)) => format!("{:.2}", a.median / b.median),
        _ => String::new(),
    }
}

fn main() -> ExitCode {
    let dir = std::env::args_os().nth(1).map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/criterion"),
        PathBuf::from,
    );
    let mut results = Vec::new();
    collect(&dir, &mut results);
    if results.is_empty() {
        eprintln!("no criterion results under {}", dir.display());
        return ExitCode::FAILURE;
    }

    // (group, parameter) -> function -> result, in a stable order.
    let mut table: BTreeMap<(String, String), BTreeMap<String, &Result>> = BTreeMap::new();
    for r in &results {
        table
            .entry((r.group.clone(), r.parameter.clone()))
            .or_default()
            .insert(r.function.clone(), r);
    }

    println!(
        "| group | parameter | {OURS} | {DCO3} | {OPENSSL} | {AWS_LC} | ours / openssl | ours / dco3 |"
    );
    println!("|---|---|---:|---:|---:|---:|---:|---:|");
    for ((group, parameter), by_impl) in &table {
        let get = |name: &str| by_impl.get(name);
        let show = |name: &str| get(name).map_or_else(String::new, |r| cell(r));
        println!(
            "| {group} | {parameter} | {} | {} | {} | {} | {} | {} |",
            show(OURS),
            show(DCO3),
            show(OPENSSL),
            show(AWS_LC),
            ratio(get(OURS), get(OPENSSL)),
            ratio(get(OURS), get(DCO3)),
        );
    }
    println!();
    println!("Ratios are of median times per operation: below 1 means ours is faster.");

    let spread: Vec<&Result> = results.iter().filter(|r| r.one_call).collect();
    if !spread.is_empty() {
        let mut spread = spread;
        spread.sort_by(|a, b| {
            (&a.group, &a.parameter, &a.function).cmp(&(&b.group, &b.parameter, &b.function))
        });
        println!();
        println!("| group | parameter | implementation | calls | min | median | max |");
        println!("|---|---|---|---:|---:|---:|---:|");
        for r in spread {
            let (Some(min), Some(max)) = (r.samples.first(), r.samples.last()) else {
                continue;
            };
            println!(
                "| {} | {} | {} | {} | {} | {} | {} |",
                r.group,
                r.parameter,
                r.function,
                r.samples.len(),
                time(*min),
                time(r.median),
                time(*max),
            );
        }
    }
    ExitCode::SUCCESS
}
