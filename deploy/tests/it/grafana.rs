//! monitoring/grafana: the provisioning matches the compose file, and every
//! dashboard panel has a unit, a description, the provisioned data source,
//! and queries Prometheus parses.

use std::collections::BTreeSet;
use std::process::Command;

use serde_json::{Value, json};

use crate::support::{promtool, read, root, run_ok, text, with_defaults, words, yaml};

const DASHBOARDS: &str = "monitoring/grafana/dashboards";
const DATASOURCES: &str = "monitoring/grafana/provisioning/datasources/prometheus.yml";
const PROVIDERS: &str = "monitoring/grafana/provisioning/dashboards/paqueteria.yml";

/// Every dashboard file: (file name, parsed JSON).
pub fn dashboards() -> Vec<(String, Value)> {
    let mut files: Vec<_> = std::fs::read_dir(root().join(DASHBOARDS))
        .expect("the dashboards folder")
        .map(|e| e.expect("a dashboard file").path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let name = p
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            let text = std::fs::read_to_string(&p).expect("readable");
            let json =
                serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name} is not JSON: {e}"));
            (name, json)
        })
        .collect()
}

/// The dashboards' uids.
pub fn dashboard_uids() -> BTreeSet<String> {
    dashboards()
        .iter()
        .filter_map(|(_, d)| d["uid"].as_str().map(str::to_owned))
        .collect()
}

/// Every panel of a dashboard, those inside rows (collapsed or not) too.
fn panels(dashboard: &Value) -> Vec<&Value> {
    fn walk<'a>(list: &'a Value, out: &mut Vec<&'a Value>) {
        for p in list.as_array().map(Vec::as_slice).unwrap_or_default() {
            out.push(p);
            walk(&p["panels"], out);
        }
    }
    let mut out = Vec::new();
    walk(&dashboard["panels"], &mut out);
    out
}

/// Every PromQL text of the dashboards (panel targets and variable
/// queries) and of the alert rules, with where it comes from.
pub fn queries() -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (file, d) in dashboards() {
        for p in panels(&d) {
            for t in p["targets"]
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or_default()
            {
                if let Some(expr) = t["expr"].as_str() {
                    out.push((format!("{file}: {}", p["title"]), expr.to_owned()));
                }
            }
        }
        for v in d["templating"]["list"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
        {
            let q = v["query"]["query"].as_str().or_else(|| v["query"].as_str());
            if let Some(q) = q {
                out.push((format!("{file}: variable {}", v["name"]), q.to_owned()));
            }
        }
    }
    let alerts = yaml("monitoring/prometheus/alerts.yml");
    for g in alerts["groups"]
        .as_vec()
        .map(Vec::as_slice)
        .unwrap_or_default()
    {
        for r in g["rules"].as_vec().map(Vec::as_slice).unwrap_or_default() {
            if let (Some(name), Some(expr)) = (text(&r["alert"]), text(&r["expr"])) {
                out.push((format!("alerts.yml: {name}"), expr));
            }
        }
    }
    out
}

/// The scrape jobs the dashboards and alerts select (`job="..."`).
pub fn scrape_jobs_used() -> BTreeSet<String> {
    queries()
        .iter()
        .flat_map(|(_, q)| {
            q.split("job=\"")
                .skip(1)
                .filter_map(|s| s.split('"').next().map(str::to_owned))
                .collect::<Vec<_>>()
        })
        .collect()
}

fn provisioned_uid() -> String {
    let ds = yaml(DATASOURCES);
    let list = ds["datasources"].as_vec().expect("datasources");
    assert_eq!(list.len(), 1, "one data source, the dashboards' only one");
    text(&list[0]["uid"]).expect("the data source has a fixed uid")
}

#[test]
fn the_four_dashboards_are_there_with_fixed_uids() {
    let all = dashboards();
    let titles: BTreeSet<&str> = all
        .iter()
        .filter_map(|(_, d)| d["title"].as_str())
        .collect();
    for title in ["Jobs", "Scheduler", "App", "Host & services"] {
        assert!(titles.contains(title), "no dashboard titled {title}");
    }
    assert_eq!(
        dashboard_uids().len(),
        all.len(),
        "every dashboard has its own uid"
    );
    for (file, d) in &all {
        let text = serde_json::to_string(d).unwrap_or_default();
        for export_only in ["__inputs", "__requires", "${DS_"] {
            assert!(
                !text.contains(export_only),
                "{file} has {export_only}: file provisioning does not resolve it"
            );
        }
    }
}

