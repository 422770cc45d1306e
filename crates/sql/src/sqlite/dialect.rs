//! What SQLite's SQL says differently from PostgreSQL's, under the names the shared
//! aggregates use (`crate::shared`); `postgres/dialect.rs` holds the same names.
//! Every write transaction here starts `BEGIN IMMEDIATE` (`SqliteStore::begin_write`):
//! one writer at a time, so nothing needs a table or row lock.

/// The backend's name, as `Store::backend` and the health check say it.
pub(crate) const NAME: &str = "sqlite";

/// The database the shared code binds and builds queries for.
pub(crate) type Db = sqlx::Sqlite;

/// Taken before counting users: none, as BEGIN IMMEDIATE already serialises writers.
pub(crate) const LOCK_USERS: Option<&str> = None;

/// Taken before counting sign-in failures: none, for the same reason.
pub(crate) const LOCK_LOGIN_FAILURES: Option<&str> = None;

/// Claims due jobs for one worker. BEGIN IMMEDIATE makes this worker the only
/// writer while it claims.
pub(crate) const CLAIM_JOBS: &str = "UPDATE jobs SET claimed_by = $1, claimed_until = $2, attempts = attempts + 1 \
     WHERE id IN (SELECT id FROM jobs WHERE failed_at IS NULL AND attempts < max_attempts AND run_at <= $3 \
     AND (claimed_until IS NULL OR claimed_until < $3) \
     ORDER BY run_at, id LIMIT $4) \
     RETURNING id, kind, payload, unique_key, attempts, max_attempts";

/// Run first when placing a lock: nothing, as BEGIN IMMEDIATE already serialises
/// placements.
pub(crate) const SERIALIZE_LOCKS: Option<&str> = None;

/// Claims due verdicts ($1 now, $2 lease end, $3 limit; returns deploy ids). One
/// writer at a time: the UPDATE claims atomically without row locks.
pub(crate) const CLAIM_VERDICTS: &str = "UPDATE verdicts SET claimed_until = $2 WHERE deploy_id IN ( \
       SELECT deploy_id FROM verdicts WHERE is_final = 0 AND next_look_at <= $1 \
          AND (claimed_until IS NULL OR claimed_until < $1) \
        ORDER BY next_look_at LIMIT $3) \
     RETURNING deploy_id";

/// Claims due messages, the same way (returns their ids).
pub(crate) const CLAIM_NOTIFICATIONS: &str = "UPDATE notifications SET claimed_until = $2, attempts = attempts + 1 WHERE id IN ( \
       SELECT id FROM notifications WHERE status = 'pending' AND next_attempt_at <= $1 \
          AND (claimed_until IS NULL OR claimed_until < $1) \
        ORDER BY next_attempt_at LIMIT $3)";

/// The history's filters by place and author (`list_deploys`): names joined as
/// they are.
pub(crate) fn push_place_filters(
    qb: &mut sqlx::QueryBuilder<Db>,
    filter: &houston_core::DeployFilter,
) {
    if let Some(service) = &filter.service {
        qb.push(" AND s.name = ")
            .push_bind(service.as_str().to_owned());
    }
    if let Some(environment) = &filter.environment {
        qb.push(" AND e.name = ")
            .push_bind(environment.as_str().to_owned());
    }
    if let Some(author) = &filter.author {
        qb.push(" AND LOWER(d.author) LIKE ")
            .push_bind(crate::like_pattern(author))
            .push(" ESCAPE '\\'");
    }
}

/// The history's page start: deploys before `cursor` in page order.
pub(crate) fn push_before(qb: &mut sqlx::QueryBuilder<Db>, cursor: houston_core::Cursor) {
    qb.push(" AND (d.started_at < ")
        .push_bind(cursor.started_at)
        .push(" OR (d.started_at = ")
        .push_bind(cursor.started_at)
        .push(" AND d.id < ")
        .push_bind(cursor.id)
        .push("))");
}

/// The board: each place's latest deploy. One index lookup (deploys_by_place) per
/// service × environment, not a subquery per stored deploy: the board costs the
/// same with a million deploys as with a hundred.
pub(crate) const BOARD: &str = concat!(
    crate::rows::deploy_columns!(),
    " FROM services s CROSS JOIN environments e \
     JOIN deploys d ON d.id = (SELECT d2.id FROM deploys d2 \
       WHERE d2.service_id = s.id AND d2.environment_id = e.id \
       ORDER BY d2.started_at DESC, d2.id DESC LIMIT 1) \
     LEFT JOIN verdicts v ON v.deploy_id = d.id"
);

/// Appended to the read of a deploy whose status changes: nothing, as BEGIN
/// IMMEDIATE already holds the write lock.
pub(crate) const LOCK_DEPLOY_ROW: &str = "";

/// Inserts an alert ($1 fingerprint … $12 now; returns its id). Labels and annotations are stored as JSON text.
pub(crate) const INSERT_ALERT: &str = "INSERT INTO alerts (fingerprint, starts_at, ends_at, state, name, service, environment, \
     labels, annotations, generator_url, resolved_by, created_at, updated_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12) RETURNING id";

