"""GitHub (and later GitLab) webhook intake, durable queue and worker of CI Medic."""
