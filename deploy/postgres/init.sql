-- Runs once, when the postgres container initialises an empty data directory
-- (docker-entrypoint-initdb.d), as POSTGRES_USER, which then owns them.
-- One database per service: a service never reads another service's tables.
-- `deskline migrate` would also create a missing one; creating them here lets
-- the services run with a role that lacks CREATEDB.
CREATE DATABASE deskline_identity;
CREATE DATABASE deskline_tickets;
CREATE DATABASE deskline_notifications;
CREATE DATABASE deskline_automation;
CREATE DATABASE deskline_timetracking;
CREATE DATABASE deskline_integrations;
