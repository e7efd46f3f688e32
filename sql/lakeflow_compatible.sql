-- Delta tables shaped exactly like the Lakeflow Microsoft Teams connector's, for pipelines and
-- dashboards moving from it: the same column names (camelCase, plus the connector-derived
-- team_id / channel_id / parent_message_id), timestamps as ISO 8601 strings, team settings
-- as JSON strings, and from / body / attachments / mentions / reactions as structs and arrays
-- of structs with Graph's camelCase field names.
--   teams-sql --demo -f sql/lakeflow_compatible.sql
-- Tables land under ./out/lakeflow/ and are upserted by key (message ids repeat across
-- channels, so messages and replies are keyed by their parent ids as well).

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
SELECT id,
       team_id,
       display_name AS "displayName",
       description,
       membership_type AS "membershipType",
       email,
       web_url AS "webUrl",
       CAST(created_date_time AS VARCHAR) AS "createdDateTime",
       is_favorite_by_default AS "isFavoriteByDefault",
       is_archived AS "isArchived"
FROM channels
) TO 'out/lakeflow/channels' STORED AS DELTA OPTIONS ('mode' 'merge', 'merge_keys' 'team_id,id');

COPY (
SELECT id,
       team_id,
       roles,
       display_name AS "displayName",
       user_id AS "userId",
       email,
       CAST(visible_history_start_date_time AS VARCHAR) AS "visibleHistoryStartDateTime"
FROM members
) TO 'out/lakeflow/members' STORED AS DELTA OPTIONS ('mode' 'merge', 'merge_keys' 'team_id,id');

