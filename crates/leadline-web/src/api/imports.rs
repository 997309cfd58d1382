//! CSV imports over the API: dry run, start, progress, error report, resume.

use crate::auth::ApiAuth;
use crate::error::{ApiError, ApiResult, Problem};
use crate::state::AppState;
use axum::Json;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use leadline_app::capture::import::ImportPreview;
use leadline_domain::capture::import::{ImportJob, ImportOptions};
use serde::Deserialize;
use uuid::Uuid;

/// Largest CSV file accepted over HTTP.
pub const MAX_IMPORT_BYTES: usize = 64 * 1024 * 1024;

/// `?dry_run=true` checks the file and imports nothing.
#[derive(Deserialize, utoipa::IntoParams)]
pub struct ImportQuery {
    #[serde(default)]
    pub dry_run: bool,
}

/// The multipart body of `POST /imports` (documentation only).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct ImportUpload {
    /// The CSV file.
    #[schema(format = Binary, value_type = String)]
    file: Vec<u8>,
    /// [`ImportOptions`] as JSON (optional).
    options: Option<ImportOptions>,
}

/// Why an uploaded file could not be read.
pub enum FileError {
    /// Over [`MAX_IMPORT_BYTES`].
    TooLarge,
    /// The multipart stream broke off or was malformed.
    Unreadable(String),
}

/// Reads a file part chunk by chunk, refusing it as soon as it passes
/// [`MAX_IMPORT_BYTES`]: however much is sent, no more than the limit is kept.
pub async fn read_file(
    mut field: axum::extract::multipart::Field<'_>,
) -> Result<Vec<u8>, FileError> {
    let mut out = Vec::new();
    loop {
        match field.chunk().await {
            Ok(Some(c)) => {
                if out.len() + c.len() > MAX_IMPORT_BYTES {
                    return Err(FileError::TooLarge);
                }
                out.extend_from_slice(&c);
            }
            Ok(None) => return Ok(out),
            Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                return Err(FileError::TooLarge);
            }
            Err(e) => return Err(FileError::Unreadable(e.body_text())),
        }
    }
}

/// True when the request declares a body larger than an upload may be: refused before a
/// byte of it is read.
pub fn declared_too_large(headers: &axum::http::HeaderMap) -> bool {
    headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .is_some_and(|n| n > MAX_IMPORT_BYTES as u64 + 64 * 1024)
}

fn too_large() -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload-too-large",
        "Payload too large",
        format!("the file exceeds {MAX_IMPORT_BYTES} bytes"),
    )
}

/// Reads the `file` and `options` parts.
pub async fn read_upload(mut mp: Multipart) -> ApiResult<(String, Vec<u8>, ImportOptions)> {
    let mut file = None;
    let mut options = ImportOptions::default();
    while let Some(field) = mp
        .next_field()
        .await
        .map_err(|e| ApiError::bad_request("unreadable-upload", e.body_text()))?
    {
        match field.name() {
            Some("file") => {
                let name = field.file_name().unwrap_or("import.csv").to_owned();
                let bytes = read_file(field).await.map_err(|e| match e {
                    FileError::TooLarge => too_large(),
                    FileError::Unreadable(why) => ApiError::bad_request("unreadable-upload", why),
                })?;
                file = Some((name, bytes));
            }
            Some("options") => {
                let text = field
                    .text()
                    .await
                    .map_err(|e| ApiError::bad_request("unreadable-upload", e.body_text()))?;
                if !text.trim().is_empty() {
                    options = serde_json::from_str(&text).map_err(|e| {
                        ApiError::new(
                            StatusCode::UNPROCESSABLE_ENTITY,
                            "validation",
                            "Invalid input",
                            format!("options: {e}"),
                        )
                    })?;
                }
            }
            _ => {}
        }
    }
    let (name, bytes) = file.ok_or_else(|| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation",
            "Invalid input",
            "send the CSV as a multipart part named 'file'",
        )
    })?;
    Ok((name, bytes, options))
}

