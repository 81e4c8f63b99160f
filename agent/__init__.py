"""CI Medic's brain: normalization, localization, rules, classification, fingerprints, redaction."""
