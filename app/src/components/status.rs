//! The deploy status badge and the judge's verdict badge.

use crate::domain::{DeployStatus, VerdictState, VerdictSummary};
use chrono::{DateTime, Utc};
use leptos::either::Either;
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
    state.label()
}

/// A deploy row's verdict: the badge (while baking, how far through the bake and the
/// reading so far; a lead's override marked as such) and the deltas beside it — the
/// error-rate change, new error groups, the worst metric change.
#[component]
pub fn RowVerdict(verdict: Option<VerdictSummary>, now: DateTime<Utc>) -> impl IntoView {
    let Some(v) = verdict else {
        return Either::Left(view! { <span class="muted" title="Not judged">"—"</span> });
    };
    let shown = v.shown_state();
    let class = format!("badge verdict-{}", shown.as_str());
    let text = match (v.override_state, v.state, v.provisional) {
        (Some(lead), _, _) => format!("{} · overridden", verdict_label(lead)),
        (None, VerdictState::Baking, reading) => {
            let progress = v
                .headline
                .bake_progress(now)
                .map(|p| format!(" {:.0} %", p * 100.0))
                .unwrap_or_default();
            let so_far = reading
                .map(|r| format!(" · {} so far", verdict_label(r)))
                .unwrap_or_default();
            format!("baking{progress}{so_far}")
        }
        (None, state, _) => verdict_label(state).to_owned(),
    };
    let title = v
        .override_state
        .map(|_| format!("The judge: {}", verdict_label(v.state)));
    let groups = v.headline.new_error_groups;
    let new_groups = (groups > 0).then(|| {
        let text = if groups == 1 {
            "1 new error group".to_owned()
        } else {
            format!("{groups} new error groups")
        };
        view! { <span class="delta bad">{text}</span> }
    });
    let cant_tell = (!v.headline.cant_tell.is_empty()).then(|| {
        view! {
            <span
                class="delta unsure"
                data-testid="cant-tell"
                title="Past the tolerance, within the metric's noise: the judge could not tell"
            >
                {format!("can't tell: {}", v.headline.cant_tell.join(", "))}
            </span>
        }
    });
    let deltas = v
        .headline
        .deltas
        .iter()
        .map(|d| {
            let class = if d.failed { "delta bad" } else { "delta" };
            view! { <span class=class>{format!("{} {}", d.metric, d.change_text())}</span> }
        })
        .collect_view();
    // Erased: the row's view type is nested inside every table that lists deploys,
    // and the release hydrate build's lazy pages hit the compiler's depth limit.
    let deltas = view! { <span class="deltas">{deltas}{new_groups}{cant_tell}</span> }.into_any();
    Either::Right(view! {
        <span class="row-verdict" data-testid="row-verdict" data-verdict=shown.as_str()>
            <span class=class title=title>{text}</span>
            {deltas}
        </span>
    })
}
