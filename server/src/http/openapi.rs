//! The OpenAPI document, generated from the handlers' annotations.

use axum::Json;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(title = "Houston API", description = "Deploy mission control: register deploys, query history, send metrics, errors and alerts, receive webhooks, lock deploys and ask the gate."),
    paths(
        super::deploys::register,
        super::deploys::set_status,
        super::deploys::list,
        super::deploys::get_one,
        super::deploys::get_verdict,
        super::deploys::override_verdict,
        super::github::receive,
        super::audit::list,
        super::signals::push_metrics,
        super::signals::read_metric,
        super::signals::push_errors,
        super::signals::list_errors,
        super::signals::alertmanager,
        super::signals::list_alerts,
        super::definitions::list,
        super::definitions::put,
        super::definitions::delete,
        super::definitions::dry_run,
        super::locks::place,
        super::locks::list,
        super::locks::unlock,
        super::locks::grant_override,
        super::locks::list_overrides,
        super::locks::gate,
        super::locks::claim,
        super::incidents::declare,
        super::incidents::list,
        super::incidents::get_one,
        super::incidents::suspects,
        super::incidents::export,
        super::incidents::decide_cause,
        super::incidents::pagerduty,
        super::incidents::incident_webhook,
        super::incidents::incident_io,
        super::incidents::opsgenie,
        super::incidents::timeline,
    ),
    components(schemas(app::domain::Commit, app::domain::CommitRequest, app::domain::FieldError, app::domain::SeriesRequest, app::domain::ErrorEventRequest, app::domain::ErrorGroup, app::domain::ErrorLevel, app::domain::AlertmanagerAlert, app::domain::AlertState, app::domain::MetricSource, app::domain::GateRule, app::domain::GateReason, app::domain::OverrideClaim, app::domain::Severity, app::domain::IncidentState, app::domain::IncidentSource, app::domain::Suspect, app::domain::CauseDecision)),
    modifiers(&BearerAuth),
    tags((name = "deploys", description = "Deploy registration and history"), (name = "signals", description = "Metrics, error events and alerts around deploys"), (name = "webhooks", description = "Events from other tools"), (name = "audit", description = "The append-only audit log"), (name = "locks", description = "Locks, break-glass overrides and the deploy gate CI asks"), (name = "incidents", description = "Incidents, and the deploys suspected of causing them"))
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

pub async fn serve() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
