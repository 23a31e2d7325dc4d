//! TLS to PostgreSQL (feature `postgres-tls`), against a server of the
//! test's own with a self-signed certificate: `sslmode=verify-full` with that
//! certificate as `sslrootcert` connects encrypted, writes and reads;
//! `require` encrypts without checking; `verify-full` against another
//! certificate, and `sslmode=require` on a server without TLS, are clear
//! errors, never a plain-text fallback.

use reagentic_protocol::{EntryFilter, PostgresStorage, ProtocolReader, Storage};

use crate::support::postgres::{connect, database, Cluster, ClusterOptions};
use crate::support::sample_entry;

/// How many of this database's sessions are encrypted.
fn encrypted_sessions(url: &str) -> i64 {
    connect(url)
        .query_one(
            "SELECT count(*) FROM pg_stat_ssl JOIN pg_stat_activity USING (pid) \
             WHERE ssl AND application_name = 'reagentic-protocol'",
            &[],
        )
        .unwrap()
        .get(0)
}

#[test]
fn verify_full_connects_encrypted_and_wrong_roots_are_refused() {
    let cluster = Cluster::start(ClusterOptions::tls())
        .unwrap_or_else(|reason| panic!("no TLS cluster for this test: {reason}"));
    let plain = cluster.database("tls");
    let root = cluster.certificate();
    let verified = format!("{plain}?sslmode=verify-full&sslrootcert={}", root.display());
    let mut storage = PostgresStorage::connect(&verified).expect("verify-full");
    storage.write_batch(&[sample_entry(1)]).unwrap();
    assert_eq!(encrypted_sessions(&plain), 1);
    let reader = ProtocolReader::open(&verified).unwrap();
    assert_eq!(
        reader.query(&EntryFilter::default()).unwrap(),
        vec![sample_entry(1)]
    );
    storage.close().unwrap();

    // `require`: encrypted, the certificate not checked (libpq's meaning).
    drop(reader);
    let mut required = PostgresStorage::connect(&format!("{plain}?sslmode=require")).unwrap();
    required.write_batch(&[sample_entry(2)]).unwrap();
    assert!(encrypted_sessions(&plain) >= 1);
    let unencrypted: i64 = connect(&plain)
        .query_one(
            "SELECT count(*) FROM pg_stat_ssl JOIN pg_stat_activity USING (pid) \
             WHERE NOT ssl AND application_name = 'reagentic-protocol'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(unencrypted, 0, "no session fell back to plain text");
    required.close().unwrap();

    // Another certificate as the root: refused, naming the database.
    let other = Cluster::start(ClusterOptions::tls()).expect("a second TLS cluster");
    let wrong = format!(
        "{plain}?sslmode=verify-full&sslrootcert={}",
        other.certificate().display()
    );
    let err = PostgresStorage::connect(&wrong).unwrap_err();
    assert!(err.to_string().contains("/tls"), "{err}");
    assert!(
        err.to_string().contains("TLS") || err.to_string().contains("certificate"),
        "{err}"
    );
}

#[test]
fn require_on_a_server_without_tls_is_an_error() {
    let url = database("no_tls");
    let err = PostgresStorage::connect(&format!("{url}?sslmode=require")).unwrap_err();
    assert!(err.to_string().contains("no_tls"), "{err}");
}