COPY (
SELECT id,
       team_id,
       channel_id,
       message_type AS "messageType",
       CAST(created_date_time AS VARCHAR) AS "createdDateTime",
       CAST(last_modified_date_time AS VARCHAR) AS "lastModifiedDateTime",
       CAST(last_edited_date_time AS VARCHAR) AS "lastEditedDateTime",
       CAST(deleted_date_time AS VARCHAR) AS "deletedDateTime",
       importance,
       CASE WHEN "from" IS NULL THEN NULL ELSE named_struct(
           'application', CASE WHEN "from"['application'] IS NULL THEN NULL ELSE named_struct('id', "from"['application']['id'], 'displayName', "from"['application']['display_name'], 'userIdentityType', "from"['application']['user_identity_type'], 'applicationIdentityType', "from"['application']['application_identity_type'], 'conversationIdentityType', "from"['application']['conversation_identity_type'], 'tenantId', "from"['application']['tenant_id']) END,
           'device', CASE WHEN "from"['device'] IS NULL THEN NULL ELSE named_struct('id', "from"['device']['id'], 'displayName', "from"['device']['display_name'], 'userIdentityType', "from"['device']['user_identity_type'], 'applicationIdentityType', "from"['device']['application_identity_type'], 'conversationIdentityType', "from"['device']['conversation_identity_type'], 'tenantId', "from"['device']['tenant_id']) END,
           'user', CASE WHEN "from"['user'] IS NULL THEN NULL ELSE named_struct('id', "from"['user']['id'], 'displayName', "from"['user']['display_name'], 'userIdentityType', "from"['user']['user_identity_type'], 'applicationIdentityType', "from"['user']['application_identity_type'], 'conversationIdentityType', "from"['user']['conversation_identity_type'], 'tenantId', "from"['user']['tenant_id']) END) END AS "from",
       CASE WHEN body IS NULL THEN NULL
            ELSE named_struct('contentType', body['content_type'], 'content', body['content']) END AS body,
       array_transform(attachments, a -> named_struct(
           'id', a['id'], 'contentType', a['content_type'], 'contentUrl', a['content_url'],
           'content', a['content'], 'name', a['name'], 'thumbnailUrl', a['thumbnail_url'],
           'teamsAppId', a['teams_app_id'])) AS attachments,
       array_transform(mentions, x -> named_struct(
           'id', x['id'], 'mentionText', x['mention_text'],
           'mentioned', named_struct(
               'application', CASE WHEN x['mentioned']['application'] IS NULL THEN NULL ELSE named_struct('id', x['mentioned']['application']['id'], 'displayName', x['mentioned']['application']['display_name'], 'userIdentityType', x['mentioned']['application']['user_identity_type'], 'applicationIdentityType', x['mentioned']['application']['application_identity_type'], 'conversationIdentityType', x['mentioned']['application']['conversation_identity_type'], 'tenantId', x['mentioned']['application']['tenant_id']) END,
               'device', CASE WHEN x['mentioned']['device'] IS NULL THEN NULL ELSE named_struct('id', x['mentioned']['device']['id'], 'displayName', x['mentioned']['device']['display_name'], 'userIdentityType', x['mentioned']['device']['user_identity_type'], 'applicationIdentityType', x['mentioned']['device']['application_identity_type'], 'conversationIdentityType', x['mentioned']['device']['conversation_identity_type'], 'tenantId', x['mentioned']['device']['tenant_id']) END,
               'user', CASE WHEN x['mentioned']['user'] IS NULL THEN NULL ELSE named_struct('id', x['mentioned']['user']['id'], 'displayName', x['mentioned']['user']['display_name'], 'userIdentityType', x['mentioned']['user']['user_identity_type'], 'applicationIdentityType', x['mentioned']['user']['application_identity_type'], 'conversationIdentityType', x['mentioned']['user']['conversation_identity_type'], 'tenantId', x['mentioned']['user']['tenant_id']) END,
               'conversation', CASE WHEN x['mentioned']['conversation'] IS NULL THEN NULL ELSE named_struct('id', x['mentioned']['conversation']['id'], 'displayName', x['mentioned']['conversation']['display_name'], 'userIdentityType', x['mentioned']['conversation']['user_identity_type'], 'applicationIdentityType', x['mentioned']['conversation']['application_identity_type'], 'conversationIdentityType', x['mentioned']['conversation']['conversation_identity_type'], 'tenantId', x['mentioned']['conversation']['tenant_id']) END,
               'tag', CASE WHEN x['mentioned']['tag'] IS NULL THEN NULL ELSE named_struct('id', x['mentioned']['tag']['id'], 'displayName', x['mentioned']['tag']['display_name'], 'userIdentityType', x['mentioned']['tag']['user_identity_type'], 'applicationIdentityType', x['mentioned']['tag']['application_identity_type'], 'conversationIdentityType', x['mentioned']['tag']['conversation_identity_type'], 'tenantId', x['mentioned']['tag']['tenant_id']) END))) AS mentions,
       array_transform(reactions, r -> named_struct(
           'reactionType', r['reaction_type'], 'displayName', r['display_name'],
           'reactionContentUrl', r['reaction_content_url'],
           'createdDateTime', CAST(r['created_date_time'] AS VARCHAR),
           'user', CASE WHEN r['user'] IS NULL THEN NULL ELSE named_struct(
               'application', CASE WHEN r['user']['application'] IS NULL THEN NULL ELSE named_struct('id', r['user']['application']['id'], 'displayName', r['user']['application']['display_name'], 'userIdentityType', r['user']['application']['user_identity_type'], 'applicationIdentityType', r['user']['application']['application_identity_type'], 'conversationIdentityType', r['user']['application']['conversation_identity_type'], 'tenantId', r['user']['application']['tenant_id']) END,
               'device', CASE WHEN r['user']['device'] IS NULL THEN NULL ELSE named_struct('id', r['user']['device']['id'], 'displayName', r['user']['device']['display_name'], 'userIdentityType', r['user']['device']['user_identity_type'], 'applicationIdentityType', r['user']['device']['application_identity_type'], 'conversationIdentityType', r['user']['device']['conversation_identity_type'], 'tenantId', r['user']['device']['tenant_id']) END,
               'user', CASE WHEN r['user']['user'] IS NULL THEN NULL ELSE named_struct('id', r['user']['user']['id'], 'displayName', r['user']['user']['display_name'], 'userIdentityType', r['user']['user']['user_identity_type'], 'applicationIdentityType', r['user']['user']['application_identity_type'], 'conversationIdentityType', r['user']['user']['conversation_identity_type'], 'tenantId', r['user']['user']['tenant_id']) END) END)) AS reactions
FROM messages
) TO 'out/lakeflow/messages' STORED AS DELTA
OPTIONS ('mode' 'merge', 'merge_keys' 'team_id,channel_id,id');

