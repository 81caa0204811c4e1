//! The Aura API v2beta1 calls, one method each: organisations, their
//! projects, IP filters. They go through the same token cache and rate
//! limiter as v1 (one client id, one budget) and read every envelope and
//! page v2beta1 answers with (`envelope.rs`).

use reqwest::Method;
use serde::de::DeserializeOwned;
use tracing::{debug, warn};

use super::client::{Answer, AuraClient, Call, Version};
use super::envelope::{self, Next};
use super::error::{AuraError, AuraErrorKind, Endpoint};
use super::ip_filter::{IpFilter, IpFilterWrite, Organization, OrganizationProject};

/// More pages than any list of ours has: a cursor that never ends is a
/// fault of the answer, not a reason to loop.
const MAX_PAGES: usize = 200;

impl AuraClient {
    // ---- organisations ----

    /// `GET /organizations`: the organisations the credentials see.
    pub async fn list_organizations(&self) -> Result<Vec<Organization>, AuraError> {
        self.list_v2(
            "list_organizations",
            "list organizations".into(),
            &["organizations"],
        )
        .await
    }

    /// `GET /organizations/{org}/projects`: its projects (v1 tenants).
    pub async fn list_organization_projects(
        &self,
        org: &str,
    ) -> Result<Vec<OrganizationProject>, AuraError> {
        self.list_v2(
            "list_organization_projects",
            format!("list the projects of organization {org}"),
            &["organizations", org, "projects"],
        )
        .await
    }

    // ---- IP filters ----

    /// `GET /organizations/{org}/ip-filters`.
    pub async fn list_ip_filters(&self, org: &str) -> Result<Vec<IpFilter>, AuraError> {
        self.list_v2(
            "list_ip_filters",
            format!("list the IP filters of organization {org}"),
            &["organizations", org, "ip-filters"],
        )
        .await
    }

    /// `GET /organizations/{org}/ip-filters/{id}`.
    pub async fn get_ip_filter(&self, org: &str, id: &str) -> Result<IpFilter, AuraError> {
        let label = format!("get IP filter {id}");
        let answer = self
            .send(v2_call(
                "get_ip_filter",
                label.clone(),
                Method::GET,
                &["organizations", org, "ip-filters", id],
                None,
                Endpoint::Api,
            ))
            .await?;
        read_one(&label, &answer, AuraErrorKind::Transient)
    }

    /// `POST /organizations/{org}/ip-filters`. Not idempotent and never
    /// retried: a failure after the request may have reached Aura is
    /// [`AuraErrorKind::OutcomeUnknown`], to be resolved by listing.
    pub async fn create_ip_filter(
        &self,
        org: &str,
        body: &IpFilterWrite,
    ) -> Result<IpFilter, AuraError> {
        let label = format!("create IP filter {:?}", body.name);
        let answer = self
            .send(v2_call(
                "create_ip_filter",
                label.clone(),
                Method::POST,
                &["organizations", org, "ip-filters"],
                Some(to_json(&label, body)?),
                Endpoint::Create,
            ))
            .await?;
        read_one(&label, &answer, AuraErrorKind::OutcomeUnknown)
    }

    /// `PATCH /organizations/{org}/ip-filters/{id}`: every field of `body`
    /// replaces Aura's (the allow list and the entities wholesale).
    pub async fn update_ip_filter(
        &self,
        org: &str,
        id: &str,
        body: &IpFilterWrite,
    ) -> Result<IpFilter, AuraError> {
        let label = format!("update IP filter {id}");
        let answer = self
            .send(v2_call(
                "update_ip_filter",
                label.clone(),
                Method::PATCH,
                &["organizations", org, "ip-filters", id],
                Some(to_json(&label, body)?),
                Endpoint::Api,
            ))
            .await?;
        read_one(&label, &answer, AuraErrorKind::Transient)
    }

    /// `DELETE /organizations/{org}/ip-filters/{id}`, confirmed: 204 and 404
    /// mean gone; a 5xx (the live service answers 500 to a DELETE that
    /// deleted, and to one of a filter already gone) is settled by a GET,
    /// and is an error only while the filter is still there.
    pub async fn delete_ip_filter(&self, org: &str, id: &str) -> Result<(), AuraError> {
        let path = ["organizations", org, "ip-filters", id];
        let result = self
            .send(v2_call(
                "delete_ip_filter",
                format!("delete IP filter {id}"),
                Method::DELETE,
                &path,
                None,
                Endpoint::Unconfirmed,
            ))
            .await;
        let err = match result {
            Ok(_) => return Ok(()),
            Err(e) if e.kind() == AuraErrorKind::NotFound => return Ok(()),
            Err(e) if e.kind() == AuraErrorKind::OutcomeUnknown => e,
            Err(e) => return Err(e),
        };
        match self.get_ip_filter(org, id).await {
            Err(e) if e.kind() == AuraErrorKind::NotFound => {
                debug!(filter = id, error = %err, "the IP filter is gone after a DELETE answered 5xx");
                Ok(())
            }
            Ok(_) => Err(err),
            Err(e) => Err(e),
        }
    }

