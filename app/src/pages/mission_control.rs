//! Mission control: every service × environment with what runs there now.

use crate::api::{Standing, get_board, list_deploys};
use crate::components::{
    Live, PlaceLockControl, RowVerdict, StatusBadge, TimeAgo, Version, load, safe_link, use_live,
    use_locks_in_force,
};
use crate::domain::{Board, Deploy, DeployQuery, FiringAlert, LockScope};
use crate::pages::ErrorPanel;
use chrono::{DateTime, Utc};
use leptos::either::Either;
use leptos::prelude::*;
use leptos_meta::Title;
use std::collections::HashMap;

/// Cells refetched since the board was read, by (service, environment).
type Cells = RwSignal<HashMap<(String, String), Deploy>>;

#[component]
pub fn MissionControlPage() -> impl IntoView {
    let (reload, set_reload) = signal(0u64);
    let board = load(move || reload.get(), |_| get_board());
    let cells: Cells = RwSignal::new(HashMap::new());
    // Locks show on the board: each column and cell with its lock or lock dialog.
    let standing = use_locks_in_force();
    // A change refetches its one cell; a place the board does not show yet (a new
    // service or environment), or missed changes, reload the board.
    use_live(move |live| {
        let change = match live {
            Live::Change(change) => change,
            Live::Lock(_) | Live::Alerts => return,
            Live::Resync => {
                cells.set(HashMap::new());
                set_reload.update(|r| *r += 1);
                return;
            }
        };
        let shown = board
            .get_untracked()
            .and_then(Result::ok)
            .is_some_and(|read| {
                read.value.services.iter().any(|s| s.name == change.service)
                    && read
                        .value
                        .environments
                        .iter()
                        .any(|e| e.name == change.environment)
            });
        if !shown {
            cells.set(HashMap::new());
            set_reload.update(|r| *r += 1);
            return;
        }
        let (service, environment) = (change.service.to_string(), change.environment.to_string());
        leptos::task::spawn_local(async move {
            let query = DeployQuery {
                service: Some(service.clone()),
                environment: Some(environment.clone()),
                limit: Some(1),
                ..Default::default()
            };
            if let Ok(read) = list_deploys(query).await
                && let Some(latest) = read.value.deploys.into_iter().next()
            {
                // Answers can arrive out of order: a cell keeps the newest deploy.
                cells.update(|c| {
                    let newer = c
                        .get(&(service.clone(), environment.clone()))
                        .is_none_or(|held| {
                            (held.started_at, held.id) <= (latest.started_at, latest.id)
                        });
                    if newer {
                        c.insert((service, environment), latest);
                    }
                });
            }
        });
    });
    view! {
        <Title text="Mission control" />
        <div class="page-head">
            <h1>"Mission control"</h1>
            <p class="muted">"What runs where, who shipped it and how it went."</p>
        </div>
        <Transition fallback=|| view! { <p class="muted">"Loading the board…"</p> }>
            {move || Suspend::new(async move {
                match board.await {
                    Ok(read) => {
                        // Without the locks the board still shows.
                        let standing = standing.await.map(|s| s.value).unwrap_or_default();
                        Either::Left(view! {
                            <div class="board-tools">
                                <PlaceLockControl scope=LockScope::default() standing=standing.clone() />
                            </div>
                            <BoardTable board=read.value now=read.now cells standing />
                        })
                    }
                    Err(error) => Either::Right(view! { <ErrorPanel error /> }),
                }
            })}
        </Transition>
    }
}