COPY (
SELECT id,
       parent_message_id,
       team_id,
       channel_id,
       reply_to_id AS "replyToId",
       message_type AS "messageType",
       CAST(created_date_time AS VARCHAR) AS "createdDateTime",
       CAST(last_modified_date_time AS VARCHAR) AS "lastModifiedDateTime",
       CAST(last_edited_date_time AS VARCHAR) AS "lastEditedDateTime",
       CAST(deleted_date_time AS VARCHAR) AS "deletedDateTime",
       importance,
       CASE WHEN "from" IS NULL THEN NULL ELSE named_struct(
           'application', CASE WHEN "from"['application'] IS NULL THEN NULL ELSE named_struct('id', "from"['application']['id'], 'displayName', "from"['application']['display_name'], 'userIdentityType', "from"['application']['user_identity_type'], 'applicationIdentityType', "from"['application']['application_identity_type'], 'conversationIdentityType', "from"['application']['conversation_identity_type'], 'tenantId', "from"['application']['tenant_id']) END,
           'device', CASE WHEN "from"['device'] IS NULL THEN NULL ELSE named_struct('id', "from"['device']['id'], 'displayName', "from"['device']['display_name'], 'userIdentityType', "from"['device']['user_identity_type'], 'applicationIdentityType', "from"['device']['application_identity_type'], 'conversationIdentityType', "from"['device']['conversation_identity_type'], 'tenantId', "from"['device']['tenant_id']) END,
           'user', CASE WHEN "from"['user'] IS NULL THEN NULL ELSE named_struct('id', "from"['user']['id'], 'displayName', "from"['user']['display_name'], 'userIdentityType', "from"['user']['user_identity_type'], 'applicationIdentityType', "from"['user']['application_identity_type'], 'conversationIdentityType', "from"['user']['conversation_identity_type'], 'tenantId', "from"['user']['tenant_id']) END) END AS "from",
       CASE WHEN body IS NULL THEN NULL
            ELSE named_struct('contentType', body['content_type'], 'content', body['content']) END AS body,
       array_transform(attachments, a -> named_struct(
           'id', a['id'], 'contentType', a['content_type'], 'contentUrl', a['content_url'],
           'content', a['content'], 'name', a['name'], 'thumbnailUrl', a['thumbnail_url'],
           'teamsAppId', a['teams_app_id'])) AS attachments,
       array_transform(mentions, x -> named_struct(
           'id', x['id'], 'mentionText', x['mention_text'],
           'mentioned', named_struct(
               'application', CASE WHEN x['mentioned']['application'] IS NULL THEN NULL ELSE named_struct('id', x['mentioned']['application']['id'], 'displayName', x['mentioned']['application']['display_name'], 'userIdentityType', x['mentioned']['application']['user_identity_type'], 'applicationIdentityType', x['mentioned']['application']['application_identity_type'], 'conversationIdentityType', x['mentioned']['application']['conversation_identity_type'], 'tenantId', x['mentioned']['application']['tenant_id']) END,
               'device', CASE WHEN x['mentioned']['device'] IS NULL THEN NULL ELSE named_struct('id', x['mentioned']['device']['id'], 'displayName', x['mentioned']['device']['display_name'], 'userIdentityType', x['mentioned']['device']['user_identity_type'], 'applicationIdentityType', x['mentioned']['device']['application_identity_type'], 'conversationIdentityType', x['mentioned']['device']['conversation_identity_type'], 'tenantId', x['mentioned']['device']['tenant_id']) END,
               'user', CASE WHEN x['mentioned']['user'] IS NULL THEN NULL ELSE named_struct('id', x['mentioned']['user']['id'], 'displayName', x['mentioned']['user']['display_name'], 'userIdentityType', x['mentioned']['user']['user_identity_type'], 'applicationIdentityType', x['mentioned']['user']['application_identity_type'], 'conversationIdentityType', x['mentioned']['user']['conversation_identity_type'], 'tenantId', x['mentioned']['user']['tenant_id']) END,
               'conversation', CASE WHEN x['mentioned']['conversation'] IS NULL THEN NULL ELSE named_struct('id', x['mentioned']['conversation']['id'], 'displayName', x['mentioned']['conversation']['display_name'], 'userIdentityType', x['mentioned']['conversation']['user_identity_type'], 'applicationIdentityType', x['mentioned']['conversation']['application_identity_type'], 'conversationIdentityType', x['mentioned']['conversation']['conversation_identity_type'], 'tenantId', x['mentioned']['conversation']['tenant_id']) END,
               'tag', CASE WHEN x['mentioned']['tag'] IS NULL THEN NULL ELSE named_struct('id', x['mentioned']['tag']['id'], 'displayName', x['mentioned']['tag']['display_name'], 'userIdentityType', x['mentioned']['tag']['user_identity_type'], 'applicationIdentityType', x['mentioned']['tag']['application_identity_type'], 'conversationIdentityType', x['mentioned']['tag']['conversation_identity_type'], 'tenantId', x['mentioned']['tag']['tenant_id']) END))) AS mentions,
       array_transform(reactions, r -> named_struct(
           'reactionType', r['reaction_type'], 'displayName', r['display_name'],
           'reactionContentUrl', r['reaction_content_url'],
           'createdDateTime', CAST(r['created_date_time'] AS VARCHAR),
           'user', CASE WHEN r['user'] IS NULL THEN NULL ELSE named_struct(
               'application', CASE WHEN r['user']['application'] IS NULL THEN NULL ELSE named_struct('id', r['user']['application']['id'], 'displayName', r['user']['application']['display_name'], 'userIdentityType', r['user']['application']['user_identity_type'], 'applicationIdentityType', r['user']['application']['application_identity_type'], 'conversationIdentityType', r['user']['application']['conversation_identity_type'], 'tenantId', r['user']['application']['tenant_id']) END,
               'device', CASE WHEN r['user']['device'] IS NULL THEN NULL ELSE named_struct('id', r['user']['device']['id'], 'displayName', r['user']['device']['display_name'], 'userIdentityType', r['user']['device']['user_identity_type'], 'applicationIdentityType', r['user']['device']['application_identity_type'], 'conversationIdentityType', r['user']['device']['conversation_identity_type'], 'tenantId', r['user']['device']['tenant_id']) END,
               'user', CASE WHEN r['user']['user'] IS NULL THEN NULL ELSE named_struct('id', r['user']['user']['id'], 'displayName', r['user']['user']['display_name'], 'userIdentityType', r['user']['user']['user_identity_type'], 'applicationIdentityType', r['user']['user']['application_identity_type'], 'conversationIdentityType', r['user']['user']['conversation_identity_type'], 'tenantId', r['user']['user']['tenant_id']) END) END)) AS reactions
FROM message_replies
) TO 'out/lakeflow/message_replies' STORED AS DELTA
OPTIONS ('mode' 'merge', 'merge_keys' 'team_id,channel_id,parent_message_id,id');

SET datafusion.sql_parser.dialect = 'generic';
