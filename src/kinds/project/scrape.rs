//! The Prometheus job that scrapes a project's Aura metrics (pure): from the
//! endpoint Aura reports and the metrics reader's credentials, a
//! prometheus-operator `ScrapeConfig` (what the operator writes) and a
//! `scrape_configs` entry (what `aura-operator scrape-config` prints for a
//! Prometheus without the operator's CRDs). Both say the same job.

use serde_json::{Value, json};

/// The API of prometheus-operator's ScrapeConfig.
pub const SCRAPE_CONFIG_GROUP: &str = "monitoring.coreos.com";
pub const SCRAPE_CONFIG_VERSION: &str = "v1alpha1";
pub const SCRAPE_CONFIG_KIND: &str = "ScrapeConfig";
pub const SCRAPE_CONFIG_PLURAL: &str = "scrapeconfigs";

/// The label on a ScrapeConfig written for a project: the project's name.
pub const PROJECT_LABEL: &str = "aura-operator.io/project";

/// Aura's metrics are refreshed about once a minute; scraping more often
/// only spends requests.
pub const DEFAULT_INTERVAL: &str = "60s";

/// One scrape job, whatever writes it down.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScrapeJob {
    pub job_name: String,
    /// `http` or `https`.
    pub scheme: String,
    /// host[:port] of the endpoint.
    pub target: String,
    pub metrics_path: String,
    pub token_url: String,
    pub interval: String,
}

/// The job for a project's endpoint (as `GET /tenants/{id}/metrics-integration`
/// reports it); an error says what is wrong with the endpoint.
pub fn job(
    job_name: &str,
    endpoint: &str,
    token_url: &str,
    interval: Option<&str>,
) -> Result<ScrapeJob, String> {
    let url = reqwest::Url::parse(endpoint)
        .map_err(|e| format!("the metrics endpoint {endpoint:?} is not a URL: {e}"))?;
    let scheme = url.scheme().to_string();
    if scheme != "http" && scheme != "https" {
        return Err(format!(
            "the metrics endpoint {endpoint:?} is not http or https"
        ));
    }
    let host = url
        .host_str()
        .ok_or_else(|| format!("the metrics endpoint {endpoint:?} names no host"))?;
    let target = match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_string(),
    };
    let mut metrics_path = url.path().to_string();
    if let Some(query) = url.query() {
        metrics_path = format!("{metrics_path}?{query}");
    }
    Ok(ScrapeJob {
        job_name: job_name.to_string(),
        scheme,
        target,
        metrics_path,
        token_url: token_url.to_string(),
        interval: interval.unwrap_or(DEFAULT_INTERVAL).to_string(),
    })
}

/// The job name of a project: `aura-<name>` for an AuraProject in its
/// namespace, `aura-cluster-<name>` for a ClusterAuraProject.
pub fn job_name(namespace: Option<&str>, name: &str) -> String {
    match namespace {
        Some(ns) => format!("aura-{ns}-{name}"),
        None => format!("aura-cluster-{name}"),
    }
}

/// The prometheus-operator ScrapeConfig: Prometheus gets its token from
/// Aura's token endpoint with the credentials of `secret` (keys clientId and
/// clientSecret) and scrapes the endpoint with it. `owner` is the project's
/// owner reference, so that the ScrapeConfig goes with it.
pub fn scrape_config(
    job: &ScrapeJob,
    name: &str,
    namespace: &str,
    project: &str,
    secret: &str,
    owner: Value,
) -> Value {
    json!({
        "apiVersion": format!("{SCRAPE_CONFIG_GROUP}/{SCRAPE_CONFIG_VERSION}"),
        "kind": SCRAPE_CONFIG_KIND,
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {
                "app.kubernetes.io/managed-by": "aura-operator",
                PROJECT_LABEL: crate::kinds::shared::connection::label_value(project),
            },
            "ownerReferences": [owner],
        },
        "spec": {
            "jobName": job.job_name,
            "scheme": job.scheme.to_uppercase(),
            "metricsPath": job.metrics_path,
            "scrapeInterval": job.interval,
            "staticConfigs": [{
                "targets": [job.target],
                "labels": {"aura_project": project},
            }],
            "oauth2": {
                "clientId": {"secret": {"name": secret, "key": "clientId"}},
                "clientSecret": {"name": secret, "key": "clientSecret"},
                "tokenUrl": job.token_url,
            },
        },
    })
}

/// The same job as an entry of Prometheus's `scrape_configs`, as YAML; the
/// client secret is read from a file (Prometheus never holds it in its
/// configuration).
pub fn prometheus_yaml(
    job: &ScrapeJob,
    project: &str,
    client_id: &str,
    secret_file: &str,
) -> String {
    let entry = json!({
        "job_name": job.job_name,
        "scheme": job.scheme,
        "metrics_path": job.metrics_path,
        "scrape_interval": job.interval,
        "oauth2": {
            "client_id": client_id,
            "client_secret_file": secret_file,
            "token_url": job.token_url,
        },
        "static_configs": [{
            "targets": [job.target],
            "labels": {"aura_project": project},
        }],
    });
    serde_yaml::to_string(&json!({ "scrape_configs": [entry] }))
        .expect("a scrape job always serialises")
}

