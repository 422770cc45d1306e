//! Settings: the metrics Houston watches and how each is judged. Definitions are
//! changed through the API (`PUT /api/v1/metric-definitions/{name}`) or, for teams
//! that keep them in git, `houston config apply FILE.toml`; this page shows what is in
//! force, and flags checks too noisy to see the changes their tolerance names.

use crate::api::{SetMetricCheck, get_check_sensitivity, get_metric_definitions, whoami};
use crate::components::load;
use crate::domain::{
    BaselineKind, Direction, MetricDefinition, MetricSource, Role, Sensitivity, check_summary,
};
use crate::pages::ErrorPanel;
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn MetricSettingsPage() -> impl IntoView {
    let save = ServerAction::<SetMetricCheck>::new();
    let definitions = load(move || save.version().get(), |_| get_metric_definitions());
    let sensitivity = load(|| (), |_| get_check_sensitivity());
    let me = load(|| (), |_| whoami());
    view! {
        <Title text="Metrics" />
        <div class="page-head">
            <h1>"Metrics"</h1>
            <p class="muted">
                "What Houston watches around each deploy, where the data comes from and how the judge weighs it. Change them with "
                <code>"houston config apply houston.toml"</code> ", " <code>"PUT /api/v1/metric-definitions/{name}"</code>
                " (leads and admin tokens) or, for a check, its “Edit check” here (leads and admins); every change is in the audit log. "
                "“Could see” is the smallest change each check could have caught on recent deploys: a check flagged noisy passes regressions its tolerance names."
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
                    Ok(list) => {
                        // Sharpness is a hint: without it the table still shows.
                        let sharpness = sensitivity.await.unwrap_or_default();
                        let can_edit = matches!(me.await, Ok(Some(user)) if user.role >= Role::Lead);
                        view! { <DefinitionTable list sharpness save=can_edit.then_some(save) /> }.into_any()
                    }
                    Err(error) => view! { <ErrorPanel error /> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn DefinitionTable(
    list: Vec<MetricDefinition>,
    sharpness: Vec<Sensitivity>,
    /// The way to change checks, for leads and admins.
    save: Option<ServerAction<SetMetricCheck>>,
) -> impl IntoView {
    let error = move || match save.and_then(|s| s.value().get()) {
        Some(Err(e)) => Some(view! { <p class="form-error" role="alert">{e.to_string()}</p> }),
        _ => None,
    };
    let rows = list
        .into_iter()
        .map(|d| {
            let check = check_summary(&d);
            let editor = save.map(|save| view! { <CheckEditor definition=d.clone() save /> });
            let seen = sharpness
                .iter()
                .find(|s| s.metric == d.name.as_str())
                .filter(|_| d.check.is_some())
                .cloned();
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
                    <td class="small">{check}{editor}</td>
                    <td class="small"><Sharpness seen /></td>
                </tr>
            }
        })
        .collect_view();
    view! {
        {error}
        <div class="table-wrap">
            <table data-testid="metric-definitions">
                <thead><tr>
                    <th scope="col">"Name"</th><th scope="col">"Unit"</th><th scope="col">"Source"</th>
                    <th scope="col">"Services"</th><th scope="col">"Environments"</th>
                    <th scope="col">"Check"</th>
                    <th scope="col" title="The median smallest change the check could have caught, over the latest final verdicts">"Could see"</th>
                </tr></thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
    }
}

/// What a check could see lately, flagged when far above its tolerance, with what
/// would help.
#[component]
fn Sharpness(seen: Option<Sensitivity>) -> impl IntoView {
    let Some(s) = seen else {
        return view! { <span class="muted">"—"</span> }.into_any();
    };
    let text = format!(
        "±{:.1} % (tolerance {:.1} %, {} deploys)",
        s.median_detectable * 100.0,
        s.tolerance * 100.0,
        s.deploys
    );
    if !s.noisy {
        return view! { <span data-testid="sharpness">{text}</span> }.into_any();
    }
    view! {
        <div class="noisy" data-testid="sharpness" data-noisy="true">
            <span class="badge verdict-ailing">"noisy"</span>" "{text}
            <ul>{s.suggestions.into_iter().map(|tip| view! { <li>{tip}</li> }).collect_view()}</ul>
        </div>
    }
    .into_any()
}

/// A metric's check as a form: direction (none: charted, not judged), tolerance and
/// its floor, critical, weight, minimum samples, runbook, baseline, the pipeline's
/// checks (bounds, σ from history, slope), and the reason for the audit log. Empty
/// fields take the defaults (the pipeline's checks: off).
#[component]
fn CheckEditor(definition: MetricDefinition, save: ServerAction<SetMetricCheck>) -> impl IntoView {
    let check = definition.check.clone();
    let number = |v: Option<f64>| v.map(|v| v.to_string()).unwrap_or_default();
    let direction = check.as_ref().map(|c| c.direction);
    let baseline = check.as_ref().map_or(BaselineKind::Before, |c| c.baseline);
    let direction_option =
        move |value: &'static str, label: &'static str, is: Option<Direction>| {
            view! { <option value=value selected=direction == is>{label}</option> }
        };
    let baseline_option = move |value: &'static str, label: &'static str, is: BaselineKind| {
        view! { <option value=value selected=baseline == is>{label}</option> }
    };
    let name = definition.name.to_string();
    let metric = name.clone();
    view! {
        <details class="check-editor" data-testid="check-editor" data-metric=metric>
            <summary>"Edit check"</summary>
            <ActionForm action=save attr:class="check-form">
                <input type="hidden" name="name" value=name />
                <label><span>"Direction"</span>
                    <select name="form[direction]">
                        {direction_option("", "not judged", None)}
                        {direction_option("increase_is_bad", "increase is bad", Some(Direction::IncreaseIsBad))}
                        {direction_option("decrease_is_bad", "decrease is bad", Some(Direction::DecreaseIsBad))}
                        {direction_option("both", "both ways", Some(Direction::Both))}
                    </select>
                </label>
                <label><span>"Tolerance"</span>
                    <input type="text" inputmode="decimal" name="form[tolerance]" placeholder="0.10" value=number(check.as_ref().map(|c| c.tolerance)) />
                </label>
                <label><span>"Floor"</span>
                    <input type="text" inputmode="decimal" name="form[tolerance_floor]" placeholder="0" value=number(check.as_ref().map(|c| c.tolerance_floor)) />
                </label>
                <label><span>"Weight"</span>
                    <input type="text" inputmode="decimal" name="form[weight]" placeholder="1" value=number(check.as_ref().map(|c| c.weight)) />
                </label>
                <label><span>"Min samples"</span>
                    <input type="text" inputmode="numeric" name="form[min_samples]" placeholder="10" value=number(check.as_ref().map(|c| c.min_samples as f64)) />
                </label>
                <label><span>"Baseline"</span>
                    <select name="form[baseline]">
                        {baseline_option("before", "before the deploy", BaselineKind::Before)}
                        {baseline_option("last_week", "a week earlier", BaselineKind::LastWeek)}
                        {baseline_option("control", "control group", BaselineKind::Control)}
                    </select>
                </label>
                <label title="Fails when more than 10 % of the bake's samples are below it"><span>"Min value"</span>
                    <input type="text" inputmode="decimal" name="form[min_value]" placeholder="none" value=number(check.as_ref().and_then(|c| c.min_value)) />
                </label>
                <label title="Fails when more than 10 % of the bake's samples are above it (p99 ≤ 800 ms: 800)"><span>"Max value"</span>
                    <input type="text" inputmode="decimal" name="form[max_value]" placeholder="none" value=number(check.as_ref().and_then(|c| c.max_value)) />
                </label>
                <label title="Fails when the bake's median sits more standard deviations than this from the last four hours', the bad way"><span>"Max σ from history"</span>
                    <input type="text" inputmode="decimal" name="form[max_sigma]" placeholder="none" value=number(check.as_ref().and_then(|c| c.max_sigma)) />
                </label>
                <label title="Fails when the bake's slope sits more standard deviations than this from the slopes of the history's windows, the bad way"><span>"Max slope σ"</span>
                    <input type="text" inputmode="decimal" name="form[max_slope_sigma]" placeholder="none" value=number(check.as_ref().and_then(|c| c.max_slope_sigma)) />
                </label>
                <label class="check"><input type="checkbox" name="form[critical]" value="on" checked=check.as_ref().is_some_and(|c| c.critical) />" critical"</label>
                <label class="wide"><span>"Runbook"</span>
                    <input type="url" name="form[runbook]" placeholder="https://…" value=check.as_ref().and_then(|c| c.runbook.clone()).unwrap_or_default() />
                </label>
                <label class="wide"><span>"Reason (for the audit log)"</span>
                    <input type="text" name="reason" autocomplete="off" />
                </label>
                <button type="submit" class="button small" disabled=move || save.pending().get()>"Save check"</button>
            </ActionForm>
        </details>
    }
}
