//! Deploy history: filters kept in the URL, newest first, keyset paging.

use crate::api::{FilterOptions, get_filter_options, list_deploys};
use crate::components::{
    FilterSelect, RowVerdict, StatusBadge, TimeAgo, Version, absolute_time, human_duration, load,
    submit_enclosing_form, use_live_refresh, verdict_label,
};
use crate::domain::{ChangeKind, DeployPage, DeployQuery, DeployStatus, VerdictState};
use crate::pages::ErrorPanel;
use chrono::{DateTime, Utc};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::Form;
use leptos_router::hooks::use_query_map;

#[component]
pub fn HistoryPage() -> impl IntoView {
    let params = use_query_map();
    let query = Memo::new(move |_| {
        params.with(|q| DeployQuery {
            service: q.get("service"),
            environment: q.get("environment"),
            author: q.get("author"),
            status: q.get("status"),
            verdict: q.get("verdict"),
            since: q.get("since"),
            until: q.get("until"),
            cursor: q.get("cursor"),
            limit: q.get("limit").and_then(|l| l.parse().ok()),
        })
    });
    // Only a change to a deploy this filter shows refetches the page: a new deploy
    // it selects, or a status or verdict change of one it may show (a deploy can
    // leave a status filter, so that part is not asked of status changes; changes do
    // not carry the verdict, so no change is asked about it).
    let revision = use_live_refresh(move |change| {
        let Ok((mut filter, _)) = query.get_untracked().parse() else {
            return false;
        };
        if change.kind == ChangeKind::Status {
            filter.status = None;
        }
        filter.verdict = None;
        filter.admits(change)
    });
    let deploys = load(
        move || (query.get(), revision.get()),
        |(query, _)| list_deploys(query),
    );
    let options = load(|| (), |_| get_filter_options());

    view! {
        <Title text="Deploy history" />
        <div class="page-head">
            <h1>"Deploy history"</h1>
            <p class="muted">"Every deploy Houston has seen, newest first."</p>
        </div>
        <Transition fallback=|| ()>
            {move || Suspend::new(async move {
                let options = options.await.unwrap_or(FilterOptions {
                    services: Vec::new(),
                    environments: Vec::new(),
                });
                view! { <Filters options current=query.get_untracked() /> }
            })}
        </Transition>
        <Transition fallback=|| view! { <p class="muted">"Loading deploys…"</p> }>
            {move || Suspend::new(async move {
                match deploys.await {
                    Ok(read) => {
                        view! { <DeployTable page=read.value now=read.now query=query.get_untracked() /> }
                            .into_any()
                    }
                    Err(error) => view! { <ErrorPanel error /> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn Filters(options: FilterOptions, current: DeployQuery) -> impl IntoView {
    let services = options
        .services
        .iter()
        .map(|s| (s.name.to_string(), s.name.to_string()))
        .collect();
    let environments = options
        .environments
        .iter()
        .map(|e| (e.name.to_string(), e.name.to_string()))
        .collect();
    let statuses = DeployStatus::ALL
        .iter()
        .map(|s| (s.as_str().to_owned(), s.label().to_owned()))
        .collect();
    let verdicts = VerdictState::ALL
        .iter()
        .map(|v| (v.as_str().to_owned(), verdict_label(*v).to_owned()))
        .collect();
    let date_value = |raw: &Option<String>| {
        raw.as_deref()
            .map(|v| v.get(..10).unwrap_or(v).to_owned())
            .unwrap_or_default()
    };
    view! {
        <Form method="GET" action="/deploys">
            <div class="filters" data-testid="filters">
                <FilterSelect name="service" label="Service" any="All services" choices=services current=current.service.clone() />
                <FilterSelect name="environment" label="Environment" any="All environments" choices=environments current=current.environment.clone() />
                <FilterSelect name="status" label="Status" any="Any status" choices=statuses current=current.status.clone() />
                <FilterSelect name="verdict" label="Verdict" any="Any verdict" choices=verdicts current=current.verdict.clone() />
                <label>
                    <span>"Author"</span>
                    <input type="search" name="author" placeholder="login" value=current.author.clone().unwrap_or_default() />
                </label>
                <label>
                    <span>"Since"</span>
                    <input type="date" name="since" value=date_value(&current.since) on:change=submit_enclosing_form />
                </label>
                <label>
                    <span>"Until"</span>
                    <input type="date" name="until" value=date_value(&current.until) on:change=submit_enclosing_form />
                </label>
                <div class="filter-actions">
                    <button type="submit" class="button">"Apply"</button>
                    <a class="button ghost" href="/deploys">"Clear"</a>
                </div>
            </div>
        </Form>
    }
}

#[component]
fn DeployTable(page: DeployPage, now: DateTime<Utc>, query: DeployQuery) -> impl IntoView {
    if page.deploys.is_empty() {
        return view! {
            <div class="panel empty" data-testid="no-deploys">
                <h2>"No deploys match"</h2>
                <p>"Widen the filters or " <a href="/deploys">"clear them"</a> "."</p>
            </div>
        }
        .into_any();
    }
    let paged = query.cursor.is_some();
    let next = page.next_cursor.map(|cursor| {
        let next = DeployQuery {
            cursor: Some(cursor),
            ..query.clone()
        };
        format!("/deploys?{}", next.to_query_string())
    });
    let first = DeployQuery {
        cursor: None,
        ..query
    };
    let first = format!("/deploys?{}", first.to_query_string());
    let rows = page
        .deploys
        .into_iter()
        .map(|d| {
            let href = format!("/deploys/{}", d.id);
            let duration = d.duration().map(human_duration).unwrap_or_else(|| "—".into());
            view! {
                <tr>
                    <td class="nowrap"><TimeAgo at=d.started_at now /><span class="sub">{absolute_time(d.started_at)}</span></td>
                    <td><a href=href.clone()>{d.service.to_string()}</a></td>
                    <td>{d.environment.to_string()}</td>
                    <td><a href=href><Version version=d.version.clone() /></a></td>
                    <td>
                        <StatusBadge status=d.status />
                        {d.through_lock.clone().map(|what| view! {
                            <span class="badge lock-badge" title=what data-testid="row-through-lock">"through a lock"</span>
                        })}
                        {d.caused_incident.map(|incident| view! {
                            <a class="badge status-failed" href=format!("/incidents/{incident}") data-testid="row-caused-incident">
                                {format!("caused incident {incident}")}
                            </a>
                        })}
                    </td>
                    <td><RowVerdict verdict=d.verdict.clone() now /></td>
                    <td>{d.author.clone().unwrap_or_else(|| "unknown".into())}</td>
                    <td class="num">{duration}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <div class="table-wrap">
            <table class="deploys" data-testid="deploys">
                <thead>
                    <tr>
                        <th scope="col">"Started"</th>
                        <th scope="col">"Service"</th>
                        <th scope="col">"Environment"</th>
                        <th scope="col">"Version"</th>
                        <th scope="col">"Status"</th>
                        <th scope="col">"Verdict"</th>
                        <th scope="col">"Author"</th>
                        <th scope="col" class="num">"Duration"</th>
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
        <nav class="pager" aria-label="Pages">
            {paged.then(|| view! { <a class="button ghost" href=first>"← Newest"</a> })}
            {next.map(|href| view! { <a class="button ghost" href=href rel="next">"Older →"</a> })}
        </nav>
    }
    .into_any()
}
