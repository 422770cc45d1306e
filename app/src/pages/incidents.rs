//! Incidents: the list with a way to declare one, and one incident with the deploys
//! suspected of causing it, each with its evidence and a person's word on it.

use crate::api::{
    DecideIncidentCause, DeclareIncident, IncidentView, MoveIncident, get_incident, list_incidents,
};
use crate::components::{
    TimeAgo, absolute_time, load, safe_link, use_live_refresh, use_lock_refresh,
};
use crate::domain::{CauseDecision, Incident, IncidentSource, IncidentState, Severity, Suspect};
use crate::error::AppError;
use crate::pages::ErrorPanel;
use chrono::{DateTime, Utc};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_navigate, use_params_map};

fn severity_class(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical | Severity::High => "badge status-failed",
        Severity::Medium => "badge status-rolled_back",
        Severity::Low => "badge",
    }
}

fn state_class(state: IncidentState) -> &'static str {
    match state {
        IncidentState::Open => "badge status-failed",
        IncidentState::Acknowledged => "badge status-rolled_back",
        IncidentState::Resolved => "badge status-succeeded",
    }
}

/// "checkout, payments in production", or "every service in every environment".
fn places(incident: &Incident) -> String {
    let (services, environments) = incident.places_in_words();
    format!("{services} in {environments}")
}

/// The message of a failed action, for the form that sent it.
fn failure<T>(value: Option<Result<T, AppError>>) -> Option<String> {
    match value {
        Some(Err(error)) => Some(error.to_string()),
        _ => None,
    }
}

