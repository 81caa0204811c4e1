//! The HTTP side: `/oauth/token`, `/v1/...`, the middleware that stamps
//! `X-Request-Id` and counts, and the gate that authenticates, limits and
//! injects faults on `/v1`.

use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, MatchedPath, Path, RawQuery, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use tokio::time::Instant;

use super::auth::{TokenError, parse_basic, parse_bearer, parse_form};
use super::catalogue::{parse_object, parse_overwrite, parse_update, parse_upgrade};
use super::error::ApiError;
use super::faults::{CreateFailMode, ExpiredToken, KillSwitch, retry_after_date, roll};
use super::http::{ClientId, data, query_param, require_json};
use super::shared::{CreateRecord, SimState};
use crate::aura::model::{SnapshotCreated, Tenant, TokenResponse};

/// Marks an answer that is never written because the connection is dropped.
#[derive(Debug, Clone, Copy)]
struct Dropped;

fn dropped_response() -> Response {
    let mut r = StatusCode::INTERNAL_SERVER_ERROR.into_response();
    r.extensions_mut().insert(Dropped);
    r
}

/// The id stamped on the answer, available to handlers for their logs.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

pub fn router(state: SimState) -> Router {
    let v1 = Router::new()
        .route("/v1/tenants", get(list_tenants))
        .route("/v1/tenants/{tenant_id}", get(get_tenant))
        .route("/v1/instances", get(list_instances).post(create_instance))
        .route(
            "/v1/instances/{id}",
            get(get_instance)
                .patch(update_instance)
                .delete(delete_instance),
        )
        .route("/v1/instances/{id}/pause", post(pause_instance))
        .route("/v1/instances/{id}/resume", post(resume_instance))
        .route("/v1/instances/{id}/upgrade", post(upgrade_instance))
        .route("/v1/instances/{id}/overwrite", post(overwrite_instance))
        .route(
            "/v1/instances/{id}/snapshots",
            get(list_snapshots).post(take_snapshot),
        )
        .route("/v1/instances/{id}/snapshots/{sid}", get(get_snapshot))
        .route(
            "/v1/instances/{id}/snapshots/{sid}/restore",
            post(restore_snapshot),
        )
        .merge(super::key_routes::router())
        .merge(super::metrics_routes::v1_router())
        .merge(super::analytics_routes::router())
        // One gate for both versions: same tokens, one budget per client id.
        .merge(super::v2beta1_routes::router(state.clone()))
        .route_layer(middleware::from_fn_with_state(state.clone(), v1_gate));

    Router::new()
        .route("/oauth/token", post(token))
        .route("/v2beta1/oauth/token", post(token))
        .merge(v1)
        .merge(super::metrics_routes::scrape_router())
        .merge(super::admin::router())
        .merge(super::query_api::router())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn(super::error::json_errors))
        .layer(middleware::from_fn_with_state(state.clone(), depart))
        .layer(middleware::from_fn_with_state(state.clone(), observe))
        .with_state(state)
}

async fn not_found(method: Method, uri: Uri) -> ApiError {
    ApiError::api(
        StatusCode::NOT_FOUND,
        "not-found",
        format!("No such endpoint: {method} {}", uri.path()),
    )
}

async fn method_not_allowed(method: Method, uri: Uri) -> ApiError {
    ApiError::api(
        StatusCode::METHOD_NOT_ALLOWED,
        "method-not-allowed",
        format!("{method} is not allowed on {}", uri.path()),
    )
}

