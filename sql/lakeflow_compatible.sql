-- Delta tables shaped exactly like the Lakeflow Microsoft Teams connector's, for pipelines and
-- dashboards moving from it: the same column names (camelCase, plus the connector-derived
-- team_id / channel_id / parent_message_id), timestamps as ISO 8601 strings, team settings
-- as JSON strings, and from / body / attachments / mentions / reactions as structs and arrays
-- of structs with Graph's camelCase field names.
--   teams-sql --demo -f sql/lakeflow_compatible.sql
-- Tables land under ./out/lakeflow/ and are upserted by key (message ids repeat across
-- channels, so messages and replies are keyed by their parent ids as well).
--
-- The option column_names = 'graph' gives the tables Graph's own names, nested fields included
-- (types unchanged), so only the timestamps and the team settings need SQL here. A pipeline
-- that takes Graph's names with native types needs none of it: SELECT * from such a table.

CREATE EXTERNAL TABLE lakeflow_channels STORED AS TEAMS LOCATION 'channels' OPTIONS ('column_names' 'graph');
CREATE EXTERNAL TABLE lakeflow_members STORED AS TEAMS LOCATION 'members' OPTIONS ('column_names' 'graph');
CREATE EXTERNAL TABLE lakeflow_messages STORED AS TEAMS LOCATION 'messages' OPTIONS ('column_names' 'graph');
CREATE EXTERNAL TABLE lakeflow_replies STORED AS TEAMS LOCATION 'message_replies' OPTIONS ('column_names' 'graph');

-- array_transform(list, x -> ...) needs a dialect with lambdas; DuckDB's also keeps "quoted"
-- identifiers. The last statement switches back.
SET datafusion.sql_parser.dialect = 'duckdb';

COPY (
SELECT id,
       display_name AS "displayName",
       description,
       visibility,
       is_archived AS "isArchived",
       CAST(created_date_time AS VARCHAR) AS "createdDateTime",
       CASE WHEN member_settings IS NULL THEN NULL ELSE '{'
           || '"allowCreateUpdateChannels":' || coalesce(CAST(member_settings['allow_create_update_channels'] AS VARCHAR), 'null')
           || ',"allowCreatePrivateChannels":' || coalesce(CAST(member_settings['allow_create_private_channels'] AS VARCHAR), 'null')
           || ',"allowDeleteChannels":' || coalesce(CAST(member_settings['allow_delete_channels'] AS VARCHAR), 'null')
           || ',"allowAddRemoveApps":' || coalesce(CAST(member_settings['allow_add_remove_apps'] AS VARCHAR), 'null')
           || ',"allowCreateUpdateRemoveTabs":' || coalesce(CAST(member_settings['allow_create_update_remove_tabs'] AS VARCHAR), 'null')
           || ',"allowCreateUpdateRemoveConnectors":' || coalesce(CAST(member_settings['allow_create_update_remove_connectors'] AS VARCHAR), 'null')
           || '}' END AS "memberSettings",
       CASE WHEN guest_settings IS NULL THEN NULL ELSE '{'
           || '"allowCreateUpdateChannels":' || coalesce(CAST(guest_settings['allow_create_update_channels'] AS VARCHAR), 'null')
           || ',"allowDeleteChannels":' || coalesce(CAST(guest_settings['allow_delete_channels'] AS VARCHAR), 'null')
           || '}' END AS "guestSettings",
       CASE WHEN messaging_settings IS NULL THEN NULL ELSE '{'
           || '"allowUserEditMessages":' || coalesce(CAST(messaging_settings['allow_user_edit_messages'] AS VARCHAR), 'null')
           || ',"allowUserDeleteMessages":' || coalesce(CAST(messaging_settings['allow_user_delete_messages'] AS VARCHAR), 'null')
           || ',"allowOwnerDeleteMessages":' || coalesce(CAST(messaging_settings['allow_owner_delete_messages'] AS VARCHAR), 'null')
           || ',"allowTeamMentions":' || coalesce(CAST(messaging_settings['allow_team_mentions'] AS VARCHAR), 'null')
           || ',"allowChannelMentions":' || coalesce(CAST(messaging_settings['allow_channel_mentions'] AS VARCHAR), 'null')
           || '}' END AS "messagingSettings",
       CASE WHEN fun_settings IS NULL THEN NULL ELSE '{'
           || '"allowGiphy":' || coalesce(CAST(fun_settings['allow_giphy'] AS VARCHAR), 'null')
           || ',"giphyContentRating":' || coalesce('"' || fun_settings['giphy_content_rating'] || '"', 'null')
           || ',"allowStickersAndMemes":' || coalesce(CAST(fun_settings['allow_stickers_and_memes'] AS VARCHAR), 'null')
           || ',"allowCustomMemes":' || coalesce(CAST(fun_settings['allow_custom_memes'] AS VARCHAR), 'null')
           || '}' END AS "funSettings"
FROM teams
) TO 'out/lakeflow/teams' STORED AS DELTA OPTIONS ('mode' 'merge', 'merge_keys' 'id');