/// Import leads from a CSV file (multipart: `file`, optional `options` JSON).
///
/// With `dry_run=true` answers `200` with an [`ImportPreview`]: the mapping (suggested from
/// Salesforce, HubSpot and Mautic headers), the custom fields it would create, sample rows
/// and every problem. Otherwise answers `202` with the job, which runs in the background;
/// poll `GET /imports/{id}`. Re-importing a file creates no duplicates (duplicate policy
/// `skip` by default); a job interrupted by a crash resumes where it stopped.
#[utoipa::path(post, path = "/imports", tag = "capture", params(ImportQuery),
    request_body(content = ImportUpload, content_type = "multipart/form-data"),
    responses((status = 202, body = ImportJob), (status = 200, body = ImportPreview),
        (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn create_import(
    State(s): State<AppState>,
    ApiAuth(p): ApiAuth,
    Query(q): Query<ImportQuery>,
    headers: axum::http::HeaderMap,
    mp: Multipart,
) -> ApiResult<Response> {
    if declared_too_large(&headers) {
        return Err(too_large());
    }
    let (name, bytes, options) = read_upload(mp).await?;
    if q.dry_run {
        let preview = s.app.preview_import(&p, &bytes, &options).await?;
        return Ok(Json(preview).into_response());
    }
    let job = s.app.create_import(&p, &name, &bytes, options).await?;
    spawn_run(&s, job.id);
    Ok((StatusCode::ACCEPTED, Json(job)).into_response())
}

/// Runs an import in the background, then verifies the leads it created.
pub fn spawn_run(s: &AppState, id: Uuid) {
    s.app.spawn_import(id);
}

/// The newest import jobs.
#[utoipa::path(get, path = "/imports", tag = "capture", responses((status = 200, body = Vec<ImportJob>)), security(("bearer" = [])))]
pub async fn list_imports(
    State(s): State<AppState>,
    ApiAuth(p): ApiAuth,
) -> ApiResult<Json<Vec<ImportJob>>> {
    Ok(Json(s.app.import_jobs(&p).await?))
}

/// One import job with its progress.
#[utoipa::path(get, path = "/imports/{id}", tag = "capture", params(("id" = Uuid, Path)),
    responses((status = 200, body = ImportJob), (status = 404, body = Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
pub async fn get_import(
    State(s): State<AppState>,
    ApiAuth(p): ApiAuth,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<ImportJob>> {
    Ok(Json(s.app.import_job(&p, id).await?))
}

/// Resume a failed or interrupted import.
#[utoipa::path(post, path = "/imports/{id}/resume", tag = "capture", params(("id" = Uuid, Path)),
    responses((status = 202, body = ImportJob)), security(("bearer" = [])))]
pub async fn resume_import(
    State(s): State<AppState>,
    ApiAuth(p): ApiAuth,
    Path(id): Path<Uuid>,
) -> ApiResult<(StatusCode, Json<ImportJob>)> {
    let job = s.app.import_job(&p, id).await?;
    spawn_run(&s, job.id);
    Ok((StatusCode::ACCEPTED, Json(job)))
}

/// The per-row problems of an import as CSV (row, column, code, message, raw row).
#[utoipa::path(get, path = "/imports/{id}/errors.csv", tag = "capture", params(("id" = Uuid, Path)),
    responses((status = 200, content_type = "text/csv", body = String)), security(("bearer" = [])))]
pub async fn import_errors(
    State(s): State<AppState>,
    ApiAuth(p): ApiAuth,
    Path(id): Path<Uuid>,
) -> ApiResult<Response> {
    let csv = s.app.import_error_report(&p, id).await?;
    Ok(csv_attachment(csv, &format!("import-{id}-errors.csv")))
}

/// A CSV file download.
pub fn csv_attachment(csv: Vec<u8>, file_name: &str) -> Response {
    let mut res = csv.into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{file_name}\"")) {
        res.headers_mut().insert(header::CONTENT_DISPOSITION, v);
    }
    res
}
