//! Finding a trace's or a session's entries without a B-tree index on the
//! trace or session id.
//!
//! Such an index puts every insert where its key falls: for random trace ids
//! that is a different page each time, and for a thousand conversations
//! going on at once a thousand places. A commit of a few thousand entries
//! then rewrote megabytes of index pages, and writing ran at a sixth of what
//! the same rows cost without those indexes (35 000–41 000 against 313 000
//! rows/s, inserting 512-row transactions of one-span traces; with a session
//! index over a thousand interleaved sessions, 75 000 against 184 000 rows/s
//! with none). So these indexes are kept as *runs*, as a log-structured merge
//! tree keeps its levels:
//!
//! - each batch appends one run per field: its keys' rowids as ranges of
//!   consecutive rowids, `(key, first, count)`, sorted, under a new run
//!   number, so the rows land at the end of `protocol_index_runs` (its key
//!   starts with the run) and a commit touches a few pages. A batch holds a
//!   span's start and end entries side by side and, from an OTLP request or
//!   a lone agent, a whole run's: one range instead of a row per entry
//!   (schemas 3 and 4 wrote a row per entry, which made the runs and their
//!   merging nearly a third of the writer's time);
//! - a look-up probes every run of the field through the primary key (one
//!   seek per run, see `codec::sqlite::RUN_ROWIDS`);
//! - to keep the runs few, [`FANOUT`] runs of one field and level are merged into
//!   one run of the next level, in steps of at most [`STEP_ROWS`] ranges,
//!   each its own transaction, so the writer never stops for long. A step
//!   moves the sources' ranges below a boundary key into the target run, so
//!   at every commit each range is in exactly one run and look-ups stay
//!   exact. Runs two levels or more below every merge under way are merged
//!   alongside it, ahead of its steps, so a long merge of high levels does
//!   not let the low ones pile up.
//!
//! Every step re-reads the state inside its transaction, so several processes
//! writing one file share the work without getting in each other's way.

use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{params, Connection, OptionalExtension, Row, TransactionBehavior};

use crate::codec::sqlite::RunField;
use crate::entry::ProtocolEntry;

/// How many runs of one field and level are merged into one run of the next.
///
/// Every level a range passes through rewrites it once (a move: read, insert,
/// delete), so under a long burst the levels, not the runs' appends, were
/// the writer's cost: with eight, on a burst of 800 000 one-span-per-trace
/// entries `merge_step` took 28 % of the writer's `perf` samples and
/// `append_runs` 11 %. Thirty-two makes two fifths fewer levels (log 32
/// against log 8 of the runs): the writer's CPU per entry on that burst
/// 8.5–9.2 → 6.6–8.2 µs, three interleaved pairs of `--scenario
/// ours_sqlite_tool_burst --spans 400000`. A look-up probes up to 31 runs
/// a level instead of 7, over fewer levels — one primary-key seek each,
/// which the bench's reads on 1 000 000 entries do not show (a trace 0.19–0.20 → 0.13–0.14
/// ms, `sessions` 7.3–7.5 → 5.1–5.3 ms, two interleaved pairs of `--scenario
/// read_1m --spans 1000000`; the hour's noise is larger than the probes).
pub(crate) const FANOUT: i64 = 32;

/// At most this many ranges move in one merge step (plus the rest of the
/// last key, whose ranges are never split across steps): about a megabyte of
/// rows, a few milliseconds of the writer's time.
pub(crate) const STEP_ROWS: i64 = 16_384;

/// Appends the runs of one batch, inside the batch's transaction: `inserted`
/// are the entries the batch really inserted, with their rowids.
pub(crate) fn append_runs(
    tx: &Connection,
    inserted: &[(&ProtocolEntry, i64)],
) -> rusqlite::Result<()> {
    let mut pairs: Vec<(&str, i64)> = Vec::with_capacity(inserted.len());
    for field in RunField::ALL {
        pairs.clear();
        pairs.extend(
            inserted
                .iter()
                .filter_map(|(entry, rowid)| Some((field.key_of(entry)?, *rowid))),
        );
        append_run(tx, field, &mut pairs)?;
    }
    Ok(())
}

