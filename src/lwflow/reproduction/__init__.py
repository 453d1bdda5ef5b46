"""The reproduced papers: which models each table and figure shows, and the published numbers.

:mod:`lwflow.reproduction.paper_a` (Baruah, likelihood-weighted flows) and
:mod:`lwflow.reproduction.paper_b` (Wiryapong et al., AMF-VI)."""
