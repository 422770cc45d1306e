//! One deploy: what, where, who, when, how it went, and the commits it shipped.

use crate::api::get_deploy;
use crate::components::{
    StatusBadge, TimeAgo, Version, absolute_time, human_duration, safe_link, short_version,
    use_live_refresh,
};
use crate::domain::{Commit, DeployDetail};
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
    let detail = Resource::new(
        move || (id.get(), revision.get()),
        |(id, _)| async move {
            match id {
                Some(id) => get_deploy(id).await,
                None => Err(AppError::not_found("deploy ids are whole numbers")),
            }
        },
    );
    view! {
        <Transition fallback=|| view! { <p class="muted">"Loading the deploy…"</p> }>
            {move || Suspend::new(async move {
                match detail.await {
                    Ok(read) => view! { <DeployView detail=read.value now=read.now /> }.into_any(),
                    Err(error) => view! { <Title text="Deploy not found" /><ErrorPanel error /> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn DeployView(detail: DeployDetail, now: DateTime<Utc>) -> impl IntoView {
    let d = detail.deploy;
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
        <p class="crumbs"><a href="/deploys">"History"</a> " / " <a href=history>{format!("{} in {}", d.service, d.environment)}</a></p>
        <div class="page-head detail-head">
            <h1 data-testid="deploy-title">
                {d.service.to_string()} " " <Version version=d.version.clone() /> " → " {d.environment.to_string()}
            </h1>
            <StatusBadge status=d.status />
        </div>
        {d.description.clone().map(|text| view! { <p class="lede">{text}</p> })}
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
