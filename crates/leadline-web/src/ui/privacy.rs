//! A person's rights on the lead page: download everything about them (JSON or CSV) and
//! erase them, with a typed confirmation.

use super::error_page;
use crate::api::imports::csv_attachment;
use crate::auth::UiAuth;
use crate::state::AppState;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Redirect, Response};
use leadline_app::privacy::export_csv;
use serde::Deserialize;
use uuid::Uuid;

/// The export as a JSON download.
pub async fn export_json(
    State(s): State<AppState>,
    auth: UiAuth,
    Path(id): Path<Uuid>,
) -> Response {
    match s.app.export_person(&auth.principal, id).await {
        Ok(export) => {
            let mut res = axum::Json(export).into_response();
            if let Ok(v) =
                HeaderValue::from_str(&format!("attachment; filename=\"person-{id}.json\""))
            {
                res.headers_mut().insert(header::CONTENT_DISPOSITION, v);
            }
            res
        }
        Err(e) => error_page(e),
    }
}

/// The export as a CSV download.
pub async fn export_csv_file(
    State(s): State<AppState>,
    auth: UiAuth,
    Path(id): Path<Uuid>,
) -> Response {
    match s.app.export_person(&auth.principal, id).await {
        Ok(export) => csv_attachment(
            export_csv(&export).into_bytes(),
            &format!("person-{id}.csv"),
        ),
        Err(e) => error_page(e),
    }
}

#[derive(Deserialize)]
pub struct EraseForm {
    confirm: String,
}

/// Erases the person once the admin typed ERASE.
pub async fn erase(
    State(s): State<AppState>,
    auth: UiAuth,
    Path(id): Path<Uuid>,
    Form(f): Form<EraseForm>,
) -> Response {
    if f.confirm.trim() != "ERASE" {
        return Redirect::to(&format!("/leads/{id}?done=erase_unconfirmed#privacy"))
            .into_response();
    }
    match s.app.erase_person(&auth.principal, id).await {
        Ok(_) => Redirect::to(&format!("/leads/{id}?done=erased")).into_response(),
        Err(e) => error_page(e),
    }
}
