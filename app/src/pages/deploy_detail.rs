//! One deploy: what, where, who, when, how it went, and the commits it shipped.

use crate::api::{
    AsOf, DeploySignals, OverrideDeployVerdict, get_deploy, get_deploy_signals, get_deploy_verdict,
    whoami,
};
use crate::components::{
    Loaded, MetricChartView, StatusBadge, TimeAgo, VerdictBadge, Version, absolute_time,
    human_duration, load, safe_link, short_version, use_live_refresh,
};
use crate::domain::{
    CheckReceipt, CheckState, Commit, DeployDetail, DeployId, ErrorGroup, GuardKind, Role, Verdict,
    VerdictState,
};
use crate::error::AppError;
use crate::pages::ErrorPanel;
use chrono::{DateTime, Utc};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

#[component]
pub fn DeployDetailPage() -> impl IntoView {
    let params = use_params_map();
    let id = Memo::new(move |_| params.with(|p| p.get("id").and_then(|id| id.parse::<i64>().ok())));
    // Only changes to this deploy refetch it.
    let revision = use_live_refresh(move |change| Some(change.deploy) == id.get_untracked());
    let detail = load(
        move || (id.get(), revision.get()),
        |(id, _)| async move {
            match id {
                Some(id) => get_deploy(id).await,
                None => Err(AppError::not_found("deploy ids are whole numbers")),
            }
        },
    );
    let verdict = load(
        move || (id.get(), revision.get()),
        |(id, _)| async move {
            match id {
                Some(id) => get_deploy_verdict(id).await,
                None => Err(AppError::not_found("deploy ids are whole numbers")),
            }
        },
    );
    // Whether the reader may override the verdict (leads and admins see the form).
    let me = load(|| (), |_| whoami());
    // The place's lock, shown live with its lock or unlock dialog.
    let standing = crate::components::use_locks_in_force();
    // Signals load on their own: a slow Prometheus does not hold up the page.
    let signals = load(
        move || (id.get(), revision.get()),
        |(id, _)| async move {
            match id {
                Some(id) => get_deploy_signals(id).await,
                None => Err(AppError::not_found("deploy ids are whole numbers")),
            }
        },
    );
    view! {
        <Transition fallback=|| view! { <p class="muted">"Loading the deploy…"</p> }>
            {move || Suspend::new(async move {
                match detail.await {
                    Ok(read) => view! { <DeployView detail=read.value now=read.now verdict me standing /> }.into_any(),
                    Err(error) => view! { <Title text="Deploy not found" /><ErrorPanel error /> }.into_any(),
                }
            })}
        </Transition>
        <Transition fallback=|| view! { <p class="muted">"Loading metrics and errors…"</p> }>
            {move || Suspend::new(async move {
                match signals.await {
                    Ok(read) => view! { <SignalsView signals=read.value /> }.into_any(),
                    Err(_) => ().into_any(),
                }
            })}
        </Transition>
    }
}

/// Charts of every metric with data around the deploy, and the errors seen then.
#[component]
fn SignalsView(signals: DeploySignals) -> impl IntoView {
    let (from, to) = (signals.from.timestamp(), signals.to.timestamp());
    let started = signals.started_at.timestamp();
    let finished = signals.finished_at.map(|f| f.timestamp());
    let window = format!(
        "{} to {}",
        absolute_time(signals.from),
        absolute_time(signals.to)
    );
    let charts = if signals.charts.is_empty() {
        view! {
            <p class="muted">
                "No metrics for this service and environment in this window. Push samples to "
                <code>"POST /api/v1/metrics"</code> " or define a Prometheus metric ("
                <code>"houston config apply"</code> ")."
            </p>
        }
        .into_any()
    } else {
        signals
            .charts
            .into_iter()
            .map(|chart| view! { <MetricChartView chart from to started finished /> })
            .collect_view()
            .into_any()
    };
    let errors = signals.errors;
    let error_count = errors.len();
    view! {
        <section class="panel" data-testid="metrics">
            <h2>"Metrics around the deploy"</h2>
            <p class="muted small">{window}</p>
            <div class="charts">{charts}</div>
        </section>
        <section class="panel" data-testid="errors">
            <h2>{format!("Errors around the deploy ({error_count})")}</h2>
            {if errors.is_empty() {
                view! { <p class="muted">"No error events in this window."</p> }.into_any()
            } else {
                view! { <ErrorTable errors started=signals.started_at /> }.into_any()
            }}
        </section>
    }
}

