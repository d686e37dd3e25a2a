"""Feasibility analyses: recruitment, dose, the CONSORT flow and progression, each a table read from
the analysis data sets (retention is the public :mod:`advance_trial.retention`)."""