/// Outermost: request id on every answer (errors, 429s, unknown routes) and counters.
async fn observe(State(st): State<SimState>, mut req: Request, next: Next) -> Response {
    let request_id = uuid::Uuid::new_v4().to_string();
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_string());
    req.extensions_mut().insert(RequestId(request_id.clone()));
    let started = Instant::now();
    let mut resp = next.run(req).await;
    date_retry_after(&st, &mut resp);
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        resp.headers_mut().insert("x-request-id", v);
    }
    let status = resp.status();
    let status_key = if resp.extensions().get::<Dropped>().is_some() {
        "dropped".to_string()
    } else {
        status.as_u16().to_string()
    };
    if !path.starts_with("/admin") && !super::query_api::is_query_api(&path) {
        // Made-up methods share one key: a caller cannot grow the counters.
        let known = [
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
            Method::HEAD,
            Method::OPTIONS,
        ];
        let shown = if known.contains(&method) {
            method.as_str()
        } else {
            "OTHER"
        };
        let key = format!("{shown} {}", route.as_deref().unwrap_or("(unmatched)"));
        let instance_get = (method == Method::GET
            && status == StatusCode::OK
            && route.as_deref() == Some("/v1/instances/{id}"))
        .then(|| path.trim_start_matches("/v1/instances/").to_string());
        st.count(|c| {
            c.requests_total += 1;
            if let Some(id) = instance_get {
                *c.instance_gets.entry(id).or_default() += 1;
            }
            *c.by_route.entry(key).or_default() += 1;
            *c.by_status.entry(status_key.clone()).or_default() += 1;
            if status == StatusCode::TOO_MANY_REQUESTS {
                c.too_many_requests += 1;
            }
            if c.journal.len() >= super::shared::JOURNAL_LEN {
                c.journal.pop_front();
            }
            c.journal.push_back(format!("{method} {path} {status_key}"));
        });
        // Path and status only: ids in paths are not secrets, bodies may be.
        tracing::info!(
            request_id,
            %method,
            path,
            status = status_key,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "simulator request"
        );
    }
    resp
}

