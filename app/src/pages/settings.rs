//! Settings: the metrics Houston watches. Definitions are changed through the API
//! (`PUT /api/v1/metric-definitions/{name}`) or, for teams that keep them in git,
//! `houston config apply FILE.toml`; this page shows what is in force.

use crate::api::get_metric_definitions;
use crate::domain::{MetricDefinition, MetricSource};
use crate::pages::ErrorPanel;
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn MetricSettingsPage() -> impl IntoView {
    let definitions = Resource::new(|| (), |_| get_metric_definitions());
    view! {
        <Title text="Metrics" />
        <div class="page-head">
            <h1>"Metrics"</h1>
            <p class="muted">
                "What Houston watches around each deploy, and where the data comes from. Change them with "
                <code>"houston config apply houston.toml"</code> " or " <code>"PUT /api/v1/metric-definitions/{name}"</code>
                " (leads and admin tokens); every change is in the audit log."
            </p>
        </div>
        <Transition fallback=|| view! { <p class="muted">"Loading the metrics…"</p> }>
            {move || Suspend::new(async move {
                match definitions.await {
                    Ok(list) if list.is_empty() => view! {
                        <div class="panel empty">
                            <h2>"No metrics defined"</h2>
                            <p>"Pushed metrics still chart on deploy pages. Define one to give it a unit, or to read it from Prometheus with a PromQL template."</p>
                        </div>
                    }.into_any(),
                    Ok(list) => view! { <DefinitionTable list /> }.into_any(),
                    Err(error) => view! { <ErrorPanel error /> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn DefinitionTable(list: Vec<MetricDefinition>) -> impl IntoView {
    let rows = list
        .into_iter()
        .map(|d| {
            let (source, query) = match d.source {
                MetricSource::Push => ("push", None),
                MetricSource::Prometheus { query } => ("prometheus", Some(query)),
            };
            let environments = d.environments.map_or_else(
                || "all".to_owned(),
                |list| {
                    list.iter()
                        .map(|e| e.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                },
            );
            let services = if d.services == ["*"] {
                "all".to_owned()
            } else {
                d.services.join(", ")
            };
            view! {
                <tr>
                    <td><code>{d.name.to_string()}</code></td>
                    <td>{d.unit}</td>
                    <td>{source}{query.map(|q| view! { <code class="sub query">{q}</code> })}</td>
                    <td>{services}</td>
                    <td>{environments}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <div class="table-wrap">
            <table data-testid="metric-definitions">
                <thead><tr>
                    <th scope="col">"Name"</th><th scope="col">"Unit"</th><th scope="col">"Source"</th>
                    <th scope="col">"Services"</th><th scope="col">"Environments"</th>
                </tr></thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
    }
}