/// `aura-operator scrape-config`: the job for a Prometheus without
/// prometheus-operator's CRDs.
#[derive(Debug, Clone, clap::Args)]
pub struct ScrapeConfigArgs {
    /// The project's metrics endpoint: status.metricsIntegrationUrl of the
    /// AuraProject, or what `GET /tenants/{id}/metrics-integration` answers.
    #[arg(long)]
    pub endpoint: String,
    /// The client id of a user with the Metrics Integration Reader role.
    #[arg(long)]
    pub client_id: String,
    /// Where Prometheus reads that client's secret from.
    #[arg(long)]
    pub client_secret_file: String,
    /// Aura's token endpoint.
    #[arg(long, default_value = "https://api.neo4j.io/oauth/token")]
    pub token_url: String,
    /// The job's name, and the aura_project label of its series.
    #[arg(long, default_value = "aura")]
    pub project: String,
    /// How often Prometheus scrapes.
    #[arg(long, default_value = DEFAULT_INTERVAL)]
    pub scrape_interval: String,
}

/// The YAML `aura-operator scrape-config` prints, or what is wrong with the endpoint.
pub fn print(args: &ScrapeConfigArgs) -> Result<String, String> {
    let job = job(
        &format!("aura-{}", args.project),
        &args.endpoint,
        &args.token_url,
        Some(&args.scrape_interval),
    )?;
    Ok(prometheus_yaml(
        &job,
        &args.project,
        &args.client_id,
        &args.client_secret_file,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &str = "https://api.neo4j.io/oauth/token";

    #[test]
    fn the_endpoint_becomes_target_path_and_scheme() {
        let cases = [
            (
                "https://customer-metrics-api.neo4j.io/api/v1/t-1/metrics",
                Ok((
                    "https",
                    "customer-metrics-api.neo4j.io",
                    "/api/v1/t-1/metrics",
                )),
            ),
            (
                "http://127.0.0.1:8443/metrics/projects/t-1",
                Ok(("http", "127.0.0.1:8443", "/metrics/projects/t-1")),
            ),
            (
                "https://m.example/api/v1/t/metrics?format=text",
                Ok(("https", "m.example", "/api/v1/t/metrics?format=text")),
            ),
            ("ftp://m.example/metrics", Err("not http or https")),
            ("not a url", Err("not a URL")),
        ];
        for (endpoint, want) in cases {
            let got = job("aura-team", endpoint, TOKEN, None);
            match (got, want) {
                (Ok(j), Ok((scheme, target, path))) => {
                    assert_eq!(
                        (
                            j.scheme.as_str(),
                            j.target.as_str(),
                            j.metrics_path.as_str()
                        ),
                        (scheme, target, path),
                        "{endpoint}"
                    );
                    assert_eq!(j.interval, DEFAULT_INTERVAL);
                }
                (Err(e), Err(words)) => assert!(e.contains(words), "{endpoint}: {e}"),
                (got, want) => panic!("{endpoint}: got {got:?}, want {want:?}"),
            }
        }
    }

    #[test]
    fn the_scrape_config_and_the_prometheus_job_say_the_same() {
        let j = job(
            "aura-team-a-team",
            "https://customer-metrics-api.neo4j.io/api/v1/t-1/metrics",
            TOKEN,
            Some("30s"),
        )
        .unwrap();
        let owner = json!({"apiVersion": "aura-operator.io/v1beta1", "kind": "AuraProject", "name": "team", "uid": "u"});
        let sc = scrape_config(&j, "aura-team", "team-a", "team", "aura-metrics", owner);
        assert_eq!(sc["kind"], "ScrapeConfig");
        assert_eq!(sc["apiVersion"], "monitoring.coreos.com/v1alpha1");
        assert_eq!(sc["metadata"]["labels"][PROJECT_LABEL], "team");
        assert_eq!(sc["spec"]["scheme"], "HTTPS");
        assert_eq!(sc["spec"]["metricsPath"], "/api/v1/t-1/metrics");
        assert_eq!(sc["spec"]["scrapeInterval"], "30s");
        assert_eq!(
            sc["spec"]["staticConfigs"][0]["targets"][0],
            "customer-metrics-api.neo4j.io"
        );
        assert_eq!(sc["spec"]["oauth2"]["tokenUrl"], TOKEN);
        assert_eq!(sc["spec"]["oauth2"]["clientSecret"]["name"], "aura-metrics");
        assert_eq!(
            sc["spec"]["oauth2"]["clientId"]["secret"]["key"],
            "clientId"
        );

        let yaml = prometheus_yaml(&j, "team", "reader-id", "/etc/aura/secret");
        let parsed: Value = serde_yaml::from_str(&yaml).unwrap();
        let entry = &parsed["scrape_configs"][0];
        assert_eq!(entry["job_name"], sc["spec"]["jobName"]);
        assert_eq!(entry["metrics_path"], sc["spec"]["metricsPath"]);
        assert_eq!(entry["scrape_interval"], sc["spec"]["scrapeInterval"]);
        assert_eq!(
            entry["static_configs"][0]["targets"],
            sc["spec"]["staticConfigs"][0]["targets"]
        );
        assert_eq!(entry["oauth2"]["token_url"], TOKEN);
        assert_eq!(entry["oauth2"]["client_id"], "reader-id");
        assert_eq!(entry["oauth2"]["client_secret_file"], "/etc/aura/secret");
        assert!(
            !yaml.contains("clientSecret"),
            "no secret in the job: {yaml}"
        );
    }

    #[test]
    fn job_names_keep_namespaced_and_cluster_projects_apart() {
        assert_eq!(job_name(Some("team-a"), "team"), "aura-team-a-team");
        assert_eq!(job_name(None, "team"), "aura-cluster-team");
    }
}