/// Appends one session run of `(session, rowid)` pairs: rows already stored
/// whose session a later copy filled in (`storage::fill`), inside the batch's
/// transaction. Each such row had no session, so it is in no session run yet.
pub(crate) fn append_session_pairs(
    tx: &Connection,
    pairs: &mut [(&str, i64)],
) -> rusqlite::Result<()> {
    append_run(tx, RunField::Session, pairs)
}

/// Ranges inserted by one statement: one statement per range cost as much
/// as inserting the range itself.
const RANGES_PER_INSERT: usize = 128;

/// The INSERT of [`RANGES_PER_INSERT`] ranges of one run.
static INSERT_RANGES: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    let rows = vec!["(?1, ?, ?, ?)"; RANGES_PER_INSERT].join(", ");
    format!("INSERT INTO protocol_index_runs (run, key, entry, count) VALUES {rows}")
});

/// A key's consecutive rowids `first, first + 1, …` (`count` of them).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Range<'k> {
    key: &'k [u8],
    first: i64,
    count: i64,
}

/// The ranges of `(key, rowid)` pairs sorted by key, then rowid.
fn ranges<'k>(sorted: &[(&'k str, i64)]) -> Vec<Range<'k>> {
    let mut ranges: Vec<Range<'k>> = Vec::new();
    for &(key, rowid) in sorted {
        match ranges.last_mut() {
            Some(last) if last.key == key.as_bytes() && last.first + last.count == rowid => {
                last.count += 1;
            }
            // A rowid twice (the same row filled twice in one batch) is one entry.
            Some(last) if last.key == key.as_bytes() && rowid < last.first + last.count => {}
            _ => ranges.push(Range {
                key: key.as_bytes(),
                first: rowid,
                count: 1,
            }),
        }
    }
    ranges
}

/// Sorts `(key, rowid)` pairs by key, then rowid, comparing each key's first
/// eight bytes as one number before the whole key: sorting a batch's trace
/// and session ids as strings (a call to `memcmp` a comparison) was 1 300
/// of the writer's 23 400 instructions an entry, 640 this way (callgrind of
/// `sqlite_storage_tool_burst --spans 20000`, the sort's `ipnsort` 52 → 26 M
/// for 40 000 entries; whose spans are each a trace of their own in one of
/// a thousand sessions). Keys sharing their first eight bytes
/// (`conv-2026…`) fall back to comparing whole keys, as before.
fn sort_pairs(pairs: &mut [(&str, i64)]) {
    let mut keyed: Vec<(u64, &str, i64)> = pairs
        .iter()
        .map(|&(key, rowid)| (leading_bytes(key), key, rowid))
        .collect();
    keyed.sort_unstable();
    for (pair, (_, key, rowid)) in pairs.iter_mut().zip(keyed) {
        *pair = (key, rowid);
    }
}

/// A key's first eight bytes as a big-endian number, zero-padded: keys whose
/// numbers differ compare as their numbers do (a zero byte sorts first, as
/// a shorter key does), and equal numbers leave it to the whole keys.
fn leading_bytes(key: &str) -> u64 {
    let mut bytes = [0; 8];
    let head = &key.as_bytes()[..key.len().min(8)];
    bytes[..head.len()].copy_from_slice(head);
    u64::from_be_bytes(bytes)
}

/// Appends one run of `field`'s `(key, rowid)` pairs, as ranges.
fn append_run(tx: &Connection, field: RunField, pairs: &mut [(&str, i64)]) -> rusqlite::Result<()> {
    if pairs.is_empty() {
        return Ok(());
    }
    sort_pairs(pairs);
    let ranges = ranges(pairs);
    let run = next_run(tx)?;
    tx.prepare_cached(
        "INSERT INTO protocol_index_run_list (run, field, level, merging_into)
         VALUES (?1, ?2, 0, NULL)",
    )?
    .execute(params![run, field.name()])?;
    insert_ranges(tx, run, &ranges)
}

