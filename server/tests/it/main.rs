//! The server's integration tests, one binary: `router(state)` driven in-process
//! (who may do what, the JSON API, pages), the judge's rounds on both databases,
//! jobs, replicas, PostgreSQL roles and the `houston judge` binary. The storage
//! contract is houston-sql's own (`crates/sql/tests/contract`); what Houston logs is
//! `tests/logs.rs`, a process of its own.

mod access;
mod github_status;
mod http_api;
mod jobs;
mod judge;
mod judge_cli;
mod postgres_roles;
mod replicas;
mod support;
