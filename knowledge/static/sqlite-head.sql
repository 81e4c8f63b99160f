-- The SQLite schema at Alembic revision 0006, made by `python -m knowledge.sqlite_schema` from knowledge/migrations.
-- Generated: do not edit (tests/test_sqlite_schema.py checks it).
CREATE TABLE alembic_version (
	version_num VARCHAR(32) NOT NULL, 
	CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num)
);
CREATE TABLE cimedic_audit (
	id INTEGER NOT NULL, 
	at FLOAT NOT NULL, 
	repo VARCHAR(200) NOT NULL, 
	action VARCHAR(64) NOT NULL, 
	target VARCHAR(400) NOT NULL, 
	outcome VARCHAR(32) NOT NULL, 
	remote_id BIGINT, 
	delivery_id VARCHAR(200), 
	detail TEXT, 
	PRIMARY KEY (id)
);
CREATE TABLE cimedic_notifications (
	id INTEGER NOT NULL, 
	channel VARCHAR(20) NOT NULL, 
	repo VARCHAR(300) DEFAULT '' NOT NULL, 
	fingerprint VARCHAR(128) NOT NULL, 
	sent_at DATETIME NOT NULL, 
	PRIMARY KEY (id), 
	CONSTRAINT uq_cimedic_notifications_channel_repo_fingerprint UNIQUE (channel, repo, fingerprint)
);
CREATE TABLE cimedic_tickets (
	id INTEGER NOT NULL, 
	tracker VARCHAR(20) NOT NULL, 
	repo VARCHAR(300) DEFAULT '' NOT NULL, 
	fingerprint VARCHAR(128) NOT NULL, 
	"key" VARCHAR(100) DEFAULT '' NOT NULL, 
	url TEXT, 
	draft_id VARCHAR(64), 
	job VARCHAR(300), 
	state VARCHAR(20) NOT NULL, 
	title TEXT NOT NULL, 
	occurrences INTEGER DEFAULT '0' NOT NULL, 
	last_job_url TEXT, 
	created_at DATETIME NOT NULL, 
	updated_at DATETIME NOT NULL, 
	PRIMARY KEY (id), 
	CONSTRAINT uq_cimedic_tickets_tracker_repo_fingerprint UNIQUE (tracker, repo, fingerprint)
);
CREATE TABLE gh_deliveries (
	delivery_id VARCHAR(200) NOT NULL, 
	event VARCHAR(64) NOT NULL, 
	status VARCHAR(16) NOT NULL, 
	payload TEXT NOT NULL, 
	attempts INTEGER NOT NULL, 
	received_at FLOAT NOT NULL, 
	updated_at FLOAT NOT NULL, 
	not_before FLOAT NOT NULL, 
	lease_until FLOAT, 
	owner VARCHAR(64), 
	error TEXT, 
	PRIMARY KEY (delivery_id)
);
CREATE TABLE gh_inbox_cursors (
	inbox_id VARCHAR(64) NOT NULL, 
	seq BIGINT NOT NULL, 
	PRIMARY KEY (inbox_id)
);
CREATE TABLE gh_installation_repos (
	installation_id BIGINT NOT NULL, 
	repo VARCHAR(200) NOT NULL, 
	active BOOLEAN NOT NULL, 
	updated_at FLOAT NOT NULL, 
	PRIMARY KEY (installation_id, repo)
);
CREATE TABLE gh_installations (
	installation_id BIGINT NOT NULL, 
	account VARCHAR(200), 
	status VARCHAR(16) NOT NULL, 
	updated_at FLOAT NOT NULL, 
	PRIMARY KEY (installation_id)
);
CREATE TABLE gh_job_results (
	repo VARCHAR(200) NOT NULL, 
	job_id BIGINT NOT NULL, 
	run_id BIGINT NOT NULL, 
	run_attempt INTEGER NOT NULL, 
	head_sha VARCHAR(64) NOT NULL, 
	head_branch VARCHAR(300), 
	job_name VARCHAR(500) NOT NULL, 
	workflow_name VARCHAR(500), 
	conclusion VARCHAR(32) NOT NULL, 
	fingerprint VARCHAR(200), 
	signature VARCHAR(64), 
	verdict VARCHAR(32), 
	diagnosis TEXT, 
	html_url TEXT, 
	pull_requests TEXT NOT NULL, 
	completed_at VARCHAR(64), 
	updated_at FLOAT NOT NULL, 
	PRIMARY KEY (repo, job_id)
);
CREATE TABLE gh_locks (
	name VARCHAR(300) NOT NULL, 
	owner VARCHAR(64) NOT NULL, 
	expires_at FLOAT NOT NULL, 
	PRIMARY KEY (name)
);
CREATE TABLE gh_published (
	target VARCHAR(400) NOT NULL, 
	remote_id BIGINT, 
	body_hash VARCHAR(64), 
	state TEXT, 
	updated_at FLOAT NOT NULL, 
	PRIMARY KEY (target)
);
CREATE TABLE gh_reruns (
	repo VARCHAR(200) NOT NULL, 
	run_id BIGINT NOT NULL, 
	run_attempt INTEGER NOT NULL, 
	job_id BIGINT NOT NULL, 
	at FLOAT NOT NULL, 
	PRIMARY KEY (repo, run_id, run_attempt)
);
CREATE TABLE kb_failures (
	id INTEGER NOT NULL, 
	fingerprint VARCHAR(128) NOT NULL, 
	repo VARCHAR(300) DEFAULT '' NOT NULL, 
	org VARCHAR(200), 
	vector_id VARCHAR(64) NOT NULL, 
	category VARCHAR(32) NOT NULL, 
	rule VARCHAR(200), 
	title TEXT NOT NULL, 
	focus_text TEXT NOT NULL, 
	excerpt_text TEXT NOT NULL, 
	embed_text TEXT NOT NULL, 
	first_seen DATETIME NOT NULL, 
	last_seen DATETIME NOT NULL, 
	occurrences INTEGER DEFAULT '0' NOT NULL, 
	last_source TEXT, 
	last_job VARCHAR(300), 
	last_url TEXT, 
	PRIMARY KEY (id), 
	CONSTRAINT uq_kb_failures_fingerprint_repo UNIQUE (fingerprint, repo), 
	CONSTRAINT uq_kb_failures_vector_id UNIQUE (vector_id)
);
CREATE TABLE kb_feedback (
	id INTEGER NOT NULL, 
	fingerprint VARCHAR(128) NOT NULL, 
	repo VARCHAR(300) DEFAULT '' NOT NULL, 
	source TEXT NOT NULL, 
	author VARCHAR(200) DEFAULT '' NOT NULL, 
	helpful BOOLEAN NOT NULL, 
	note TEXT, 
	created_at DATETIME NOT NULL, 
	PRIMARY KEY (id), 
	CONSTRAINT uq_kb_feedback_fingerprint_source_author UNIQUE (fingerprint, source, author)
);
CREATE TABLE kb_occurrences (
	id INTEGER NOT NULL, 
	failure_id INTEGER NOT NULL, 
	"key" VARCHAR(64) NOT NULL, 
	fingerprint VARCHAR(128) NOT NULL, 
	repo VARCHAR(300) DEFAULT '' NOT NULL, 
	source TEXT NOT NULL, 
	ci_system VARCHAR(20), 
	branch VARCHAR(300), 
	commit_sha VARCHAR(64), 
	workflow VARCHAR(300), 
	job VARCHAR(300), 
	job_id BIGINT, 
	run_id BIGINT, 
	run_attempt INTEGER, 
	url TEXT, 
	pull_requests VARCHAR(300), 
	category VARCHAR(32) NOT NULL, 
	confidence FLOAT NOT NULL, 
	verdict VARCHAR(20), 
	verdict_reason TEXT, 
	verdict_link TEXT, 
	seen_at DATETIME NOT NULL, 
	PRIMARY KEY (id), 
	CONSTRAINT uq_kb_occurrences_key UNIQUE ("key"), 
	CONSTRAINT fk_kb_occurrences_failure FOREIGN KEY(failure_id) REFERENCES kb_failures (id) ON DELETE CASCADE
);
CREATE TABLE kb_pending_vectors (
	vector_id VARCHAR(64) NOT NULL, 
	PRIMARY KEY (vector_id)
);
CREATE TABLE kb_resolutions (
	id INTEGER NOT NULL, 
	fingerprint VARCHAR(128) NOT NULL, 
	repo VARCHAR(300) DEFAULT '' NOT NULL, 
	fix TEXT NOT NULL, 
	kind VARCHAR(20) NOT NULL, 
	changed_files TEXT DEFAULT '[]' NOT NULL, 
	note TEXT, 
	created_at DATETIME NOT NULL, 
	PRIMARY KEY (id), 
	CONSTRAINT uq_kb_resolutions_fingerprint_repo_fix UNIQUE (fingerprint, repo, fix)
);
CREATE TABLE worker_heartbeats (
	worker VARCHAR(120) NOT NULL, 
	beat_at FLOAT NOT NULL, 
	every_s FLOAT NOT NULL, 
	PRIMARY KEY (worker)
);
CREATE INDEX ix_cimedic_audit_at ON cimedic_audit (at);
CREATE INDEX ix_cimedic_audit_repo ON cimedic_audit (repo);
CREATE INDEX ix_cimedic_tickets_updated ON cimedic_tickets (updated_at);
CREATE INDEX ix_gh_deliveries_status ON gh_deliveries (status, updated_at);
CREATE INDEX ix_gh_job_results_branch ON gh_job_results (repo, head_branch, job_name);
CREATE INDEX ix_gh_job_results_fp ON gh_job_results (repo, fingerprint);
CREATE INDEX ix_gh_job_results_sha ON gh_job_results (repo, head_sha);
CREATE INDEX ix_gh_job_results_sig ON gh_job_results (repo, signature);
CREATE INDEX ix_kb_failures_last_seen ON kb_failures (last_seen);
CREATE INDEX ix_kb_failures_org_scope ON kb_failures (org, id, vector_id);
CREATE INDEX ix_kb_failures_repo_scope ON kb_failures (repo, id, vector_id);
CREATE INDEX ix_kb_occurrences_failure ON kb_occurrences (failure_id);
CREATE INDEX ix_kb_occurrences_fingerprint ON kb_occurrences (fingerprint);
CREATE INDEX ix_kb_occurrences_repo_seen ON kb_occurrences (repo, seen_at);
CREATE INDEX ix_kb_occurrences_seen ON kb_occurrences (seen_at);
CREATE INDEX ix_kb_resolutions_fingerprint ON kb_resolutions (fingerprint);
INSERT INTO alembic_version (version_num) VALUES ('0006');