/// With the fault on, a 429's `Retry-After` in seconds becomes the HTTP
/// date that many seconds from now.
fn date_retry_after(st: &SimState, resp: &mut Response) {
    if resp.status() != StatusCode::TOO_MANY_REQUESTS || !st.faults().retry_after_http_date {
        return;
    }
    let secs = resp
        .headers()
        .get(header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if let Some(secs) = secs
        && let Ok(v) = HeaderValue::from_str(&retry_after_date(secs, std::time::SystemTime::now()))
    {
        resp.headers_mut().insert(header::RETRY_AFTER, v);
    }
}

async fn sleep_latency(st: &SimState) {
    let ms = st.faults().latency_ms;
    if ms > 0 {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
}

fn kill_switch(req: &Request) -> Option<KillSwitch> {
    req.extensions()
        .get::<ConnectInfo<KillSwitch>>()
        .map(|c| c.0.clone())
}

/// `/v1` gate, in the order a gateway applies them: latency, token, rate
/// limit, then injected faults.
async fn v1_gate(State(st): State<SimState>, mut req: Request, next: Next) -> Response {
    sleep_latency(&st).await;
    let now = Instant::now();
    let Some(auth) = req.headers().get(header::AUTHORIZATION) else {
        return ApiError::unauthorized("The Authorization header is missing").into_response();
    };
    let Some(token) = auth.to_str().ok().and_then(parse_bearer) else {
        return ApiError::unauthorized("The Authorization header must be 'Bearer <token>'")
            .into_response();
    };
    let verified = st.auth().tokens.verify(token, now);
    let client = match verified {
        Ok(c) => c,
        Err(TokenError::Invalid) => {
            return ApiError::unauthorized("The access token is not valid").into_response();
        }
        Err(TokenError::Expired) => {
            return match st.faults().expired_token {
                ExpiredToken::Forbidden => ApiError::token_expired(),
                ExpiredToken::Unauthorized => ApiError::middleware(
                    StatusCode::UNAUTHORIZED,
                    "The access token has expired",
                    None,
                ),
            }
            .into_response();
        }
    };
    st.count(|c| *c.by_client.entry(client.clone()).or_default() += 1);
    let limited = st.auth().requests.check(&client, now);
    if let Err(retry) = limited {
        st.count(|c| c.rate_limited_requests += 1);
        return ApiError::too_many_requests(retry).into_response();
    }

    let faults = st.faults();
    if roll(faults.drop_rate)
        && let Some(k) = kill_switch(&req)
    {
        st.count(|c| c.dropped_connections += 1);
        k.kill();
        // Never written: the connection fails first.
        return dropped_response();
    }
    if roll(faults.rate_limit_rate) {
        st.count(|c| c.injected_rate_limits += 1);
        return ApiError::too_many_requests(faults.rate_limit_retry_after).into_response();
    }
    if roll(faults.error_rate) {
        st.count(|c| c.injected_errors += 1);
        // Gateway errors come in the middleware shape, as they do from the real gateway.
        return match rand::random_range(0..3u8) {
            0 => ApiError::internal(),
            1 => ApiError::middleware(StatusCode::BAD_GATEWAY, "Bad Gateway", None),
            _ => ApiError::middleware(StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable", None),
        }
        .into_response();
    }
    req.extensions_mut().insert(ClientId(client.clone()));
    if !st.world().scopes.is_scoped(&client) {
        return next.run(req).await;
    }
    let path = req.uri().path().to_string();
    let req = match super::scope_gate::check(&st, &client, req).await {
        Ok(req) => req,
        Err(refused) => return refused,
    };
    let answer = next.run(req).await;
    super::scope_gate::filter(&st, &client, &path, answer).await
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    let mut r = ApiError::middleware(status, error, Some(description)).into_response();
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// The token faults: a dropped connection or a 5xx in the OAuth shape, as
/// a failing token service would answer.
fn token_fault(st: &SimState, kill: Option<KillSwitch>) -> Option<Response> {
    let faults = st.faults();
    if roll(faults.token_drop_rate)
        && let Some(k) = kill
    {
        st.count(|c| c.dropped_connections += 1);
        k.kill();
        return Some(dropped_response());
    }
    if roll(faults.token_error_rate) {
        st.count(|c| c.injected_errors += 1);
        let (status, code) = [
            (StatusCode::INTERNAL_SERVER_ERROR, "server_error"),
            (StatusCode::BAD_GATEWAY, "server_error"),
            (StatusCode::SERVICE_UNAVAILABLE, "temporarily_unavailable"),
        ][rand::random_range(0..3usize)];
        return Some(oauth_error(
            status,
            code,
            "The token service failed, retry later",
        ));
    }
    None
}

/// `POST /oauth/token`: client credentials by HTTP Basic (or in the form).
async fn token(State(st): State<SimState>, req: Request) -> Response {
    sleep_latency(&st).await;
    let kill = kill_switch(&req);
    let headers = req.headers().clone();
    let body = match axum::body::to_bytes(req.into_body(), 1 << 20).await {
        Ok(b) => b,
        Err(e) => return ApiError::unreadable_body(&e).into_response(),
    };
    let now = Instant::now();
    let form = parse_form(std::str::from_utf8(&body).unwrap_or(""));
    let field = |k: &str| {
        form.iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.clone())
    };
    let creds = headers
        .get(header::AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .and_then(parse_basic)
        .or_else(|| Some((field("client_id")?, field("client_secret")?)));
    st.count_token_call(creds.as_ref().map(|c| c.0.as_str()));
    if let Some(failed) = token_fault(&st, kill) {
        return failed;
    }
    let Some((id, secret)) = creds else {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "access_denied",
            "Client credentials are required (HTTP Basic)",
        );
    };
    let mut auth = st.auth();
    // Every call naming a configured client counts, good secret or not.
    if let Err(retry) = auth.check_token_call(&id, now) {
        drop(auth);
        st.count(|c| c.rate_limited_tokens += 1);
        return ApiError::too_many_requests(retry).into_response();
    }
    if auth.clients.get(&id) != Some(&secret) {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "access_denied",
            "Unauthorized: bad client credentials",
        );
    }
    if field("grant_type").as_deref() != Some("client_credentials") {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "grant_type must be client_credentials",
        );
    }
    let ttl = auth.token_ttl;
    let access_token = auth.tokens.issue(&id, ttl, now);
    drop(auth);
    st.count(|c| c.tokens_issued += 1);
    let mut r = (
        StatusCode::OK,
        axum::Json(TokenResponse {
            access_token,
            expires_in: Some(ttl.as_secs()),
            token_type: Some("Bearer".into()),
        }),
    )
        .into_response();
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

async fn list_tenants(State(st): State<SimState>) -> Response {
    data(StatusCode::OK, st.tenants())
}

async fn get_tenant(State(st): State<SimState>, Path(tenant_id): Path<String>) -> Response {
    let w = st.world();
    match w.tenants.iter().find(|t| t.id == tenant_id) {
        Some(t) => data(
            StatusCode::OK,
            Tenant {
                id: t.id.clone(),
                name: t.name.clone(),
                instance_configurations: w.catalogue.clone(),
            },
        ),
        None => ApiError::tenant_not_found().into_response(),
    }
}

async fn list_instances(State(st): State<SimState>, RawQuery(q): RawQuery) -> Response {
    let tenant = query_param(q.as_deref(), "tenantId").filter(|t| !t.is_empty());
    let mut w = st.world();
    if let Some(t) = &tenant
        && !w.has_tenant(t)
    {
        return ApiError::tenant_not_found().into_response();
    }
    let list: Vec<_> = w
        .list(tenant.as_deref(), Instant::now())
        .into_iter()
        .map(|i| i.to_summary())
        .collect();
    data(StatusCode::OK, list)
}

async fn create_instance(State(st): State<SimState>, req: Request) -> Result<Response, ApiError> {
    require_json(req.headers())?;
    let kill = kill_switch(&req);
    let request_id = req.extensions().get::<RequestId>().map(|r| r.0.clone());
    let client = req.extensions().get::<ClientId>().map(|c| c.0.clone());
    let body = axum::body::to_bytes(req.into_body(), 1 << 20)
        .await
        .map_err(|e| ApiError::unreadable_body(&e))?;
    let obj = parse_object(&body, false)?;
    // Recorded with the answer the caller saw, so tests can read what a
    // create carried (clone sources) and how it ended.
    let record = |status: String, id: Option<&str>| {
        st.record_create(CreateRecord::new(&obj, status, id.map(str::to_string)));
    };
    let result = {
        let mut w = st.world();
        super::catalogue::parse_create(&obj, &w.tenants, &w.catalogue).and_then(|spec| {
            let flags = (spec.vector_optimized, spec.graph_analytics_plugin);
            w.create(spec, Instant::now(), false).map(|c| (c, flags))
        })
    };
    let (created, flags) = match result {
        Ok(c) => c,
        Err(e) => {
            record(e.status.as_u16().to_string(), None);
            return Err(e);
        }
    };
    st.count(|c| c.creates_committed += 1);
    tracing::info!(
        instance_id = %created.id,
        request_id = request_id.as_deref().unwrap_or(""),
        client_id = client.as_deref().unwrap_or(""),
        "simulator created instance"
    );
    if let Some(mode) = st.take_create_failure() {
        st.count(|c| c.failed_creates += 1);
        match (mode, kill) {
            (CreateFailMode::Drop, Some(k)) => {
                st.count(|c| c.dropped_connections += 1);
                record("dropped".into(), Some(&created.id));
                k.kill();
                return Ok(dropped_response());
            }
            _ => {
                let e = ApiError::internal();
                record(e.status.as_u16().to_string(), Some(&created.id));
                return Err(e);
            }
        }
    }
    record(StatusCode::ACCEPTED.as_u16().to_string(), Some(&created.id));
    Ok(data(StatusCode::ACCEPTED, created_body(&created, flags)))
}

/// The 202 of a create: the created instance with `vector_optimized` and
/// `graph_analytics_plugin` as they were set, as the spec's example has them.
fn created_body(
    created: &crate::aura::model::CreatedInstance,
    (vector_optimized, graph_analytics_plugin): (bool, bool),
) -> serde_json::Value {
    let mut v = serde_json::to_value(created).unwrap_or(serde_json::Value::Null);
    if let Some(o) = v.as_object_mut() {
        o.insert("vector_optimized".into(), vector_optimized.into());
        o.insert(
            "graph_analytics_plugin".into(),
            graph_analytics_plugin.into(),
        );
    }
    v
}

/// Answers `{"data": instance}`; storage is not reported for free instances.
fn instance_data(status: StatusCode, i: &crate::aura::model::Instance) -> Response {
    if i.instance_type.as_deref() != Some(crate::api::InstanceType::FreeDb.as_str()) {
        return data(status, i);
    }
    let mut v = serde_json::to_value(i).unwrap_or(serde_json::Value::Null);
    if let Some(o) = v.as_object_mut() {
        o.remove("storage");
    }
    data(status, v)
}

async fn get_instance(
    State(st): State<SimState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let i = st.world().get(&id, Instant::now())?.to_wire();
    Ok(instance_data(StatusCode::OK, &i))
}

async fn update_instance(
    State(st): State<SimState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    require_json(&headers)?;
    let now = Instant::now();
    let mut w = st.world();
    let at = w.placement(&id, now)?;
    let obj = parse_object(&body, false)?;
    let spec = parse_update(&obj, &at, &w.catalogue)?;
    let (rename_only, i) = w.update(&id, &spec, now)?;
    let status = if rename_only {
        StatusCode::OK
    } else {
        StatusCode::ACCEPTED
    };
    Ok(instance_data(status, &i))
}

async fn delete_instance(
    State(st): State<SimState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let i = st.world().delete(&id, Instant::now())?;
    Ok(instance_data(StatusCode::ACCEPTED, &i))
}

async fn pause_instance(
    State(st): State<SimState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    require_json(&headers)?;
    parse_object(&body, true)?;
    let i = st.world().pause(&id, Instant::now())?;
    Ok(instance_data(StatusCode::ACCEPTED, &i))
}

async fn resume_instance(
    State(st): State<SimState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    require_json(&headers)?;
    parse_object(&body, true)?;
    let i = st.world().resume(&id, Instant::now())?;
    Ok(instance_data(StatusCode::ACCEPTED, &i))
}

/// Answers 200 with the instance, as the spec documents, while it goes `updating`.
async fn upgrade_instance(
    State(st): State<SimState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    require_json(&headers)?;
    let now = Instant::now();
    let mut w = st.world();
    let at = w.placement(&id, now)?;
    let obj = parse_object(&body, true)?;
    let spec = parse_upgrade(&obj, &at, &w.catalogue)?;
    let i = w.upgrade(&id, &spec, now)?;
    Ok(instance_data(StatusCode::OK, &i))
}

/// `{source_instance_id, source_snapshot_id?}`: 202 with the instance, `overwriting`.
async fn overwrite_instance(
    State(st): State<SimState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    require_json(&headers)?;
    let obj = parse_object(&body, false)?;
    let spec = parse_overwrite(&obj)?;
    let i = st.world().overwrite(&id, &spec, Instant::now())?;
    Ok(instance_data(StatusCode::ACCEPTED, &i))
}

/// The day a snapshot list shows: `date` as `YYYY-MM-DD` (400 otherwise),
/// today (UTC) without one, as the spec says.
fn snapshot_day(date: Option<&str>) -> Result<String, ApiError> {
    match date.filter(|d| !d.is_empty()) {
        None => Ok(super::state::now_rfc3339()[..10].to_string()),
        Some(d) if is_iso_date(d) => Ok(d.to_string()),
        Some(d) => Err(ApiError::field(
            "date",
            format!("date must be an ISO date (YYYY-MM-DD), got '{d}'"),
        )),
    }
}

fn is_iso_date(d: &str) -> bool {
    let b = d.as_bytes();
    b.len() == 10 && b[4] == b'-' && b[7] == b'-' && d.parse::<jiff::civil::Date>().is_ok()
}

async fn list_snapshots(
    State(st): State<SimState>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let date = snapshot_day(query_param(q.as_deref(), "date").as_deref())?;
    let list = st.world().snapshots(&id, Some(&date), Instant::now())?;
    Ok(data(StatusCode::OK, list))
}

async fn take_snapshot(
    State(st): State<SimState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    require_json(&headers)?;
    parse_object(&body, true)?;
    let snapshot_id = st.world().take_snapshot(&id, Instant::now())?;
    if st.take_snapshot_failure() {
        return Err(ApiError::internal());
    }
    Ok(data(
        StatusCode::ACCEPTED,
        SnapshotCreated {
            snapshot_id: Some(snapshot_id),
        },
    ))
}

async fn get_snapshot(
    State(st): State<SimState>,
    Path((id, sid)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let s = st.world().snapshot(&id, &sid, Instant::now())?;
    Ok(data(StatusCode::OK, s))
}

async fn restore_snapshot(
    State(st): State<SimState>,
    Path((id, sid)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    require_json(&headers)?;
    parse_object(&body, true)?;
    let i = st.world().restore(&id, &sid, Instant::now())?;
    Ok(instance_data(StatusCode::ACCEPTED, &i))
}

/// The largest answer rewritten; anything bigger passes unchanged.
const MAX_BODY: usize = 16 * 1024 * 1024;

/// Middleware: rewrites the JSON answers of the API (never `/admin`) with the
/// quirks switched on.
async fn depart(
    State(st): State<SimState>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let quirks = st.faults().quirks.rewrites_for(req.uri().path());
    let covered = quirks.covers(req.uri().path());
    let resp = next.run(req).await;
    if !covered || !quirks.is_active() {
        return resp;
    }
    let is_json = resp
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !is_json {
        return resp;
    }
    let (mut parts, body) = resp.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_BODY).await else {
        return axum::response::Response::from_parts(parts, axum::body::Body::empty());
    };
    let rewritten = match serde_json::from_slice::<serde_json::Value>(&bytes) {
        Ok(mut v) => {
            quirks.apply(&mut v);
            serde_json::to_vec(&v).unwrap_or_else(|_| bytes.to_vec())
        }
        Err(_) => bytes.to_vec(),
    };
    parts.headers.remove(axum::http::header::CONTENT_LENGTH);
    axum::response::Response::from_parts(parts, axum::body::Body::from(rewritten))
}
