//! Databases: names, the multi-database rule, the limit, the default
//! database, backups over time and restores.
use super::*;

fn s(secs: f64) -> Duration {
    Duration::from_secs_f64(secs)
}

fn refusal(e: V2Error) -> (u16, String) {
    (e.status.as_u16(), e.reason)
}

#[test]
fn database_names_follow_neo4j_rules() {
    let long = format!("a{}", "b".repeat(62));
    let too_long = format!("a{}", "b".repeat(63));
    // (name, valid)
    let cases: Vec<(&str, bool)> = vec![
        ("movies", true),
        ("my-db.v2", true),
        ("abc", true),
        ("a12", true),
        (&long, true),
        ("ab", false),
        (&too_long, false),
        ("1db", false),
        ("-db", false),
        (".db", false),
        ("Movies", false),
        ("my_db", false),
        ("my db", false),
        ("", false),
        ("dbé", false),
    ];
    for (name, valid) in cases {
        assert_eq!(valid_name(name), valid, "{name}");
    }
}

#[test]
fn creates_are_refused_as_live_refuses_them() {
    let mut d = InstanceDatabases::default();
    assert_eq!(d.list().len(), 1);
    assert_eq!(d.list()[0].name, DEFAULT_DATABASE);
    let made = d.create("movies", true).unwrap();
    assert_eq!(d.get(&made.id).unwrap(), made);
    // (name, multi_database, status, reason)
    let cases = [
        ("other", false, 409, "multi-db-only"),
        ("Bad_Name", true, 422, "validation-error"),
        ("ab", true, 422, "validation-error"),
        ("movies", true, 422, "validation-error"),
        (DEFAULT_DATABASE, true, 422, "validation-error"),
    ];
    for (name, multi, status, reason) in cases {
        let e = d.create(name, multi).unwrap_err();
        assert_eq!(refusal(e), (status, reason.to_string()), "{name} {multi}");
    }
    for i in d.list().len()..DATABASE_LIMIT {
        d.create(&format!("db{i:02}"), true).unwrap();
    }
    assert_eq!(d.list().len(), DATABASE_LIMIT);
    assert_eq!(
        refusal(d.create("one-more", true).unwrap_err()),
        (422, "database-limit-reached".into())
    );
}

#[test]
fn the_default_database_stays_and_others_go_at_once() {
    let mut d = InstanceDatabases::default();
    let default = d.default_id();
    assert_eq!(
        refusal(d.delete(&default).unwrap_err()),
        (409, "default-database-not-deletable".into())
    );
    let made = d.create("movies", true).unwrap();
    let t0 = Instant::now();
    d.back_up(&made.id, "t".into(), t0).unwrap();
    assert_eq!(d.delete(&made.id).unwrap(), made);
    assert_eq!(d.list().len(), 1);
    for e in [
        d.get(&made.id).unwrap_err(),
        d.delete(&made.id).unwrap_err(),
        d.backups(&made.id, t0, s(1.0)).unwrap_err(),
    ] {
        assert_eq!(refusal(e), (404, "database-not-found".into()));
    }
    assert!(d.all_backups(t0, s(1.0)).is_empty(), "its backups go too");
}

#[test]
fn backups_go_pending_in_progress_completed_and_restore_once_completed() {
    let mut d = InstanceDatabases::default();
    let db = d.default_id();
    let other = d.create("other", true).unwrap().id;
    let t0 = Instant::now();
    let takes = s(2.0);
    let b = d.back_up(&db, "2026-01-01T00:00:00Z".into(), t0).unwrap();
    // (seconds after, status)
    for (after, status) in [
        (0.0, "Pending"),
        (0.9, "Pending"),
        (1.0, "InProgress"),
        (1.9, "InProgress"),
        (2.0, "Completed"),
        (60.0, "Completed"),
    ] {
        let v = d.backup(&db, &b, t0 + s(after), takes).unwrap();
        assert_eq!((v.status.as_str(), v.exportable), (status, true), "{after}");
    }
    assert_eq!(d.backups(&db, t0, takes).unwrap().len(), 1);
    assert!(d.backups(&other, t0, takes).unwrap().is_empty());
    assert_eq!(
        refusal(d.backup(&other, &b, t0, takes).unwrap_err()),
        (404, "backup-not-found".into())
    );
    // Zero time: completed at once.
    let quick = d.back_up(&db, "t".into(), t0).unwrap();
    assert_eq!(
        d.backup(&db, &quick, t0, Duration::ZERO).unwrap().status,
        "Completed"
    );

    // (database, backup, at, status, reason)
    let refusals = [
        (db.as_str(), b.as_str(), 0.5, 400, "backup-not-completed"),
        (db.as_str(), b.as_str(), 1.5, 400, "backup-not-completed"),
        (other.as_str(), b.as_str(), 3.0, 400, "validation-error"),
        (db.as_str(), "nope", 3.0, 404, "backup-not-found"),
        ("nope", b.as_str(), 3.0, 404, "database-not-found"),
    ];
    for (database, backup, after, status, reason) in refusals {
        let e = d
            .restore(database, backup, "t".into(), t0 + s(after), takes)
            .unwrap_err();
        assert_eq!(
            refusal(e),
            (status, reason.to_string()),
            "{database} {backup} {after}"
        );
    }
    assert!(d.restores().is_empty());
    d.restore(&db, &b, "2026-01-01T00:01:00Z".into(), t0 + s(3.0), takes)
        .unwrap();
    assert_eq!(
        d.restores(),
        vec![DatabaseRestore {
            database_id: db.clone(),
            backup_id: b.clone(),
            at: "2026-01-01T00:01:00Z".into(),
        }]
    );
}
