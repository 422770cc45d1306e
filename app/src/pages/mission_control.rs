//! Mission control: every service × environment with what runs there now.

use crate::api::get_board;
use crate::components::{StatusBadge, TimeAgo, Version, use_live_revision};
use crate::domain::Board;
use crate::pages::ErrorPanel;
use chrono::{DateTime, Utc};
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn MissionControlPage() -> impl IntoView {
    let revision = use_live_revision();
    let board = Resource::new(move || revision.get(), |_| get_board());
    view! {
        <Title text="Mission control" />
        <div class="page-head">
            <h1>"Mission control"</h1>
            <p class="muted">"What runs where, who shipped it and how it went."</p>
        </div>
        <Transition fallback=|| view! { <p class="muted">"Loading the board…"</p> }>
            {move || Suspend::new(async move {
                match board.await {
                    Ok(read) => view! { <BoardTable board=read.value now=read.now /> }.into_any(),
                    Err(error) => view! { <ErrorPanel error /> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn BoardTable(board: Board, now: DateTime<Utc>) -> impl IntoView {
    if board.services.is_empty() {
        return view! {
            <div class="panel empty">
                <h2>"No deploys yet"</h2>
                <p>
                    "Register one with " <code>"POST /api/v1/deploys"</code> ", "
                    <code>"houston deploy"</code> " or a GitHub deployment webhook, or load demo data with "
                    <code>"houston demo"</code> "."
                </p>
            </div>
        }
            .into_any();
    }
    let header = board
        .environments
        .iter()
        .map(|e| view! { <th scope="col">{e.name.to_string()}</th> })
        .collect_view();
    let rows = board
        .services
        .iter()
        .map(|service| {
            let cells = board
                .environments
                .iter()
                .map(|env| match board.cell(&service.name, &env.name) {
                    Some(d) => {
                        let href = format!("/deploys/{}", d.id);
                        let author = d.author.clone().unwrap_or_else(|| "unknown".into());
                        view! {
                            <td class="cell">
                                <a class="cell-link" href=href>
                                    <span class="cell-top">
                                        <Version version=d.version.clone() />
                                        <StatusBadge status=d.status />
                                    </span>
                                    <span class="cell-meta">
                                        {author} " · " <TimeAgo at=d.started_at now />
                                    </span>
                                </a>
                            </td>
                        }
                        .into_any()
                    }
                    None => view! { <td class="cell cell-empty">"—"</td> }.into_any(),
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
    view! {
        <div class="table-wrap">
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
    }
    .into_any()
}
