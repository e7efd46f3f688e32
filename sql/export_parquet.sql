-- Snapshot of all five tables as Parquet files under ./out/parquet/.
--   teams-sql --demo -f sql/export_parquet.sql
-- This is DataFusion's own COPY: every STORED AS PARQUET | CSV | JSON option works here.
-- For s3:// az:// gs:// destinations see the README (object_store environment variables).

COPY teams TO 'out/parquet/teams.parquet' STORED AS PARQUET;
COPY channels TO 'out/parquet/channels.parquet' STORED AS PARQUET;
COPY members TO 'out/parquet/members.parquet' STORED AS PARQUET;

-- Compression is a COPY option; zstd keeps message bodies small.
COPY messages TO 'out/parquet/messages.parquet'
STORED AS PARQUET OPTIONS ('compression' 'zstd(3)');

COPY (SELECT * FROM message_replies WHERE deleted_date_time IS NULL)
TO 'out/parquet/message_replies.parquet' STORED AS PARQUET;

-- A CSV of flat columns for spreadsheets.
COPY (SELECT t.display_name AS team, c.display_name AS channel, c.membership_type, c.created_date_time
      FROM channels c JOIN teams t ON t.id = c.team_id ORDER BY team, channel)
TO 'out/parquet/channels.csv' STORED AS CSV OPTIONS ('format.has_header' 'true');
