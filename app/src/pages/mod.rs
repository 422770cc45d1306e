//! One file per route.

mod admin;
mod deploy_detail;
mod history;
mod incidents;
mod locks;
mod login;
mod mission_control;
mod not_found;
mod settings;
mod setup;
pub(crate) mod timeline;

pub use admin::{AdminAuditPage, AdminNotificationsPage, AdminTokensPage, AdminUsersPage};
pub use deploy_detail::DeployDetailPage;
pub use history::HistoryPage;
pub use incidents::{IncidentPage, IncidentsPage};
pub use locks::LocksPage;
pub use login::{AccountPage, LoginPage};
pub use mission_control::MissionControlPage;
pub use not_found::NotFoundPage;
pub use settings::MetricSettingsPage;
pub use setup::SetupPage;
pub use timeline::TimelinePage;

use crate::error::AppError;
use leptos::prelude::*;

/// How a page shows an error from its server function.
#[component]
pub fn ErrorPanel(error: AppError) -> impl IntoView {
    let title = match &error {
        AppError::NotFound { .. } => "Not found",
        AppError::Validation { .. } => "That request is not valid",
        AppError::Unauthorized { .. } => "Sign in to see this",
        AppError::Forbidden { .. } => "Your role does not allow this",
        AppError::RateLimited { .. } => "Too many attempts",
        AppError::Unavailable { .. } => "Houston is busy",
        _ => "Something went wrong",
    };
    view! {
        <div class="panel error-panel" role="alert">
            <h2>{title}</h2>
            <p>{error.to_string()}</p>
        </div>
    }
}
