//! What PostgreSQL's SQL says differently from SQLite's, under the names the shared
//! aggregates use (`crate::shared`); `sqlite/dialect.rs` holds the same names.
//! Several connections (and replicas) write at once here, so the places where
//! SQLite relies on its single writer take a lock.

/// The backend's name, as `Store::backend` and the health check say it.
pub(crate) const NAME: &str = "postgres";

/// The database the shared code binds and builds queries for.
pub(crate) type Db = sqlx::Postgres;

/// Taken before counting users, so two set-ups cannot both see none and two admins
/// demoting each other cannot both succeed.
pub(crate) const LOCK_USERS: Option<&str> = Some("LOCK TABLE users IN SHARE ROW EXCLUSIVE MODE");

/// Taken before counting sign-in failures: count and insert as one step across
/// connections and replicas.
pub(crate) const LOCK_LOGIN_FAILURES: Option<&str> =
    Some("LOCK TABLE login_failures IN SHARE ROW EXCLUSIVE MODE");

/// Claims due jobs for one worker: rows another worker is claiming right now are
/// skipped, not waited for.
pub(crate) const CLAIM_JOBS: &str = "UPDATE jobs SET claimed_by = $1, claimed_until = $2, attempts = attempts + 1 \
     WHERE id IN (SELECT id FROM jobs WHERE failed_at IS NULL AND attempts < max_attempts AND run_at <= $3 \
     AND (claimed_until IS NULL OR claimed_until < $3) \
     ORDER BY run_at, id LIMIT $4 FOR UPDATE SKIP LOCKED) \
     RETURNING id, kind, payload, unique_key, attempts, max_attempts";

/// Run first when placing a lock: two placements never both see a scope free, the
/// second waits for the first.
pub(crate) const SERIALIZE_LOCKS: Option<&str> =
    Some("LOCK TABLE locks IN SHARE ROW EXCLUSIVE MODE");

/// Claims due verdicts ($1 now, $2 lease end, $3 limit; returns deploy ids).
/// Replicas claim side by side: rows another one is claiming are skipped, not
/// waited on.
pub(crate) const CLAIM_VERDICTS: &str = "UPDATE verdicts SET claimed_until = $2 WHERE deploy_id IN ( \
       SELECT deploy_id FROM verdicts WHERE NOT is_final AND next_look_at <= $1 \
          AND (claimed_until IS NULL OR claimed_until < $1) \
        ORDER BY next_look_at LIMIT $3 FOR UPDATE SKIP LOCKED) \
     RETURNING deploy_id";

/// Claims due messages, the same way (returns their ids).
pub(crate) const CLAIM_NOTIFICATIONS: &str = "UPDATE notifications SET claimed_until = $2, attempts = attempts + 1 WHERE id IN ( \
       SELECT id FROM notifications WHERE status = 'pending' AND next_attempt_at <= $1 \
          AND (claimed_until IS NULL OR claimed_until < $1) \
        ORDER BY next_attempt_at LIMIT $3 FOR UPDATE SKIP LOCKED)";

/// The history's filters by place and author (`list_deploys`).
pub(crate) fn push_place_filters(
    qb: &mut sqlx::QueryBuilder<Db>,
    filter: &houston_core::DeployFilter,
) {
    // The service's and environment's ids are looked up first (a scalar
    // subquery, run once): with `s.name = …` the planner joined every deploy of
    // the service and sorted them (86 ms p99 at a million deploys); with the id
    // known it reads `deploys_by_service` in page order and stops at the page's end.
    if let Some(service) = &filter.service {
        qb.push(" AND d.service_id = (SELECT id FROM services WHERE name = ")
            .push_bind(service.as_str().to_owned())
            .push(")");
    }
    if let Some(environment) = &filter.environment {
        qb.push(" AND d.environment_id = (SELECT id FROM environments WHERE name = ")
            .push_bind(environment.as_str().to_owned())
            .push(")");
    }
    if let Some(author) = &filter.author {
        // Contains, ignoring case. Not LIKE '%…%': PostgreSQL guesses such a
        // pattern matches a handful of rows, so it collected every match and
        // sorted it (100 ms at 100,000 deploys). For `strpos` it guesses a third,
        // so it walks the deploys newest first and stops at the page's end: 4 ms
        // for an author with deploys; a name nobody has walks them all.
        qb.push(" AND strpos(LOWER(d.author), ")
            .push_bind(author.to_lowercase())
            .push(") > 0");
    }
}

/// The history's page start: deploys before `cursor` in page order, as a row
/// comparison, which an index in page order takes as its start.
pub(crate) fn push_before(qb: &mut sqlx::QueryBuilder<Db>, cursor: houston_core::Cursor) {
    qb.push(" AND (d.started_at, d.id) < (")
        .push_bind(cursor.started_at)
        .push(", ")
        .push_bind(cursor.id)
        .push(")");
}

/// The board: each place's latest deploy. One index lookup (deploys_by_place) per
/// service × environment, not a pass over the deploys: the board costs the same
/// with a million deploys as with a hundred. LATERAL makes PostgreSQL walk the
/// places and look up each one; a scalar subquery joined back by id let it
/// hash-join a scan of every deploy instead.
pub(crate) const BOARD: &str = concat!(
    crate::rows::deploy_columns!(),
    " FROM services s CROSS JOIN environments e \
     CROSS JOIN LATERAL (SELECT d2.* FROM deploys d2 \
       WHERE d2.service_id = s.id AND d2.environment_id = e.id \
       ORDER BY d2.started_at DESC, d2.id DESC LIMIT 1) d \
     LEFT JOIN verdicts v ON v.deploy_id = d.id"
);