COPY (
SELECT id, team_id, "displayName", description, "membershipType", email, "webUrl",
       CAST("createdDateTime" AS VARCHAR) AS "createdDateTime", "isFavoriteByDefault", "isArchived"
FROM lakeflow_channels
) TO 'out/lakeflow/channels' STORED AS DELTA OPTIONS ('mode' 'merge', 'merge_keys' 'team_id,id');

COPY (
SELECT id, team_id, roles, "displayName", "userId", email,
       CAST("visibleHistoryStartDateTime" AS VARCHAR) AS "visibleHistoryStartDateTime"
FROM lakeflow_members
) TO 'out/lakeflow/members' STORED AS DELTA OPTIONS ('mode' 'merge', 'merge_keys' 'team_id,id');

COPY (
SELECT id, team_id, channel_id, "messageType",
       CAST("createdDateTime" AS VARCHAR) AS "createdDateTime",
       CAST("lastModifiedDateTime" AS VARCHAR) AS "lastModifiedDateTime",
       CAST("lastEditedDateTime" AS VARCHAR) AS "lastEditedDateTime",
       CAST("deletedDateTime" AS VARCHAR) AS "deletedDateTime",
       importance, "from", body, attachments, mentions,
       array_transform(reactions, r -> named_struct('reactionType', r['reactionType'],
           'displayName', r['displayName'], 'reactionContentUrl', r['reactionContentUrl'],
           'createdDateTime', CAST(r['createdDateTime'] AS VARCHAR), 'user', r['user'])) AS reactions
FROM lakeflow_messages
) TO 'out/lakeflow/messages' STORED AS DELTA
OPTIONS ('mode' 'merge', 'merge_keys' 'team_id,channel_id,id');

COPY (
SELECT id, parent_message_id, team_id, channel_id, "replyToId", "messageType",
       CAST("createdDateTime" AS VARCHAR) AS "createdDateTime",
       CAST("lastModifiedDateTime" AS VARCHAR) AS "lastModifiedDateTime",
       CAST("lastEditedDateTime" AS VARCHAR) AS "lastEditedDateTime",
       CAST("deletedDateTime" AS VARCHAR) AS "deletedDateTime",
       importance, "from", body, attachments, mentions,
       array_transform(reactions, r -> named_struct('reactionType', r['reactionType'],
           'displayName', r['displayName'], 'reactionContentUrl', r['reactionContentUrl'],
           'createdDateTime', CAST(r['createdDateTime'] AS VARCHAR), 'user', r['user'])) AS reactions
FROM lakeflow_replies
) TO 'out/lakeflow/message_replies' STORED AS DELTA
OPTIONS ('mode' 'merge', 'merge_keys' 'team_id,channel_id,parent_message_id,id');

SET datafusion.sql_parser.dialect = 'generic';