#[test]
fn every_panel_has_a_unit_a_description_and_the_provisioned_datasource() {
    let uid = provisioned_uid();
    let mut checked = 0;
    for (file, d) in dashboards() {
        for p in panels(&d) {
            if p["type"] == "row" {
                continue;
            }
            let title = p["title"].as_str().unwrap_or("(untitled)");
            let at = format!("{file}, panel {title:?}");
            let unit = p["fieldConfig"]["defaults"]["unit"].as_str().unwrap_or("");
            assert!(!unit.is_empty(), "{at} has no unit");
            let description = p["description"].as_str().unwrap_or("");
            assert!(description.len() >= 20, "{at} has no description");
            assert_eq!(p["datasource"]["uid"], json!(uid), "{at}: data source");
            let targets = p["targets"]
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or_default();
            assert!(!targets.is_empty(), "{at} has no query");
            for t in targets {
                if !t["datasource"].is_null() {
                    assert_eq!(
                        t["datasource"]["uid"],
                        json!(uid),
                        "{at}: a query's data source"
                    );
                }
                assert!(
                    t["expr"].as_str().is_some_and(|e| !e.is_empty()),
                    "{at}: empty query"
                );
            }
            checked += 1;
        }
        for v in d["templating"]["list"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
        {
            if v["type"] == "query" {
                assert_eq!(
                    v["datasource"]["uid"],
                    json!(uid),
                    "{file}: variable {}'s data source",
                    v["name"]
                );
            }
        }
    }
    assert!(checked >= 40, "only {checked} panels found");
}

#[test]
fn every_dashboard_can_pick_instances_and_the_jobs_one_queues() {
    for (file, d) in dashboards() {
        let vars: BTreeSet<&str> = d["templating"]["list"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .filter_map(|v| v["name"].as_str())
            .collect();
        assert!(vars.contains("instance"), "{file} has no instance variable");
        assert!(vars.contains("queue"), "{file} has no queue variable");
    }
}

/// A panel query with Grafana's variables replaced by what they expand to
/// (every instance, queue, job, entry and route; `rate_interval` for
/// `$__rate_interval`), or `None` for a variable's `label_values(…)`.
pub fn expand(query: &str, rate_interval: &str) -> Option<String> {
    if query.trim_start().starts_with("label_values(") {
        return None;
    }
    let mut expr = query
        .replace("$__rate_interval", rate_interval)
        .replace("$__interval", "1m")
        .replace("$__range", "1h");
    for var in ["instance", "queue", "job_name", "entry", "route"] {
        expr = expr
            .replace(&format!("${{{var}}}"), ".*")
            .replace(&format!("${var}"), ".*");
    }
    Some(expr)
}

/// Every panel query through promtool's parser (Prometheus 2.42, older
/// than the image's): written as recording rules with Grafana's variables
/// replaced by what they expand to.
#[test]
fn every_panel_query_parses_as_promql() {
    let mut rules = Vec::new();
    for (at, q) in queries() {
        let Some(expr) = expand(&q, "5m") else {
            continue;
        };
        assert!(!expr.contains('$'), "{at}: an unknown variable in {q}");
        rules.push(json!({"record": format!("dashboard:query_{}", rules.len()), "expr": expr}));
    }
    assert!(rules.len() >= 50, "only {} queries found", rules.len());
    let dir = tempfile::tempdir().expect("a temp dir");
    let file = dir.path().join("queries.yml");
    // JSON is YAML: promtool reads it as a rule file.
    let doc = json!({"groups": [{"name": "dashboard-queries", "rules": rules}]});
    std::fs::write(&file, doc.to_string()).expect("write the rules");
    let out = run_ok(
        Command::new(promtool()).args(["check", "rules"]).arg(&file),
        dir.path(),
    );
    assert!(out.contains("SUCCESS"), "{out}");
}

#[test]
fn provisioning_points_at_the_compose_services_and_mounts() {
    let compose = yaml("docker-compose.prod.yml");
    let ds = yaml(DATASOURCES);
    let source = &ds["datasources"][0];
    assert_eq!(text(&ds["apiVersion"]).as_deref(), Some("1"));
    assert_eq!(text(&source["type"]).as_deref(), Some("prometheus"));
    let url = text(&source["url"]).unwrap_or_default();
    let prometheus_args: Vec<String> = words(&compose["services"]["prometheus"]["command"])
        .iter()
        .map(|w| with_defaults(w))
        .collect();
    let port = prometheus_args
        .iter()
        .find_map(|a| a.strip_prefix("--web.listen-address="))
        .and_then(|a| a.rsplit(':').next())
        .unwrap_or("9090");
    assert_eq!(
        url,
        format!("http://prometheus:{port}"),
        "the data source's URL"
    );

    let providers = yaml(PROVIDERS);
    assert_eq!(text(&providers["apiVersion"]).as_deref(), Some("1"));
    let path = text(&providers["providers"][0]["options"]["path"]).unwrap_or_default();
    let mounted = words(&compose["services"]["grafana"]["volumes"])
        .iter()
        .any(|v| v.starts_with(&format!("./{DASHBOARDS}:{path}")));
    assert!(
        mounted,
        "grafana does not mount {DASHBOARDS} at the provider's path {path}"
    );
    let home = read("docker-compose.prod.yml");
    if let Some(line) = home
        .lines()
        .find(|l| l.contains("DEFAULT_HOME_DASHBOARD_PATH"))
    {
        let file = line.rsplit('/').next().unwrap_or("").trim();
        assert!(
            root().join(DASHBOARDS).join(file).is_file(),
            "the home dashboard {file} does not exist"
        );
    }
}