#[component]
pub fn IncidentsPage() -> impl IntoView {
    let declare = ServerAction::<DeclareIncident>::new();
    // Incidents move by webhook too: open pages hear of it as of a lock.
    let (moved, _) = use_lock_refresh();
    let incidents = load(
        move || (moved.get(), declare.version().get()),
        |_| list_incidents(false),
    );
    let navigate = use_navigate();
    Effect::new(move |_| {
        if let Some(Ok(id)) = declare.value().get() {
            navigate(&format!("/incidents/{id}"), Default::default());
        }
    });
    view! {
        <Title text="Incidents" />
        <div class="page-head">
            <h1>"Incidents"</h1>
            <p class="muted">"From PagerDuty, an incident webhook or declared here, newest first. Open one for the deploys suspected of causing it."</p>
        </div>
        <details class="panel declare-incident">
            <summary>"Declare an incident"</summary>
            <ActionForm action=declare attr:class="inline-form" attr:data-testid="declare-incident">
                <label class="grow"><span>"Title"</span><input type="text" name="title" required maxlength="500" placeholder="Checkout errors after the 14:00 release" /></label>
                <label>
                    <span>"Severity"</span>
                    <select name="severity">
                        <option value="critical">"critical"</option>
                        <option value="high" selected>"high"</option>
                        <option value="medium">"medium"</option>
                        <option value="low">"low"</option>
                    </select>
                </label>
                <label><span>"Services (comma-separated; none: all)"</span><input type="text" name="services" placeholder="checkout" /></label>
                <label><span>"Environments"</span><input type="text" name="environments" placeholder="production" /></label>
                <button type="submit" class="button" disabled=move || declare.pending().get()>"Declare"</button>
            </ActionForm>
            {move || failure(declare.value().get()).map(|m| view! { <p class="form-error" role="alert">{m}</p> })}
        </details>
        <Transition fallback=|| view! { <p class="muted">"Loading incidents…"</p> }>
            {move || Suspend::new(async move {
                match incidents.await {
                    Ok(read) if read.value.is_empty() => view! {
                        <p class="panel muted">"No incidents yet. Connect PagerDuty ("<code>"POST /api/v1/webhooks/pagerduty"</code>") or declare one above."</p>
                    }.into_any(),
                    Ok(read) => view! { <IncidentTable incidents=read.value now=read.now /> }.into_any(),
                    Err(error) => view! { <ErrorPanel error /> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn IncidentTable(incidents: Vec<Incident>, now: DateTime<Utc>) -> impl IntoView {
    let rows = incidents
        .into_iter()
        .map(|i| {
            let href = format!("/incidents/{}", i.id);
            view! {
                <tr data-testid="incident-row">
                    <td class="num"><a href=href.clone()>{i.id}</a></td>
                    <td><a href=href>{i.title.clone()}</a></td>
                    <td><span class=severity_class(i.severity)>{i.severity.as_str()}</span></td>
                    <td><span class=state_class(i.state)>{i.state.as_str()}</span></td>
                    <td>{places(&i)}</td>
                    <td><TimeAgo at=i.opened_at now /></td>
                    <td>{i.source.as_str()}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <div class="table-wrap">
            <table class="incidents">
                <thead><tr>
                    <th scope="col" class="num">"#"</th><th scope="col">"Title"</th><th scope="col">"Severity"</th>
                    <th scope="col">"State"</th><th scope="col">"Where"</th><th scope="col">"Opened"</th><th scope="col">"From"</th>
                </tr></thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
    }
}

#[component]
pub fn IncidentPage() -> impl IntoView {
    let params = use_params_map();
    let id = Memo::new(move |_| params.with(|p| p.get("id").and_then(|id| id.parse::<i64>().ok())));
    let decide = ServerAction::<DecideIncidentCause>::new();
    let moved_here = ServerAction::<MoveIncident>::new();
    let (moved, _) = use_lock_refresh();
    let deploys = use_live_refresh(|_| true);
    let read = load(
        move || {
            (
                id.get(),
                moved.get(),
                deploys.get(),
                decide.version().get(),
                moved_here.version().get(),
            )
        },
        |(id, ..)| async move {
            match id {
                Some(id) => get_incident(id).await,
                None => Err(AppError::not_found("incident ids are whole numbers")),
            }
        },
    );
    view! {
        <Transition fallback=|| view! { <p class="muted">"Loading the incident…"</p> }>
            {move || Suspend::new(async move {
                match read.await {
                    Ok(read) => view! { <IncidentDetail view=read.value now=read.now decide moved_here /> }.into_any(),
                    Err(error) => view! { <Title text="Incident not found" /><ErrorPanel error /> }.into_any(),
                }
            })}
        </Transition>
        {move || failure(decide.value().get()).or_else(|| failure(moved_here.value().get())).map(|m| view! { <p class="form-error" role="alert">{m}</p> })}
    }
}

#[component]
fn IncidentDetail(
    view: IncidentView,
    now: DateTime<Utc>,
    decide: ServerAction<DecideIncidentCause>,
    moved_here: ServerAction<MoveIncident>,
) -> impl IntoView {
    let i = view.incident;
    let id = i.id;
    let title = format!("Incident {id}: {}", i.title);
    let link = i.link.as_deref().and_then(safe_link).map(|href| {
        view! { <a href=href rel="noopener noreferrer">{format!("Open in {}", i.source.as_str())}</a> }
    });
    let moves = (i.source == IncidentSource::Declared && i.state != IncidentState::Resolved).then(|| {
        let acknowledge = (i.state == IncidentState::Open).then(|| view! {
            <ActionForm action=moved_here attr:class="row-form">
                <input type="hidden" name="id" value=id />
                <input type="hidden" name="state" value="acknowledged" />
                <button type="submit" class="button ghost small">"Acknowledge"</button>
            </ActionForm>
        });
        view! {
            <div class="incident-moves">
                {acknowledge}
                <ActionForm action=moved_here attr:class="row-form">
                    <input type="hidden" name="id" value=id />
                    <input type="hidden" name="state" value="resolved" />
                    <button type="submit" class="button small" data-testid="resolve-incident">"Resolve"</button>
                </ActionForm>
            </div>
        }
    });
    let hours = view.window_minutes / 60;
    let suspects = if view.suspects.is_empty() {
        view! { <p class="muted">{format!("No deploy went out in the {hours} h before the incident opened.")}</p> }.into_any()
    } else {
        view! {
            <ol class="suspects" data-testid="suspects">
                {view.suspects.into_iter().map(|s| view! { <SuspectItem suspect=s incident=id decide /> }).collect_view()}
            </ol>
        }
        .into_any()
    };
    view! {
        <Title text=title.clone() />
        <p class="crumbs"><a href="/incidents">"Incidents"</a> " / " {format!("incident {id}")}</p>
        <div class="page-head detail-head">
            <h1 data-testid="incident-title">{title}</h1>
            <span class=severity_class(i.severity)>{i.severity.as_str()}</span>
            <span class=state_class(i.state) data-testid="incident-state">{i.state.as_str()}</span>
            {moves}
        </div>
        <section class="panel">
            <dl class="facts">
                <div><dt>"Where"</dt><dd data-testid="incident-places">{places(&i)}</dd></div>
                <div><dt>"Opened"</dt><dd>{absolute_time(i.opened_at)} " (" <TimeAgo at=i.opened_at now /> ")"</dd></div>
                <div><dt>"Reported by"</dt><dd>{i.opened_by.clone()}</dd></div>
                <div><dt>"Acknowledged"</dt><dd>{i.acknowledged_at.map(absolute_time).unwrap_or_else(|| "not yet".into())}</dd></div>
                <div><dt>"Resolved"</dt><dd>{i.resolved_at.map(absolute_time).unwrap_or_else(|| "not yet".into())}</dd></div>
                <div><dt>"From"</dt><dd>{i.source.as_str()} " " {link}</dd></div>
            </dl>
            <p class="incident-links">
                <a class="button ghost small" href=format!("/timeline?incident={id}") data-testid="incident-timeline">"Timeline"</a>
                " "
                <a class="button ghost small" href=format!("/api/v1/incidents/{id}/export?format=markdown") data-testid="export-markdown" rel="external">"Export Markdown"</a>
                " "
                <a class="button ghost small" href=format!("/api/v1/incidents/{id}/export") rel="external">"Export JSON"</a>
            </p>
        </section>
        <section class="panel">
            <h2>"Which deploy broke it?"</h2>
            <p class="muted small">{format!("Deploys of the {hours} h before it opened, most suspect first: its own place first, then how close before it, its verdict, new error groups and alerts after it. Confirm the cause and its deploy says \"caused incident {id}\".")}</p>
            {suspects}
        </section>
    }
}

#[component]
fn SuspectItem(
    suspect: Suspect,
    incident: i64,
    decide: ServerAction<DecideIncidentCause>,
) -> impl IntoView {
    let s = suspect;
    let word = s.cause.map(|c| match c {
        CauseDecision::Confirmed => view! { <span class="badge status-failed" data-testid="cause-confirmed">"confirmed cause"</span> }.into_any(),
        CauseDecision::Rejected => view! { <span class="badge">"ruled out"</span> }.into_any(),
    });
    let button = |decision: CauseDecision, text: &'static str, class: &'static str| {
        (s.cause != Some(decision)).then(|| view! {
            <ActionForm action=decide attr:class="row-form">
                <input type="hidden" name="incident" value=incident />
                <input type="hidden" name="deploy" value=s.deploy_id />
                <input type="hidden" name="decision" value=decision.as_str() />
                <button type="submit" class=class data-testid=format!("cause-{}", decision.as_str())>{text}</button>
            </ActionForm>
        })
    };
    view! {
        <li class="suspect" class:confirmed=s.cause == Some(CauseDecision::Confirmed) data-testid="suspect" data-deploy=s.deploy_id>
            <div class="suspect-head">
                <a href=format!("/deploys/{}", s.deploy_id)>
                    {format!("#{} {} {} → {}", s.deploy_id, s.service, s.version, s.environment)}
                </a>
                <span class="muted small">" went out " {absolute_time(s.deployed_at)}</span>
                {word}
                <span class="suspect-actions">
                    {button(CauseDecision::Confirmed, "Confirm cause", "button small")}
                    {button(CauseDecision::Rejected, "Rule out", "button ghost small")}
                </span>
            </div>
            <ul class="reasons">
                {s.reasons.into_iter().map(|r| view! { <li>{r}</li> }).collect_view()}
            </ul>
        </li>
    }
}
