-- One database per service: no service reads another's tables (see DESIGN.md,
-- "Services and what each owns"). Runs once, when the data volume is empty;
-- each service's migrate process creates the tables.
CREATE DATABASE registry OWNER linli;
CREATE DATABASE tickets OWNER linli;
CREATE DATABASE rotation OWNER linli;
CREATE DATABASE notify OWNER linli;
