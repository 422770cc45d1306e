//! The storage contract: every case runs on a fresh SQLite file and on a fresh
//! PostgreSQL database (`houston_sql::contract!`), and both backends must give the
//! same answers. One test binary, a module per part of the store.

mod accounts;
mod common;
mod deploys;
mod incidents;
mod locks;
mod signals;
mod work;
