//! Server functions for the mission control board, deploy history and deploy detail.

use crate::domain::{Board, DeployDetail, DeployId, DeployPage, DeployQuery, Environment, Service};
use crate::error::AppError;
use chrono::{DateTime, Utc};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// Something the server read, with the server's clock at that moment so relative
/// times render the same on the server and in the browser.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AsOf<T> {
    pub now: DateTime<Utc>,
    pub value: T,
}

impl<T> AsOf<T> {
    pub fn now(value: T) -> Self {
        Self {
            now: Utc::now(),
            value,
        }
    }
}

/// The choices the history filters offer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FilterOptions {
    pub services: Vec<Service>,
    pub environments: Vec<Environment>,
}

#[server(endpoint = "board")]
pub async fn get_board() -> Result<AsOf<Board>, AppError> {
    use crate::server::access::Need;
    crate::server::serve(Need::Read, move |call| async move {
        let mut board = call.store.board().await?;
        let firing = crate::domain::AlertFilter {
            state: Some(crate::domain::AlertState::Firing),
            ..Default::default()
        };
        board.firing = call
            .store
            .list_alerts(&firing, crate::domain::MAX_ALERTS_LISTED)
            .await?
            .into_iter()
            .map(crate::domain::FiringAlert::from)
            .collect();
        Ok(AsOf::now(board))
    })
    .await
}

#[server(endpoint = "deploys")]
pub async fn list_deploys(
    #[server(default)] query: DeployQuery,
) -> Result<AsOf<DeployPage>, AppError> {
    use crate::server::access::Need;
    crate::server::serve(Need::Read, move |call| async move {
        let (filter, page) = query.parse()?;
        let store = call.store;
        Ok(AsOf::now(store.list_deploys(&filter, &page).await?))
    })
    .await
}

#[server(endpoint = "deploy")]
pub async fn get_deploy(id: DeployId) -> Result<AsOf<DeployDetail>, AppError> {
    use crate::server::access::Need;
    crate::server::serve(Need::Read, move |call| async move {
        Ok(AsOf::now(call.store.get_deploy(id).await?))
    })
    .await
}

#[server(endpoint = "filter-options")]
pub async fn get_filter_options() -> Result<FilterOptions, AppError> {
    use crate::server::access::Need;
    crate::server::serve(Need::Read, move |call| async move {
        let store = call.store.as_ref();
        let read = || async move {
            Ok::<_, AppError>(FilterOptions {
                services: store.list_services().await?,
                environments: store.list_environments().await?,
            })
        };
        crate::server::page_cache()
            .filter_options(chrono::Utc::now(), read)
            .await
    })
    .await
}
