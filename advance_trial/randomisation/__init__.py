"""Randomisation: the key folder, the versioned derivation's log and its replay, what a trial does
with its log, and the design assessed by simulation. The methods themselves are the pure functions
of :mod:`advance_trial.randomisation.methods` (the public :mod:`advance_trial.randomise`)."""