/// Appends `ranges`, sorted, to `run`.
fn insert_ranges(tx: &Connection, run: i64, ranges: &[Range<'_>]) -> rusqlite::Result<()> {
    let mut chunks = ranges.chunks_exact(RANGES_PER_INSERT);
    let mut insert = tx.prepare_cached(&INSERT_RANGES)?;
    for chunk in &mut chunks {
        insert.raw_bind_parameter(1, run)?;
        for (i, range) in chunk.iter().enumerate() {
            insert.raw_bind_parameter(2 + 3 * i, text(range.key))?;
            insert.raw_bind_parameter(3 + 3 * i, range.first)?;
            insert.raw_bind_parameter(4 + 3 * i, range.count)?;
        }
        insert.raw_execute()?;
    }
    let mut one = tx.prepare_cached(
        "INSERT INTO protocol_index_runs (run, key, entry, count) VALUES (?1, ?2, ?3, ?4)",
    )?;
    for range in chunks.remainder() {
        one.execute(params![run, text(range.key), range.first, range.count])?;
    }
    Ok(())
}

/// Indexes the entries a file held before it had index runs (a migration
/// from an older schema), one run per field, inside the migration's
/// transaction.
pub(crate) fn index_existing(tx: &Connection) -> rusqlite::Result<()> {
    for field in RunField::ALL {
        let column = field.name();
        // Fixed column names from the codec, never input.
        let entries: i64 = tx.query_row(
            &format!("SELECT count(*) FROM protocol_entries WHERE {column} IS NOT NULL"),
            [],
            |r| r.get(0),
        )?;
        if entries == 0 {
            continue;
        }
        let run = next_run(tx)?;
        // The level a run of this size would have reached by merging batches
        // of a few hundred entries, so it is merged with runs of its size.
        let level = (entries / 512).max(1).ilog(FANOUT).min(30);
        tx.execute(
            "INSERT INTO protocol_index_run_list (run, field, level, merging_into)
             VALUES (?1, ?2, ?3, NULL)",
            params![run, column, level],
        )?;
        // A key's consecutive rowids share `rowid - row_number()`: one range.
        tx.execute(
            &format!(
                "INSERT INTO protocol_index_runs (run, key, entry, count)
                 SELECT ?1, key, min(rowid), count(*) FROM (
                     SELECT {column} AS key, rowid,
                            rowid - row_number() OVER (PARTITION BY {column} ORDER BY rowid)
                                AS island
                     FROM protocol_entries WHERE {column} IS NOT NULL)
                 GROUP BY key, island ORDER BY key, min(rowid)"
            ),
            [run],
        )?;
    }
    Ok(())
}

/// The number of the next run: after every run there is.
fn next_run(tx: &Connection) -> rusqlite::Result<i64> {
    tx.prepare_cached("SELECT coalesce(max(run), 0) + 1 FROM protocol_index_run_list")?
        .query_row([], |r| r.get(0))
}

/// Does one bounded step of merging, in a transaction of its own; returns
/// whether there may be more to do. Nothing to merge costs two reads of
/// the run list, without the write lock.
pub(crate) fn merge_step(conn: &mut Connection) -> rusqlite::Result<bool> {
    // Cheap test first: most calls find nothing.
    if lowest_merge_in_progress(conn)?.is_none() && runs_to_merge(conn)?.is_none() {
        return Ok(false);
    }
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let target = match (lowest_merge_in_progress(&tx)?, runs_to_merge(&tx)?) {
        // Runs at least two levels below every merge under way are merged
        // first, alongside: a merge of high levels takes thousands of steps,
        // one a batch under load, and the runs of the levels below, which
        // every look-up probes, would pile up for as long.
        (Some((_, level)), Some((field, from))) if from + 1 < level => {
            start_merge(&tx, &field, from)?
        }
        (Some((target, _)), _) => target,
        (None, Some((field, from))) => start_merge(&tx, &field, from)?,
        // Another process finished it since the test above.
        (None, None) => return Ok(false),
    };
    move_a_step(&tx, target)?;
    tx.commit()?;
    Ok(true)
}

/// The merge under way into the lowest level, if any: its target and level.
fn lowest_merge_in_progress(conn: &Connection) -> rusqlite::Result<Option<(i64, i64)>> {
    conn.prepare_cached(
        "SELECT run, level FROM protocol_index_run_list WHERE run IN (
             SELECT merging_into FROM protocol_index_run_list WHERE merging_into IS NOT NULL)
         ORDER BY level, run LIMIT 1",
    )?
    .query_row([], |r| Ok((r.get(0)?, r.get(1)?)))
    .optional()
}