#[component]
fn BoardTable(board: Board, now: DateTime<Utc>, cells: Cells, standing: Standing) -> impl IntoView {
    if board.services.is_empty() {
        return Either::Left(view! {
            <div class="panel empty">
                <h2>"No deploys yet"</h2>
                <p>
                    "Register one with " <code>"POST /api/v1/deploys"</code> ", "
                    <code>"houston deploy"</code> " or a GitHub deployment webhook, or load demo data with "
                    <code>"houston demo"</code> "."
                </p>
            </div>
        });
    }
    let header = board
        .environments
        .iter()
        .map(|e| {
            let scope = LockScope {
                environment: Some(e.name.clone()),
                service: None,
            };
            let locked = standing.locks_place(&scope);
            view! {
                <th scope="col" class:env-locked=locked>
                    <span class="env-name">{e.name.to_string()}</span>
                    <PlaceLockControl scope standing=standing.clone() />
                </th>
            }
        })
        .collect_view();
    let rows = board
        .services
        .iter()
        .map(|service| {
            let cells = board
                .environments
                .iter()
                .map(|env| {
                    let key = (service.name.to_string(), env.name.to_string());
                    let read = board.cell(&service.name, &env.name).cloned();
                    let alerts: Vec<FiringAlert> =
                        board.firing_at(&service.name, &env.name).cloned().collect();
                    let deploy = move || {
                        cells
                            .with(|c| c.get(&key).cloned())
                            .or_else(|| read.clone())
                    };
                    let place = env.name.to_string();
                    let scope = LockScope {
                        environment: Some(env.name.clone()),
                        service: Some(service.name.clone()),
                    };
                    let standing = standing.clone();
                    move || {
                        view! { <BoardCell deploy=deploy() alerts=alerts.clone() now place=place.clone() scope=scope.clone() standing=standing.clone() /> }
                    }
                })
                .collect_view();
            let history = format!("/deploys?service={}", service.name);
            view! {
                <tr>
                    <th scope="row" class="service">
                        <a href=history>{service.name.to_string()}</a>
                    </th>
                    {cells}
                </tr>
            }
        })
        .collect_view();
    // Alerts whose place has no cell (no deploy seen there, or no place labels).
    let elsewhere: Vec<FiringAlert> = board
        .firing
        .iter()
        .filter(|a| {
            !matches!((&a.service, &a.environment), (Some(s), Some(e))
                if board.services.iter().any(|x| &x.name == s)
                    && board.environments.iter().any(|x| &x.name == e))
        })
        .cloned()
        .collect();
    Either::Right(view! {
        {(!elsewhere.is_empty()).then(|| view! {
            <div class="panel alerts-elsewhere" data-testid="alerts-elsewhere">
                <h2>"Firing alerts outside the board"</h2>
                <AlertList alerts=elsewhere with_place=true />
            </div>
        })}
        <div class="table-wrap board-wrap">
            <table class="board" data-testid="board">
                <thead>
                    <tr>
                        <th scope="col">"Service"</th>
                        {header}
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
    })
}

#[component]
fn BoardCell(
    deploy: Option<Deploy>,
    alerts: Vec<FiringAlert>,
    now: DateTime<Utc>,
    /// The environment's name, which a phone's stacked card shows beside the cell.
    place: String,
    /// The cell's place, and what locks stand now.
    scope: LockScope,
    standing: Standing,
) -> impl IntoView {
    let alerts = (!alerts.is_empty()).then(|| view! { <AlertList alerts with_place=false /> });
    let locked = standing.locks_place(&scope);
    // A lock or window on this very place shows here; a broader one shows in its
    // column (or above the board).
    let broader = standing
        .locks
        .iter()
        .map(|l| l.scope())
        .chain(standing.windows.iter().map(|w| w.scope.clone()))
        .any(|s| s != scope && s.contains(&scope));
    let control = (!broader)
        .then(|| view! { <div class="cell-lock"><PlaceLockControl scope standing /></div> });
    match deploy {
        Some(d) => {
            let href = format!("/deploys/{}", d.id);
            let author = d.author.clone().unwrap_or_else(|| "unknown".into());
            Either::Left(view! {
                <td class="cell" class:cell-locked=locked data-label=place>
                    <a class="cell-link" href=href>
                        <span class="cell-top">
                            <Version version=d.version.clone() />
                            <StatusBadge status=d.status />
                        </span>
                        <span class="cell-meta">
                            {author} " · " <TimeAgo at=d.started_at now />
                        </span>
                    </a>
                    <RowVerdict verdict=d.verdict.clone() now />
                    {alerts}
                    {control}
                </td>
            })
        }
        None => Either::Right(
            view! { <td class="cell cell-empty" class:cell-locked=locked data-label=place>"—" {alerts}{control}</td> },
        ),
    }
}

/// Firing alerts, each linked to its source (Prometheus' graph of the rule).
#[component]
fn AlertList(alerts: Vec<FiringAlert>, with_place: bool) -> impl IntoView {
    let items = alerts
        .into_iter()
        .map(|a| {
            let place = with_place.then(|| match (&a.service, &a.environment) {
                (Some(s), Some(e)) => format!(" · {s} in {e}"),
                (Some(s), None) => format!(" · {s}"),
                _ => " · no service label".to_owned(),
            });
            let title = a.summary.clone().unwrap_or_default();
            let name = a.name;
            match a.url.as_deref().and_then(safe_link) {
                Some(href) => Either::Left(view! {
                    <li title=title><a href=href rel="noopener noreferrer">{name}</a>{place}</li>
                }),
                None => Either::Right(view! { <li title=title>{name}{place}</li> }),
            }
        })
        .collect_view();
    view! { <ul class="alerts" data-testid="firing-alerts" aria-label="Firing alerts">{items}</ul> }
}
