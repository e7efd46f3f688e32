-- All five tables to Delta Lake under ./out/delta/, upserted by primary key.
--   teams-sql --demo -f sql/export_delta.sql
-- 'merge' creates each table on the first run; later runs update changed rows and insert new
-- ones, and a run that finds nothing changed writes no new Delta version. Without
-- 'merge_keys' the key is the source table's primary key (see \d TABLE).
-- Other modes: 'append' (default) and 'overwrite'.

COPY teams TO 'out/delta/teams' STORED AS DELTA OPTIONS ('mode' 'merge');

COPY channels TO 'out/delta/channels' STORED AS DELTA OPTIONS ('mode' 'merge');

COPY members TO 'out/delta/members' STORED AS DELTA OPTIONS ('mode' 'merge');

-- Messages are partitioned by team so that per-team reads skip the other teams' files.
COPY messages TO 'out/delta/messages' STORED AS DELTA
OPTIONS ('mode' 'merge', 'partition_by' 'team_id');

-- Explicit keys, for illustration: the same as the table's primary key.
COPY message_replies TO 'out/delta/message_replies' STORED AS DELTA
OPTIONS ('mode' 'merge', 'merge_keys' 'team_id,channel_id,parent_message_id,id',
         'partition_by' 'team_id');