/// The field and lowest level with enough runs to merge.
fn runs_to_merge(conn: &Connection) -> rusqlite::Result<Option<(String, i64)>> {
    conn.prepare_cached(
        "SELECT field, level FROM protocol_index_run_list WHERE merging_into IS NULL
         GROUP BY field, level HAVING count(*) >= ?1 ORDER BY level, field LIMIT 1",
    )?
    .query_row([FANOUT], |r| Ok((r.get(0)?, r.get(1)?)))
    .optional()
}

/// Creates the target run one level up and marks the field's level's oldest
/// runs as merging into it.
fn start_merge(tx: &Connection, field: &str, level: i64) -> rusqlite::Result<i64> {
    let target = next_run(tx)?;
    tx.execute(
        "INSERT INTO protocol_index_run_list (run, field, level, merging_into)
         VALUES (?1, ?2, ?3, NULL)",
        params![target, field, level + 1],
    )?;
    tx.execute(
        "UPDATE protocol_index_run_list SET merging_into = ?1 WHERE run IN (
             SELECT run FROM protocol_index_run_list
             WHERE field = ?2 AND level = ?3 AND merging_into IS NULL AND run != ?1
             ORDER BY run LIMIT ?4)",
        params![target, field, level, FANOUT],
    )?;
    Ok(target)
}

/// A key as SQLite text, from its bytes: keys are read back as bytes, so
/// merging never depends on what another writer stored being UTF-8.
fn text(key: &[u8]) -> ToSqlOutput<'_> {
    ToSqlOutput::Borrowed(ValueRef::Text(key))
}

/// The key in a row's first column, as bytes.
fn key_bytes(row: &Row<'_>) -> rusqlite::Result<Vec<u8>> {
    row.get_ref(0)?.as_bytes().map(<[u8]>::to_vec).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e))
    })
}

/// The ranges read from the sources whose key `keep` accepts, sorted
/// together by key and rowid (each source's come sorted; at most
/// `STEP_ROWS` and one a source, so a sort of them all is cheap).
fn merged<'k>(
    heads: &'k [Vec<(Vec<u8>, i64, i64)>],
    keep: impl Fn(&[u8]) -> bool,
) -> Vec<Range<'k>> {
    let mut ranges: Vec<Range<'k>> = heads
        .iter()
        .flatten()
        .filter(|(key, _, _)| keep(key))
        .map(|(key, first, count)| Range {
            key,
            first: *first,
            count: *count,
        })
        .collect();
    ranges.sort_unstable_by(|a, b| (a.key, a.first).cmp(&(b.key, b.first)));
    ranges
}