/// Appended to the read of a deploy whose status changes: the row stays locked
/// until the change commits.
pub(crate) const LOCK_DEPLOY_ROW: &str = " FOR UPDATE OF d";

/// Inserts an alert ($1 fingerprint … $12 now; returns its id). Labels and annotations are `jsonb`: the text is cast on the way in.
pub(crate) const INSERT_ALERT: &str = "INSERT INTO alerts (fingerprint, starts_at, ends_at, state, name, service, environment, \
     labels, annotations, generator_url, resolved_by, created_at, updated_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9::jsonb, $10, $11, $12, $12) RETURNING id";

/// Updates a stored alert ($1 its id, then as `INSERT_ALERT`).
pub(crate) const UPDATE_ALERT: &str = "UPDATE alerts SET ends_at = $2, state = $3, name = $4, service = $5, environment = $6, \
     labels = $7::jsonb, annotations = $8::jsonb, generator_url = $9, resolved_by = $10, \
     updated_at = $11 WHERE id = $1";

/// The alerts that overlap a span (`$1`–`$2`), the earliest first, at most `$3`: a
/// firing alert lasts until now; the JSON columns read as text (see `LIST_ALERTS`).
pub(crate) const ALERTS_OVERLAPPING: &str = "SELECT id, fingerprint, name, state, starts_at, ends_at, service, environment, labels::text AS labels, annotations::text AS annotations, \
     generator_url, resolved_by, updated_at \
     FROM alerts \
     WHERE starts_at <= $2 AND (state = 'firing' OR ends_at >= $1) \
     ORDER BY starts_at, id LIMIT $3";

/// Alerts by state and place, newest first; `$1` to `$3` NULL for any. `jsonb` is read back as text, and a NULL parameter needs its type named.
pub(crate) const LIST_ALERTS: &str = "SELECT id, fingerprint, name, state, starts_at, ends_at, service, environment, labels::text AS labels, \
     annotations::text AS annotations, generator_url, resolved_by, updated_at \
     FROM alerts \
     WHERE ($1::text IS NULL OR state = $1) AND ($2::text IS NULL OR service = $2) AND ($3::text IS NULL OR environment = $3) \
     ORDER BY starts_at DESC, id DESC LIMIT $4";

/// Samples and error events keep their times as `timestamptz`: a time as those
/// columns compare it.
pub(crate) fn signal_time(t: chrono::DateTime<chrono::Utc>) -> chrono::DateTime<chrono::Utc> {
    t
}

/// How samples and error events store a time: `timestamptz`.
pub(crate) type SignalTime = chrono::DateTime<chrono::Utc>;

/// A stored [`SignalTime`] back as a time.
pub(crate) fn from_signal_time(
    at: SignalTime,
) -> Result<chrono::DateTime<chrono::Utc>, houston_store::StoreError> {
    Ok(at)
}

/// Makes or updates an error group ($1 service id … $7 last seen; returns its id):
/// PostgreSQL's `LEAST` and `GREATEST`.
pub(crate) const UPSERT_ERROR_GROUP: &str = "INSERT INTO error_groups (service_id, environment_id, fingerprint, message, level, first_seen, last_seen) \
     VALUES ($1, $2, $3, $4, $5, $6, $7) \
     ON CONFLICT (service_id, environment_id, fingerprint) DO UPDATE SET \
     message = CASE WHEN excluded.last_seen >= error_groups.last_seen THEN excluded.message ELSE error_groups.message END, \
     level = CASE WHEN excluded.last_seen >= error_groups.last_seen THEN excluded.level ELSE error_groups.level END, \
     first_seen = LEAST(error_groups.first_seen, excluded.first_seen), \
     last_seen = GREATEST(error_groups.last_seen, excluded.last_seen) \
     RETURNING id";

/// How a group's versions come back from `ERROR_GROUPS`: an array.
pub(crate) type Versions = Vec<String>;

/// The versions of a group as read.
pub(crate) fn versions(versions: Versions) -> Result<Vec<String>, houston_store::StoreError> {
    Ok(versions)
}

/// A place's error groups in a window, biggest first ($1 service, $2 environment,
/// $3 and $4 the window): versions gathered with `array_agg`.
pub(crate) const ERROR_GROUPS: &str = "SELECT g.fingerprint, g.message, g.level, g.first_seen, g.last_seen, \
     sum(e.count)::int8 AS n, array_agg(DISTINCT e.version) \
     FROM error_groups g JOIN error_events e ON e.group_id = g.id \
     WHERE g.service_id = (SELECT id FROM services WHERE name = $1) \
     AND g.environment_id = (SELECT id FROM environments WHERE name = $2) \
     AND e.at >= $3 AND e.at <= $4 \
     GROUP BY g.id ORDER BY n DESC, g.last_seen DESC, g.id LIMIT 500";

/// Error and fatal events of a place counted per bin ($3 window start, $4 end, $5
/// bin in microseconds): microseconds since the window's start, whole, the same
/// bins as SQLite's.
pub(crate) const ERROR_COUNTS: &str = "SELECT floor(extract(epoch FROM e.at - $3) * 1000000 / $5)::int8 AS b, \
     sum(e.count)::int8 \
     FROM error_groups g JOIN error_events e ON e.group_id = g.id \
     WHERE g.service_id = (SELECT id FROM services WHERE name = $1) \
     AND g.environment_id = (SELECT id FROM environments WHERE name = $2) \
     AND g.level IN ('error', 'fatal') AND e.at >= $3 AND e.at < $4 \
     GROUP BY b ORDER BY b";
