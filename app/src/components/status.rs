//! The deploy status badge.

use crate::domain::DeployStatus;
use leptos::prelude::*;

#[component]
pub fn StatusBadge(status: DeployStatus) -> impl IntoView {
    let class = format!("badge status-{}", status.as_str());
    view! { <span class=class>{status.label()}</span> }
}
