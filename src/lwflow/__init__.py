"""lwflow: likelihood-weighted normalizing flows for multi-modal posteriors."""