#[component]
fn ErrorTable(errors: Vec<ErrorGroup>, started: DateTime<Utc>) -> impl IntoView {
    let rows = errors
        .into_iter()
        .map(|g| {
            // New: Houston had never seen it before this deploy started.
            let new = g.first_seen >= started;
            let versions = if g.versions.is_empty() {
                "—".to_owned()
            } else {
                g.versions.join(", ")
            };
            view! {
                <tr class:new-error=new>
                    <td>
                        {new.then(|| view! { <span class="badge status-failed">"new"</span> " " })}
                        <span class="error-message">{g.message}</span>
                        <code class="muted small error-fingerprint">{g.fingerprint}</code>
                    </td>
                    <td>{g.level.as_str()}</td>
                    <td class="num">{g.count}</td>
                    <td>{absolute_time(g.first_seen)}</td>
                    <td><code>{versions}</code></td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <div class="table-wrap">
            <table class="errors">
                <thead><tr>
                    <th scope="col">"Error"</th><th scope="col">"Level"</th><th scope="col" class="num">"Count"</th>
                    <th scope="col">"First seen"</th><th scope="col">"Versions"</th>
                </tr></thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
    }
}

#[component]
fn DeployView(
    detail: DeployDetail,
    now: DateTime<Utc>,
    verdict: Loaded<Result<AsOf<Option<Verdict>>, AppError>>,
    me: Loaded<Result<Option<crate::api::SignedIn>, AppError>>,
    standing: crate::components::LocksInForce,
) -> impl IntoView {
    let d = detail.deploy;
    let scope = crate::domain::LockScope {
        environment: Some(d.environment.clone()),
        service: Some(d.service.clone()),
    };
    let through_lock = d.through_lock.clone().map(|what| {
        view! {
            <p class="panel through-lock" role="note" data-testid="through-lock">
                <span class="badge lock-badge">"Deployed through a lock"</span>" "{what}
            </p>
        }
    });
    let caused = d.caused_incident.map(|incident| {
        view! {
            <p class="panel caused-incident" role="note" data-testid="caused-incident">
                <span class="badge status-failed">{format!("Caused incident {incident}")}</span>
                " A person confirmed this deploy as the cause of "
                <a href=format!("/incidents/{incident}")>{format!("incident {incident}")}</a>
                " · "
                <a href=format!("/timeline?incident={incident}")>"its timeline"</a>
            </p>
        }
    });
    let title = format!(
        "{} {} → {}",
        d.service,
        short_version(&d.version),
        d.environment
    );
    let history = format!(
        "/deploys?service={}&environment={}",
        d.service, d.environment
    );
    let finished = d
        .finished_at
        .map(absolute_time)
        .unwrap_or_else(|| "not yet".into());
    let duration = d
        .duration()
        .map(human_duration)
        .unwrap_or_else(|| "—".into());
    let previous = d.previous_version.clone();
    // Links are checked again here, whatever stored them: only http(s) is a link.
    let ci = d.ci_url.clone().map(|url| match safe_link(&url) {
        Some(href) => view! { <a href=href rel="noopener noreferrer">{url}</a> }.into_any(),
        None => view! { <span>{url}</span> }.into_any(),
    });
    let repo = detail.repository_url.as_deref().and_then(safe_link);
    let status_by = d
        .status_changed_by
        .clone()
        .unwrap_or_else(|| "— (as registered)".into());
    let commits = detail.commits;
    let commit_count = commits.len();
    view! {
        <Title text=title.clone() />
        <p class="crumbs"><a href="/deploys">"History"</a> " / " <a href=history>{format!("{} in {}", d.service, d.environment)}</a>
            " · " <a href=format!("/timeline?deploy={}", d.id) data-testid="deploy-timeline">"On the timeline"</a></p>
        <div class="page-head detail-head">
            <h1 data-testid="deploy-title">
                {d.service.to_string()} " " <Version version=d.version.clone() /> " → " {d.environment.to_string()}
            </h1>
            <StatusBadge status=d.status />
            <div class="place-lock">
                <Transition fallback=|| ()>
                    {move || {
                        let scope = scope.clone();
                        Suspend::new(async move {
                            let standing = standing.await.map(|s| s.value).unwrap_or_default();
                            view! { <crate::components::PlaceLockControl scope standing /> }
                        })
                    }}
                </Transition>
            </div>
        </div>
        {through_lock}
        {caused}
        {d.description.clone().map(|text| view! { <p class="lede">{text}</p> })}
        // The page leads with the judge's word and its evidence.
        <Transition fallback=|| view! { <p class="muted">"Loading the verdict…"</p> }>
            {move || Suspend::new(async move {
                let may_override = matches!(me.await, Ok(Some(user)) if user.role >= Role::Lead);
                match verdict.await {
                    Ok(AsOf { value: Some(verdict), .. }) => view! { <VerdictPanel verdict may_override /> }.into_any(),
                    Ok(AsOf { value: None, .. }) => view! {
                        <section class="panel" data-testid="verdict">
                            <p class="muted">"Not judged: this deploy was recorded before the judge followed deploys, or imported."</p>
                        </section>
                    }.into_any(),
                    Err(error) => view! { <ErrorPanel error /> }.into_any(),
                }
            })}
        </Transition>
        <section class="panel">
            <dl class="facts">
                <div><dt>"Version"</dt><dd><code class="version">{d.version.clone()}</code></dd></div>
                <div><dt>"Previous version"</dt><dd>{match previous {
                    Some(v) => view! { <code class="version">{v}</code> }.into_any(),
                    None => view! { <span class="muted">"none recorded"</span> }.into_any(),
                }}</dd></div>
                <div><dt>"Author (as reported)"</dt><dd>{d.author.clone().unwrap_or_else(|| "unknown".into())}</dd></div>
                <div><dt>"Registered by"</dt><dd data-testid="registered-by">{d.registered_by.clone().unwrap_or_else(|| "unknown".into())}</dd></div>
                <div><dt>"Status set by"</dt><dd>{status_by}</dd></div>
                <div><dt>"Started"</dt><dd>{absolute_time(d.started_at)} " (" <TimeAgo at=d.started_at now /> ")"</dd></div>
                <div><dt>"Finished"</dt><dd>{finished}</dd></div>
                <div><dt>"Duration"</dt><dd>{duration}</dd></div>
                <div><dt>"Source"</dt><dd>{d.source.as_str().replace('_', " ")}</dd></div>
                <div><dt>"External id"</dt><dd>{d.external_id.clone().unwrap_or_else(|| "—".into())}</dd></div>
                <div class="wide"><dt>"CI run"</dt><dd>{ci.map(IntoAny::into_any).unwrap_or_else(|| view! { <span class="muted">"no link"</span> }.into_any())}</dd></div>
            </dl>
        </section>
        <section class="panel">
            <h2>{format!("Commits ({commit_count})")}</h2>
            {if commits.is_empty() {
                view! { <p class="muted">"The deploy was registered without a commit list."</p> }.into_any()
            } else {
                view! {
                    <ol class="commits" data-testid="commits">
                        {commits.into_iter().map(|c| view! { <CommitRow commit=c repo=repo.clone() now /> }).collect_view()}
                    </ol>
                }.into_any()
            }}
        </section>
    }
}

#[component]
fn CommitRow(commit: Commit, repo: Option<String>, now: DateTime<Utc>) -> impl IntoView {
    let short = short_version(&commit.sha);
    let sha = match repo {
        Some(repo) => {
            let href = format!("{}/commit/{}", repo.trim_end_matches('/'), commit.sha);
            view! { <a href=href rel="noopener noreferrer"><code>{short}</code></a> }.into_any()
        }
        None => view! { <code>{short}</code> }.into_any(),
    };
    let headline = commit.message.lines().next().unwrap_or_default().to_owned();
    view! {
        <li>
            {sha}
            <span class="commit-msg">{headline}</span>
            <span class="commit-meta">
                {commit.author.unwrap_or_default()}
                {commit.committed_at.map(|at| view! { " · " <TimeAgo at now /> })}
            </span>
        </li>
    }
}

/// The verdict, why, and every check's evidence: baseline against current, the change,
/// how unusual it is for this metric, and what the check could have seen at all.
#[component]
fn VerdictPanel(verdict: Verdict, may_override: bool) -> impl IntoView {
    let receipt = verdict.receipt.clone();
    let progress = match (receipt.deployed_at, receipt.analysis_end, receipt.bake_end) {
        (Some(from), Some(at), Some(end)) if !verdict.is_final && end > from => {
            let share =
                ((at - from).num_seconds() * 100 / (end - from).num_seconds()).clamp(0, 100);
            Some(format!(
                "{share} % of the bake read; final at {}",
                absolute_time(end)
            ))
        }
        _ => None,
    };
    let decided = verdict
        .decided_at
        .map(|at| format!("decided {}", absolute_time(at)));
    let score = verdict.score.map(|score| format!("score {score:.0} / 100"));
    let headline = [
        Some(verdict.rule.describe().to_owned()),
        score,
        decided,
        progress,
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join(" · ");
    let overridden = verdict.verdict_override.clone();
    let checks = receipt.checks.clone();
    let new_groups = receipt.new_error_groups.clone();
    let min_new = receipt.new_error_min_occurrences;
    view! {
        <section class="panel verdict" data-testid="verdict" data-state=verdict.state.as_str()>
            <div class="verdict-head">
                <h2>"Health"</h2>
                {match &overridden {
                    Some(o) => view! {
                        <VerdictBadge state=o.state />
                        <span class="muted small">
                            {format!("set by {} — “{}” (the judge said ", o.by, o.reason)}
                            <VerdictBadge state=verdict.state provisional=verdict.provisional.unwrap_or(VerdictState::Baking) />
                            ")"
                        </span>
                    }.into_any(),
                    None => view! {
                        <VerdictBadge state=verdict.state provisional=verdict.provisional.unwrap_or(VerdictState::Baking) />
                    }.into_any(),
                }}
            </div>
            <p class="muted small" data-testid="verdict-why">{headline}</p>
            {may_override.then(|| view! { <OverrideForm id=verdict.deploy_id /> })}
            {if checks.is_empty() {
                view! { <p class="muted">"No metric with a direction applies to this service and environment: nothing to judge. Give a metric a direction in "<code>"houston config apply"</code>"."</p> }.into_any()
            } else {
                view! {
                    <div class="table-scroll">
                        <table class="checks" data-testid="checks">
                            <thead>
                                <tr>
                                    <th>"Check"</th><th>"State"</th><th>"Baseline"</th><th>"Current"</th>
                                    <th>"Change"</th><th title="How often this metric moves this far when nothing is deployed">"p (own history)"</th>
                                    <th title="Mann–Whitney U; assumes independent samples">"p (rank test)"</th>
                                    <th title="The smallest change this check could have caught">"Could see"</th><th>"Why"</th>
                                </tr>
                            </thead>
                            <tbody>
                                {checks.into_iter().map(|check| view! { <CheckRow check /> }).collect_view()}
                            </tbody>
                        </table>
                    </div>
                }.into_any()
            }}
            {(!new_groups.is_empty()).then(|| view! {
                <h3>{format!("New error groups (first seen after the deploy, {min_new}+ times)")}</h3>
                <ul class="new-errors" data-testid="new-error-groups">
                    {new_groups.into_iter().map(|g| view! {
                        <li><code>{g.fingerprint}</code>" — "{g.message}{format!(" ({} times)", g.occurrences)}</li>
                    }).collect_view()}
                </ul>
            })}
        </section>
    }
}

#[component]
fn CheckRow(check: CheckReceipt) -> impl IntoView {
    let state = match check.state {
        CheckState::Healthy => VerdictState::Healthy,
        CheckState::Unhealthy => VerdictState::Unhealthy,
        CheckState::NoData => VerdictState::NoData,
        CheckState::CantTell => VerdictState::CantTell,
    };
    let side = |center: Option<f64>, count: Option<usize>| match (center, count) {
        (Some(center), Some(count)) => format!("{} (n={count})", figure(center)),
        (None, Some(count)) => format!("n={count}"),
        _ => "—".to_owned(),
    };
    let baseline = side(
        check.baseline.center,
        check.baseline.summary.map(|s| s.count),
    );
    let current = side(check.current.center, check.current.summary.map(|s| s.count));
    let signed = |value: f64| {
        let text = figure(value);
        if value > 0.0 {
            format!("+{text}")
        } else {
            text
        }
    };
    let change = match (check.delta, check.delta_relative) {
        (Some(delta), Some(relative)) => {
            format!("{} ({:+.1} %)", signed(delta), relative * 100.0)
        }
        (Some(delta), None) => format!("{} (from zero)", signed(delta)),
        _ => "—".to_owned(),
    };
    let p = check.p_value.map_or_else(|| "—".to_owned(), p_value);
    let rank_p = check
        .mann_whitney
        .map_or_else(|| "—".to_owned(), |test| p_value(test.p_value));
    let visible = check.min_detectable_change.map_or_else(
        || "—".to_owned(),
        |mde| {
            if mde.is_finite() {
                format!("±{:.0} %", mde * 100.0)
            } else {
                "any change".to_owned()
            }
        },
    );
    let noisy = check
        .min_detectable_change
        .is_some_and(|mde| mde > 2.0 * check.tolerance.max(0.01));
    // "Can't tell" says what was seen and what could have been seen, in words.
    let why = match (check.state, check.delta_relative) {
        (CheckState::CantTell, Some(relative)) => format!(
            "changed {:+.0} %, past its {:.0} % tolerance, but it could only see changes of {visible}: can't tell",
            relative * 100.0,
            check.tolerance * 100.0
        ),
        _ => check.rule.describe().to_owned(),
    };
    let runbook = (check.state == CheckState::Unhealthy)
        .then_some(check.runbook.clone())
        .flatten()
        .and_then(|url| safe_link(&url));
    let tolerance = format!("tolerance {:.0} %", check.tolerance * 100.0);
    let guards = check.guards.clone();
    view! {
        <tr data-metric=check.metric.to_string()>
            <td>
                <strong>{check.metric.to_string()}</strong>
                {check.critical.then(|| view! { " " <span class="tag">"critical"</span> })}
                <div class="muted small">{tolerance}</div>
            </td>
            <td data-label="State"><VerdictBadge state /></td>
            <td class="num" data-label="Baseline">{baseline}</td>
            <td class="num" data-label="Current">{current}</td>
            <td class="num" data-label="Change">{change}</td>
            <td class="num" data-label="p (own history)">{p}</td>
            <td class="num" data-label="p (rank test)">{rank_p}</td>
            <td class="num" data-label="Could see" class:noisy=noisy title=if noisy { "Far above the tolerance: a longer bake, a control group or a less noisy query would help" } else { "" }>{visible}</td>
            <td data-label="Why">
                {why}
                {runbook.map(|href| view! { " · " <a href=href rel="noopener noreferrer">"runbook"</a> })}
                {(!guards.is_empty()).then(|| view! {
                    <ul class="guards" data-testid="guards">
                        {guards.into_iter().map(|g| {
                            let class = match g.state {
                                CheckState::Unhealthy => "guard bad",
                                CheckState::NoData => "guard muted",
                                _ => "guard",
                            };
                            view! { <li class=class data-guard=guard_name(g.kind)>{g.line}</li> }
                        }).collect_view()}
                    </ul>
                })}
            </td>
        </tr>
    }
}

fn guard_name(kind: GuardKind) -> &'static str {
    match kind {
        GuardKind::Bounds => "bounds",
        GuardKind::Sigma => "sigma",
        GuardKind::Slope => "slope",
    }
}

/// A number at a precision people read: 1234, 12.3, 0.0123.
fn figure(value: f64) -> String {
    let magnitude = value.abs();
    if magnitude >= 100.0 {
        format!("{value:.0}")
    } else if magnitude >= 1.0 {
        format!("{value:.2}")
    } else {
        format!("{value:.4}")
    }
}

fn p_value(p: f64) -> String {
    if p < 0.001 {
        "< 0.001".to_owned()
    } else {
        format!("{p:.3}")
    }
}

/// A lead's way to overrule the judge: healthy or unhealthy, with a reason for the
/// audit log. Shown to leads and admins; the page hears of the change live.
#[component]
fn OverrideForm(id: DeployId) -> impl IntoView {
    let action = ServerAction::<OverrideDeployVerdict>::new();
    let error = move || match action.value().get() {
        Some(Err(e)) => Some(view! { <p class="form-error" role="alert">{e.to_string()}</p> }),
        _ => None,
    };
    view! {
        <details class="override" data-testid="override">
            <summary>"Override the verdict"</summary>
            <ActionForm action attr:class="inline-form">
                <input type="hidden" name="id" value=id.to_string() />
                <label>
                    <span>"Verdict"</span>
                    <select name="state">
                        <option value="healthy">"healthy"</option>
                        <option value="unhealthy">"unhealthy"</option>
                    </select>
                </label>
                <label class="grow">
                    <span>"Reason (required; in the audit log)"</span>
                    <input type="text" name="reason" required maxlength="500" autocomplete="off" />
                </label>
                <button type="submit" class="button" disabled=move || action.pending().get()>"Override"</button>
            </ActionForm>
            {error}
        </details>
    }
}