/// Moves the sources' ranges below a boundary into `target`; when none are
/// left, the sources are gone and the merge is done.
///
/// The ranges that move are read out, merged here and appended to the target
/// the way a batch's run is (`insert_ranges`). Doing it in one `INSERT …
/// SELECT … ORDER BY` made SQLite sort them and, the source being the table
/// written, copy them into a temporary table first: a range moved cost 3.2
/// times its first append, 1.9 this way (callgrind of `--scenario
/// sqlite_storage_tool_burst --spans 300000`: `merge_step` 7.44 → 4.65 G
/// instructions for the 524 288 ranges moved, `append_runs` 2.7 G for the
/// 600 000 appended). That statement is
/// kept for the one case whose ranges are not all read here: a key whose
/// ranges fill a source's share of the step, which moves whole, alone.
fn move_a_step(tx: &Connection, target: i64) -> rusqlite::Result<()> {
    let sources: Vec<i64> = tx
        .prepare_cached(
            "SELECT run FROM protocol_index_run_list WHERE merging_into = ?1 ORDER BY run",
        )?
        .query_map([target], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    // Each source gives at most its share of the step: the boundary is the
    // smallest of the keys that many ranges into each source.
    let share = (STEP_ROWS / i64::try_from(sources.len().max(1)).unwrap_or(1)).max(1);
    let mut heads = Vec::with_capacity(sources.len());
    let mut read = tx.prepare_cached(
        "SELECT key, entry, count FROM protocol_index_runs WHERE run = ?1
         ORDER BY key, entry LIMIT ?2",
    )?;
    for source in &sources {
        let head: Vec<(Vec<u8>, i64, i64)> = read
            .query_map(params![source, share + 1], |r| {
                Ok((key_bytes(r)?, r.get(1)?, r.get(2)?))
            })?
            .collect::<rusqlite::Result<_>>()?;
        heads.push(head);
    }
    let smallest = heads
        .iter()
        .filter_map(|head| head.first())
        .map(|(key, _, _)| key.as_slice())
        .min();
    let boundary = heads
        .iter()
        .filter_map(|head| head.get(usize::try_from(share).ok()?))
        .map(|(key, _, _)| key.as_slice())
        .min();
    let sources_sql = "run IN (SELECT run FROM protocol_index_run_list WHERE merging_into = ?1)";
    match boundary {
        // The smallest key left reaches past a source's share: all of its
        // ranges move now, alone (a key's ranges never split across steps).
        Some(boundary) if smallest == Some(boundary) => {
            tx.execute(
                &format!(
                    "INSERT INTO protocol_index_runs (run, key, entry, count)
                     SELECT ?1, key, entry, count FROM protocol_index_runs
                     WHERE {sources_sql} AND key = ?2 ORDER BY key, entry"
                ),
                params![target, text(boundary)],
            )?;
            tx.execute(
                &format!("DELETE FROM protocol_index_runs WHERE {sources_sql} AND key = ?2"),
                params![target, text(boundary)],
            )?;
        }
        // The ranges below the boundary, every one of them among those read
        // (each source's are before its key at the share).
        Some(boundary) => {
            insert_ranges(tx, target, &merged(&heads, |key| key < boundary))?;
            let mut delete =
                tx.prepare_cached("DELETE FROM protocol_index_runs WHERE run = ?1 AND key < ?2")?;
            for source in &sources {
                delete.execute(params![source, text(boundary)])?;
            }
        }
        // Every source fits in this step, read whole: the last one.
        None => {
            insert_ranges(tx, target, &merged(&heads, |_| true))?;
            tx.execute(
                &format!("DELETE FROM protocol_index_runs WHERE {sources_sql}"),
                [target],
            )?;
            tx.execute(
                "DELETE FROM protocol_index_run_list WHERE merging_into = ?1",
                [target],
            )?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::codec::sqlite::CREATE_TABLES;

    proptest::proptest! {
        /// Keys short and long, sharing their first bytes or not, with zero
        /// bytes and any Unicode: the same order as sorting the pairs.
        #[test]
        fn pairs_sort_as_their_keys_and_rowids_do(
            pairs in proptest::collection::vec(
                ("(ab|\\x00|é){0,5}[a-c\\x00]{0,12}", 0..4_i64),
                0..64,
            )
        ) {
            let mut ours: Vec<(&str, i64)> =
                pairs.iter().map(|(key, rowid)| (key.as_str(), *rowid)).collect();
            let mut expected = ours.clone();
            expected.sort_unstable();
            sort_pairs(&mut ours);
            proptest::prop_assert_eq!(ours, expected);
        }
    }

    fn database() -> Connection {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(&CREATE_TABLES).unwrap();
        conn
    }

    /// The rowids the field's runs hold for `key`, every range counted out
    /// (the tables here have no entry rows for a look-up to join with).
    fn lookup(conn: &Connection, field: RunField, key: &str) -> Vec<i64> {
        let mut rows: Vec<i64> = conn
            .prepare(
                "WITH RECURSIVE rowids (id, last) AS (
                     SELECT t.entry, t.entry + t.count - 1 FROM protocol_index_run_list AS l
                     CROSS JOIN protocol_index_runs AS t ON t.run = l.run AND t.key = ?1
                     WHERE l.field = ?2
                     UNION ALL
                     SELECT id + 1, last FROM rowids WHERE id < last)
                 SELECT id FROM rowids",
            )
            .unwrap()
            .query_map(params![key, field.name()], |r| r.get(0))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        rows.sort_unstable();
        rows
    }

    fn runs(conn: &Connection) -> Vec<(String, i64)> {
        conn.prepare("SELECT field, level FROM protocol_index_run_list ORDER BY run")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap()
    }

    fn append(conn: &mut Connection, field: RunField, pairs: &mut [(&str, i64)]) {
        let tx = conn.transaction().unwrap();
        append_run(&tx, field, pairs).unwrap();
        tx.commit().unwrap();
    }

    #[test]
    fn merging_keeps_every_pair_findable_at_every_step() {
        let mut conn = database();
        // FANOUT² batches of 40 entries over 50 traces: every trace in many
        // runs.
        let fanout = usize::try_from(FANOUT).unwrap();
        let traces: Vec<String> = (0..50).map(|t| format!("{:032x}", t * 7919)).collect();
        let mut expected: Vec<Vec<i64>> = vec![Vec::new(); traces.len()];
        let mut rowid = 0;
        for _ in 0..fanout * fanout {
            let mut pairs = Vec::new();
            for i in 0..40 {
                rowid += 1;
                let t = (rowid as usize * 13 + i) % traces.len();
                pairs.push((traces[t].as_str(), rowid));
                expected[t].push(rowid);
            }
            append(&mut conn, RunField::Trace, &mut pairs);
            // A few steps between batches, as the writer does.
            for _ in 0..3 {
                if !merge_step(&mut conn).unwrap() {
                    break;
                }
                for (t, trace) in traces.iter().enumerate() {
                    assert_eq!(lookup(&conn, RunField::Trace, trace), expected[t]);
                }
            }
        }
        while merge_step(&mut conn).unwrap() {}
        for (t, trace) in traces.iter().enumerate() {
            assert_eq!(lookup(&conn, RunField::Trace, trace), expected[t]);
        }
        // FANOUT² level-0 runs became FANOUT level-1 runs, then one level-2 run.
        assert_eq!(runs(&conn), vec![("trace_id".to_owned(), 2)]);
        let entries: i64 = conn
            .query_row("SELECT sum(count) FROM protocol_index_runs", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(entries, rowid, "each entry once");
    }

    #[test]
    fn low_levels_are_merged_while_a_merge_of_high_ones_is_under_way() {
        let mut conn = database();
        let traces: Vec<String> = (0..50).map(|t| format!("{:032x}", t * 7919)).collect();
        let mut expected: Vec<Vec<i64>> = vec![Vec::new(); traces.len()];
        let mut rowid = 0;
        let mut append_pairs = |conn: &mut Connection, count: usize| {
            let mut pairs = Vec::new();
            for _ in 0..count {
                rowid += 1;
                let t = (rowid as usize * 7) % traces.len();
                pairs.push((traces[t].as_str(), rowid));
                expected[t].push(rowid);
            }
            append(conn, RunField::Trace, &mut pairs);
        };
        // FANOUT level-1 runs holding more ranges than one step moves.
        let per_run = usize::try_from(STEP_ROWS).unwrap() / 16;
        for _ in 0..FANOUT {
            append_pairs(&mut conn, per_run);
        }
        conn.execute("UPDATE protocol_index_run_list SET level = 1", [])
            .unwrap();
        assert!(merge_step(&mut conn).unwrap());
        assert_eq!(
            lowest_merge_in_progress(&conn).unwrap().map(|m| m.1),
            Some(2)
        );
        // Meanwhile, FANOUT batches' runs at level 0: merged at the next
        // step, ahead of the big merge, which goes on after.
        for _ in 0..FANOUT {
            append_pairs(&mut conn, 3);
        }
        assert!(merge_step(&mut conn).unwrap());
        let levels = |conn: &Connection| -> Vec<i64> {
            runs(conn).into_iter().map(|(_, level)| level).collect()
        };
        assert!(!levels(&conn).contains(&0), "{:?}", levels(&conn));
        assert_eq!(
            lowest_merge_in_progress(&conn).unwrap().map(|m| m.1),
            Some(2)
        );
        let check = |conn: &Connection| {
            for (t, trace) in traces.iter().enumerate() {
                assert_eq!(lookup(conn, RunField::Trace, trace), expected[t]);
            }
        };
        check(&conn);
        while merge_step(&mut conn).unwrap() {
            check(&conn);
        }
        assert_eq!(levels(&conn), [2, 1]);
    }

    #[test]
    fn fields_are_merged_and_found_apart() {
        let mut conn = database();
        for n in 0..FANOUT {
            append(&mut conn, RunField::Trace, &mut [("same", n * 2 + 1)]);
            append(&mut conn, RunField::Session, &mut [("same", n * 2 + 2)]);
        }
        let (odd, even): (Vec<i64>, Vec<i64>) = (1..=2 * FANOUT).partition(|n| n % 2 == 1);
        assert_eq!(lookup(&conn, RunField::Trace, "same"), odd);
        while merge_step(&mut conn).unwrap() {}
        assert_eq!(lookup(&conn, RunField::Trace, "same"), odd);
        assert_eq!(lookup(&conn, RunField::Session, "same"), even);
        assert_eq!(
            runs(&conn),
            vec![("session_id".to_owned(), 1), ("trace_id".to_owned(), 1)],
            "the lower level first, then by field name"
        );
    }

    #[test]
    fn a_step_moves_a_bounded_number_of_pairs_but_never_splits_a_key() {
        let mut conn = database();
        // FANOUT runs of 80 000 pairs in all: one big trace, many small ones,
        // each a range of its own (the big trace's rowids are every other
        // one).
        let per_run = 80_000 / usize::try_from(FANOUT).unwrap();
        let mut rowid = 0;
        for _ in 0..FANOUT {
            let names: Vec<String> = (0..per_run)
                .map(|i| {
                    // "a-big" sorts before every "t…".
                    if i < per_run * 6 / 10 && i % 2 == 0 {
                        "a-big".to_owned()
                    } else {
                        format!("t{i:08}")
                    }
                })
                .collect();
            let mut pairs: Vec<(&str, i64)> = names
                .iter()
                .map(|n| {
                    rowid += 1;
                    (n.as_str(), rowid)
                })
                .collect();
            append(&mut conn, RunField::Trace, &mut pairs);
        }
        let count = |conn: &Connection, run: i64| -> i64 {
            conn.query_row(
                "SELECT count(*) FROM protocol_index_runs WHERE run = ?1",
                [run],
                |r| r.get(0),
            )
            .unwrap()
        };
        assert!(merge_step(&mut conn).unwrap());
        // The big trace (24 000 pairs, more than a step) moved whole, alone.
        let target = FANOUT + 1;
        assert_eq!(count(&conn, target), 24_000);
        assert_eq!(lookup(&conn, RunField::Trace, "a-big").len(), 24_000);
        assert!(merge_step(&mut conn).unwrap());
        let after_two = count(&conn, target);
        assert!(after_two - 24_000 <= STEP_ROWS, "{after_two}");
        while merge_step(&mut conn).unwrap() {}
        assert_eq!(count(&conn, target), 80_000);
        assert_eq!(runs(&conn), vec![("trace_id".to_owned(), 1)]);
    }

    #[test]
    fn existing_entries_are_indexed_as_one_run_per_field() {
        let conn = database();
        conn.execute_batch(
            "INSERT INTO protocol_entries (schema, entry_id, timestamp, event_type, trace_id,
                 span_id, session_id, name, status)
             VALUES (1, 'a', 't1', 'tool_end', 'x', 's', 'conv', 'n', 'ok'),
                    (1, 'b', 't2', 'tool_end', 'y', 's', NULL, 'n', 'ok'),
                    (1, 'c', 't3', 'tool_end', 'x', 's', 'conv', 'n', 'ok'),
                    (1, 'd', 't4', 'tool_end', 'x', 's', 'conv', 'n', 'ok')",
        )
        .unwrap();
        index_existing(&conn).unwrap();
        assert_eq!(lookup(&conn, RunField::Trace, "x"), vec![1, 3, 4]);
        assert_eq!(lookup(&conn, RunField::Trace, "y"), vec![2]);
        assert_eq!(lookup(&conn, RunField::Session, "conv"), vec![1, 3, 4]);
        assert_eq!(
            runs(&conn),
            vec![("trace_id".to_owned(), 0), ("session_id".to_owned(), 0)]
        );
        assert_eq!(
            ranges_of(&conn, "x"),
            vec![(1, 1), (3, 2)],
            "consecutive rowids are one range"
        );
    }

    #[test]
    fn keys_that_are_not_utf_8_merge_like_any_other() {
        // Another writer may have stored a key that is not UTF-8; merging
        // reads keys as bytes and must neither fail on it nor lose it.
        let mut conn = database();
        let mut rowid = 0;
        for _ in 0..FANOUT - 1 {
            rowid += 1;
            append(&mut conn, RunField::Trace, &mut [("a-trace", rowid)]);
        }
        conn.execute_batch(&format!(
            "INSERT INTO protocol_index_run_list (run, field, level) VALUES ({FANOUT}, 'trace_id', 0);
             INSERT INTO protocol_index_runs (run, key, entry, count)
             VALUES ({FANOUT}, CAST(x'ff00fe' AS TEXT), 100, 2), ({FANOUT}, 'a-trace', 102, 1);"
        ))
        .unwrap();
        while merge_step(&mut conn).unwrap() {}
        assert_eq!(runs(&conn), vec![("trace_id".to_owned(), 1)]);
        let odd: (i64, i64) = conn
            .query_row(
                "SELECT entry, count FROM protocol_index_runs WHERE key = CAST(x'ff00fe' AS TEXT)",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert_eq!(odd, (100, 2));
        let mut expected: Vec<i64> = (1..FANOUT).collect();
        expected.push(102);
        assert_eq!(lookup(&conn, RunField::Trace, "a-trace"), expected);
    }

    fn ranges_of(conn: &Connection, key: &str) -> Vec<(i64, i64)> {
        conn.prepare("SELECT entry, count FROM protocol_index_runs WHERE key = ?1 ORDER BY entry")
            .unwrap()
            .query_map([key], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap()
    }

    #[test]
    fn a_keys_consecutive_rowids_are_appended_as_one_range() {
        let mut conn = database();
        // A rowid twice (a row filled twice in one batch) is one entry.
        let mut pairs = [
            ("a", 1),
            ("b", 2),
            ("a", 3),
            ("a", 4),
            ("b", 5),
            ("a", 4),
            ("a", 6),
        ];
        append(&mut conn, RunField::Trace, &mut pairs);
        assert_eq!(ranges_of(&conn, "a"), vec![(1, 1), (3, 2), (6, 1)]);
        assert_eq!(ranges_of(&conn, "b"), vec![(2, 1), (5, 1)]);
        assert_eq!(lookup(&conn, RunField::Trace, "a"), vec![1, 3, 4, 6]);
        assert_eq!(lookup(&conn, RunField::Trace, "b"), vec![2, 5]);
        assert!(lookup(&conn, RunField::Trace, "c").is_empty());
    }

    #[test]
    fn ranges_stay_whole_and_findable_through_merges() {
        let mut conn = database();
        // 64 batches of four traces, each trace's entries side by side, as a
        // batch of whole agent runs holds them.
        let mut rowid = 0;
        let mut expected: BTreeMap<String, Vec<i64>> = BTreeMap::new();
        for batch in 0..64 {
            let names: Vec<String> = (0..4)
                .map(|t| format!("{:032x}", (batch * 4 + t) * 7919))
                .collect();
            let mut pairs = Vec::new();
            for name in &names {
                for _ in 0..10 {
                    rowid += 1;
                    pairs.push((name.as_str(), rowid));
                    expected.entry(name.clone()).or_default().push(rowid);
                }
            }
            append(&mut conn, RunField::Trace, &mut pairs);
            merge_step(&mut conn).unwrap();
        }
        while merge_step(&mut conn).unwrap() {}
        for (trace, rowids) in &expected {
            assert_eq!(&lookup(&conn, RunField::Trace, trace), rowids);
        }
        let rows: i64 = conn
            .query_row("SELECT count(*) FROM protocol_index_runs", [], |r| r.get(0))
            .unwrap();
        assert_eq!(
            rows, 256,
            "one range per trace, 40 times fewer rows than entries"
        );
    }
}
