//! The deploy status badge and the judge's verdict badge.

use crate::domain::{DeployStatus, VerdictState};
use leptos::prelude::*;

#[component]
pub fn StatusBadge(status: DeployStatus) -> impl IntoView {
    let class = format!("badge status-{}", status.as_str());
    view! { <span class=class>{status.label()}</span> }
}

/// The judge's state; while baking, what it reads so far (`baking · healthy so far`).
#[component]
pub fn VerdictBadge(
    state: VerdictState,
    #[prop(optional)] provisional: Option<VerdictState>,
) -> impl IntoView {
    let class = format!("badge verdict-{}", state.as_str());
    let text = match (state, provisional) {
        (VerdictState::Baking, Some(reading)) => {
            format!("baking · {} so far", verdict_label(reading))
        }
        _ => verdict_label(state).to_owned(),
    };
    view! { <span class=class data-verdict=state.as_str()>{text}</span> }
}

pub fn verdict_label(state: VerdictState) -> &'static str {
    match state {
        VerdictState::Baking => "baking",
        VerdictState::Healthy => "healthy",
        VerdictState::Ailing => "ailing",
        VerdictState::Unhealthy => "unhealthy",
        VerdictState::NoData => "no data",
    }
}