    /// `GET /organizations/{org}/projects/{project}/instances/{id}/ip-filters`:
    /// the filter that applies to the instance with its status there, or
    /// `None` when none applies.
    pub async fn instance_ip_filter(
        &self,
        org: &str,
        project: &str,
        instance: &str,
    ) -> Result<Option<IpFilter>, AuraError> {
        let label = format!("get the IP filter of instance {instance}");
        let result = self
            .send(v2_call(
                "instance_ip_filter",
                label.clone(),
                Method::GET,
                &[
                    "organizations",
                    org,
                    "projects",
                    project,
                    "instances",
                    instance,
                    "ip-filters",
                ],
                None,
                Endpoint::Api,
            ))
            .await;
        match result {
            Ok(answer) => read_one(&label, &answer, AuraErrorKind::Transient).map(Some),
            Err(e) if e.kind() == AuraErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Every page of a v2beta1 list, from any envelope: a cursor
    /// (`links.next`) is followed to its end.
    pub(super) async fn list_v2<T: DeserializeOwned>(
        &self,
        name: &'static str,
        label: String,
        path: &[&str],
    ) -> Result<Vec<T>, AuraError> {
        let mut items = Vec::new();
        let mut query: Vec<(String, String)> = Vec::new();
        let mut seen_cursors = Vec::new();
        for _ in 0..MAX_PAGES {
            let pairs: Vec<(&str, &str)> = query
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            let answer = self
                .send(Call {
                    query: &pairs,
                    ..v2_call(name, label.clone(), Method::GET, path, None, Endpoint::Api)
                })
                .await?;
            let body: serde_json::Value = serde_json::from_str(&answer.body).map_err(|e| {
                unreadable(&label, &answer, AuraErrorKind::Transient, &e.to_string())
            })?;
            let page = envelope::list::<T>(&body, None);
            if page.skipped > 0 {
                warn!(op = %label, skipped = page.skipped, "skipped list entries that do not read");
            }
            items.extend(page.items);
            match page.next {
                Next::Done | Next::Page(_) => return Ok(items),
                Next::Url(next) => {
                    if seen_cursors.contains(&next) {
                        return Ok(items);
                    }
                    query = next_query(&next);
                    seen_cursors.push(next);
                }
            }
        }
        warn!(op = %label, pages = MAX_PAGES, "stopped following a list's pages");
        Ok(items)
    }
}

pub(super) fn v2_call<'a>(
    name: &'static str,
    label: String,
    method: Method,
    path: &'a [&'a str],
    body: Option<serde_json::Value>,
    endpoint: Endpoint,
) -> Call<'a> {
    Call {
        name,
        label,
        method,
        path,
        query: &[],
        body,
        endpoint,
        version: Version::V2beta1,
    }
}

/// The query of a `links.next` URL (relative or absolute): its cursor.
fn next_query(next: &str) -> Vec<(String, String)> {
    let parsed = reqwest::Url::parse(next).or_else(|_| {
        reqwest::Url::parse("http://relative.invalid/").and_then(|base| base.join(next))
    });
    parsed
        .map(|u| u.query_pairs().into_owned().collect())
        .unwrap_or_default()
}

pub(super) fn to_json(
    label: &str,
    body: &impl serde::Serialize,
) -> Result<serde_json::Value, AuraError> {
    serde_json::to_value(body)
        .map_err(|e| AuraError::other(label, AuraErrorKind::NeedsHuman, None, e.to_string(), None))
}

pub(super) fn read_one<T: DeserializeOwned>(
    label: &str,
    answer: &Answer,
    kind: AuraErrorKind,
) -> Result<T, AuraError> {
    let body: serde_json::Value = serde_json::from_str(&answer.body)
        .map_err(|e| unreadable(label, answer, kind, &e.to_string()))?;
    envelope::one(&body).map_err(|e| unreadable(label, answer, kind, &e))
}

fn unreadable(label: &str, answer: &Answer, kind: AuraErrorKind, why: &str) -> AuraError {
    AuraError::other(
        label,
        kind,
        Some(answer.status),
        format!("unreadable answer: {why}"),
        answer.request_id.clone(),
    )
}

#[cfg(test)]
mod tests {
    use super::next_query;

    #[test]
    fn the_cursor_is_read_from_absolute_and_relative_next_links() {
        let want = vec![
            ("page_limit".to_string(), "50".to_string()),
            ("page_token".to_string(), "t2".to_string()),
        ];
        assert_eq!(
            next_query("https://api.example/v2beta1/x?page_limit=50&page_token=t2"),
            want
        );
        assert_eq!(next_query("/v2beta1/x?page_limit=50&page_token=t2"), want);
        assert!(next_query("/v2beta1/x").is_empty());
    }
}
