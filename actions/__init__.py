"""Outputs of CI Medic: PR comments, check runs, re-runs, under a per-repo policy and an audit log."""
