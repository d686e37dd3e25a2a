"""Feasibility analyses: recruitment, dose, the CONSORT flow and progression, each a table read from
the analysis data sets (retention is
re-exported as the public :mod:`advance_trial.retention`)."""
