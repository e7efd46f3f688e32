//! Every script in `sql/` runs as it is with `teams-sql --demo -f` (the README promises it),
//! writing under a relative `out/` directory.

mod common;

use std::path::PathBuf;

use common::{isolated_command, stderr_of, stdout_of};

fn sql_file(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../sql")
        .join(name)
}

fn run_demo(cwd: &std::path::Path, name: &str) -> std::process::Output {
    let home = tempfile::tempdir().unwrap();
    let out = isolated_command(home.path(), cwd)
        .args(["--demo", "--format", "csv", "-f"])
        .arg(sql_file(name))
        .output()
        .unwrap();
    assert!(out.status.success(), "{name} failed:\n{}", stderr_of(&out));
    out
}

#[test]
fn explore_runs_against_the_demo_tenant() {
    let dir = tempfile::tempdir().unwrap();
    let out = run_demo(dir.path(), "explore.sql");
    let stdout = stdout_of(&out);
    for header in [
        "team,visibility,channels,members,posts",
        "team,channel,membership_type,posts,replies,total",
        "person,reactions,kinds",
        "team,channel,thread,starts_with,replies,last_reply",
    ] {
        assert!(stdout.contains(header), "missing {header} in:\n{stdout}");
    }
    // Four statements, four summaries.
    assert_eq!(stderr_of(&out).matches("graph: ").count(), 4);
}

#[test]
fn export_parquet_writes_every_table() {
    let dir = tempfile::tempdir().unwrap();
    run_demo(dir.path(), "export_parquet.sql");
    for f in [
        "teams.parquet",
        "channels.parquet",
        "members.parquet",
        "messages.parquet",
        "message_replies.parquet",
        "channels.csv",
    ] {
        let p = dir.path().join("out/parquet").join(f);
        assert!(p.exists(), "{} missing", p.display());
    }
}

#[test]
fn export_delta_is_idempotent_on_rerun() {
    let dir = tempfile::tempdir().unwrap();
    let first = stdout_of(&run_demo(dir.path(), "export_delta.sql"));
    assert_eq!(first.matches(",merge,").count(), 5, "{first}");
    // Same seed, unchanged tenant: the second run merges and changes nothing.
    let second = stdout_of(&run_demo(dir.path(), "export_delta.sql"));
    assert_eq!(second.matches(",merge,0,0,0,").count(), 5, "{second}");
    for t in [
        "teams",
        "channels",
        "members",
        "messages",
        "message_replies",
    ] {
        assert!(
            dir.path()
                .join("out/delta")
                .join(t)
                .join("_delta_log")
                .exists()
        );
    }
}

#[test]
fn lakeflow_compatible_tables_have_the_seed_connector_columns() {
    let dir = tempfile::tempdir().unwrap();
    run_demo(dir.path(), "lakeflow_compatible.sql");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let expected: &[(&str, &[&str])] = &[
        (
            "teams",
            &[
                "id",
                "displayName",
                "description",
                "visibility",
                "isArchived",
                "createdDateTime",
                "memberSettings",
                "guestSettings",
                "messagingSettings",
                "funSettings",
            ],
        ),
        (
            "channels",
            &[
                "id",
                "team_id",
                "displayName",
                "description",
                "membershipType",
                "email",
                "webUrl",
                "createdDateTime",
                "isFavoriteByDefault",
                "isArchived",
            ],
        ),
        (
            "members",
            &[
                "id",
                "team_id",
                "roles",
                "displayName",
                "userId",
                "email",
                "visibleHistoryStartDateTime",
            ],
        ),
        (
            "messages",
            &[
                "id",
                "team_id",
                "channel_id",
                "messageType",
                "createdDateTime",
                "lastModifiedDateTime",
                "lastEditedDateTime",
                "deletedDateTime",
                "importance",
                "from",
                "body",
                "attachments",
                "mentions",
                "reactions",
            ],
        ),
        (
            "message_replies",
            &[
                "id",
                "parent_message_id",
                "team_id",
                "channel_id",
                "replyToId",
                "messageType",
                "createdDateTime",
                "lastModifiedDateTime",
                "lastEditedDateTime",
                "deletedDateTime",
                "importance",
                "from",
                "body",
                "attachments",
                "mentions",
                "reactions",
            ],
        ),
    ];
    use datafusion::arrow::datatypes::DataType;
    use deltalake::kernel::engine::arrow_conversion::TryIntoArrow;
    for (table, columns) in expected {
        let path = dir.path().join("out/lakeflow").join(table);
        let url = deltalake::ensure_table_uri(path.to_str().unwrap()).unwrap();
        let t = rt.block_on(deltalake::open_table(url)).unwrap();
        let schema: datafusion::arrow::datatypes::Schema = t
            .snapshot()
            .unwrap()
            .schema()
            .as_ref()
            .try_into_arrow()
            .unwrap();
        let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
        assert_eq!(&names, columns, "{table}");
        for f in schema.fields() {
            let want_string = f.name().ends_with("DateTime") || f.name().ends_with("Settings");
            if want_string {
                assert_eq!(f.data_type(), &DataType::Utf8, "{table}.{}", f.name());
            }
            if ["isArchived", "isFavoriteByDefault"].contains(&f.name().as_str()) {
                assert_eq!(f.data_type(), &DataType::Boolean, "{table}.{}", f.name());
            }
        }
        if *table == "messages" {
            let body = schema.field_with_name("body").unwrap();
            let DataType::Struct(fields) = body.data_type() else {
                panic!("body is {:?}", body.data_type())
            };
            assert_eq!(fields[0].name(), "contentType");
            let from = format!("{:?}", schema.field_with_name("from").unwrap().data_type());
            assert!(from.contains("\"displayName\""), "{from}");
            assert!(!from.contains("display_name"), "{from}");
            let reactions = format!(
                "{:?}",
                schema.field_with_name("reactions").unwrap().data_type()
            );
            assert!(reactions.contains("\"reactionType\""), "{reactions}");
            assert!(!reactions.contains("Timestamp"), "{reactions}");
        }
    }
}