/// Updates a stored alert ($1 its id, then as `INSERT_ALERT`).
pub(crate) const UPDATE_ALERT: &str = "UPDATE alerts SET ends_at = $2, state = $3, name = $4, service = $5, environment = $6, \
     labels = $7, annotations = $8, generator_url = $9, resolved_by = $10, \
     updated_at = $11 WHERE id = $1";

/// The alerts that overlap a span (`$1`–`$2`), the earliest first, at most `$3`: a
/// firing alert lasts until now; the JSON columns read as text (see `LIST_ALERTS`).
pub(crate) const ALERTS_OVERLAPPING: &str = "SELECT id, fingerprint, name, state, starts_at, ends_at, service, environment, labels, annotations, \
     generator_url, resolved_by, updated_at \
     FROM alerts \
     WHERE starts_at <= $2 AND (state = 'firing' OR ends_at >= $1) \
     ORDER BY starts_at, id LIMIT $3";

/// Alerts by state and place, newest first; `$1` to `$3` NULL for any.
pub(crate) const LIST_ALERTS: &str = "SELECT id, fingerprint, name, state, starts_at, ends_at, service, environment, labels, \
     annotations, generator_url, resolved_by, updated_at \
     FROM alerts \
     WHERE ($1 IS NULL OR state = $1) AND ($2 IS NULL OR service = $2) AND ($3 IS NULL OR environment = $3) \
     ORDER BY starts_at DESC, id DESC LIMIT $4";

/// Samples and error events keep their times as Unix microseconds (migration 0010):
/// a time as those columns compare it.
pub(crate) fn signal_time(t: chrono::DateTime<chrono::Utc>) -> i64 {
    t.timestamp_micros()
}

/// How samples and error events store a time: Unix microseconds.
pub(crate) type SignalTime = i64;

/// A stored [`SignalTime`] back as a time.
pub(crate) fn from_signal_time(
    us: SignalTime,
) -> Result<chrono::DateTime<chrono::Utc>, houston_store::StoreError> {
    chrono::DateTime::from_timestamp_micros(us).ok_or_else(|| {
        houston_store::StoreError::Backend(format!("stored time {us} is out of range"))
    })
}

/// Makes or updates an error group ($1 service id … $7 last seen; returns its id):
/// SQLite's two-argument `min` and `max`.
pub(crate) const UPSERT_ERROR_GROUP: &str = "INSERT INTO error_groups (service_id, environment_id, fingerprint, message, level, first_seen, last_seen) \
     VALUES ($1, $2, $3, $4, $5, $6, $7) \
     ON CONFLICT (service_id, environment_id, fingerprint) DO UPDATE SET \
     message = CASE WHEN excluded.last_seen >= error_groups.last_seen THEN excluded.message ELSE error_groups.message END, \
     level = CASE WHEN excluded.last_seen >= error_groups.last_seen THEN excluded.level ELSE error_groups.level END, \
     first_seen = min(error_groups.first_seen, excluded.first_seen), \
     last_seen = max(error_groups.last_seen, excluded.last_seen) \
     RETURNING id";

/// How a group's versions come back from `ERROR_GROUPS`: a JSON array as text.
pub(crate) type Versions = String;

/// The versions of a group as read.
pub(crate) fn versions(json: Versions) -> Result<Vec<String>, houston_store::StoreError> {
    serde_json::from_str(&json)
        .map_err(|e| houston_store::StoreError::Backend(format!("versions of an error group: {e}")))
}

/// A place's error groups in a window, biggest first ($1 service, $2 environment,
/// $3 and $4 the window): versions gathered with `json_group_array`.
pub(crate) const ERROR_GROUPS: &str = "SELECT g.fingerprint, g.message, g.level, g.first_seen, g.last_seen, \
     sum(e.count) AS n, json_group_array(DISTINCT e.version) \
     FROM error_groups g JOIN error_events e ON e.group_id = g.id \
     WHERE g.service_id = (SELECT id FROM services WHERE name = $1) \
     AND g.environment_id = (SELECT id FROM environments WHERE name = $2) \
     AND e.at >= $3 AND e.at <= $4 \
     GROUP BY g.id ORDER BY n DESC, g.last_seen DESC, g.id LIMIT 500";

/// Error and fatal events of a place counted per bin ($3 window start, $4 end, $5
/// bin in microseconds): times are microseconds, and every event is at or after
/// the window's start, so integer division floors.
pub(crate) const ERROR_COUNTS: &str = "SELECT (e.at - $3) / $5 AS b, sum(e.count) \
     FROM error_groups g JOIN error_events e ON e.group_id = g.id \
     WHERE g.service_id = (SELECT id FROM services WHERE name = $1) \
     AND g.environment_id = (SELECT id FROM environments WHERE name = $2) \
     AND g.level IN ('error', 'fatal') AND e.at >= $3 AND e.at < $4 \
     GROUP BY b ORDER BY b";
