"""docs/rulegraph.py draws each family of generated rules as one node with the edges kept."""

import importlib.util
from pathlib import Path

SPEC = importlib.util.spec_from_file_location("rulegraph", Path(__file__).parents[1] / "docs" / "rulegraph.py")
rulegraph = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(rulegraph)

DOT = """digraph snakemake_dag {
\t0[label = "all", color = "0.00 0.6 0.85", style="rounded"];
\t1[label = "train_flow", color = "0.64 0.6 0.85", style="rounded"];
\t2[label = "model_metrics_samples_banana_seeds0_1", color = "0.15 0.6 0.85", style="rounded"];
\t3[label = "model_metrics_likelihood_gmm2d_3mode_seeds0", color = "0.20 0.6 0.85", style="rounded"];
\t4[label = "sample_models_samples_banana_seeds0_1", color = "0.30 0.6 0.85", style="rounded"];
\t5[label = "sample_models_likelihood_gmm2d_3mode_seeds0", color = "0.35 0.6 0.85", style="rounded"];
\t1 -> 2
\t1 -> 3
\t2 -> 0
\t3 -> 0
\t1 -> 0
\t1 -> 4
\t1 -> 5
\t4 -> 2
\t5 -> 3
}
"""


def test_each_family_of_generated_rules_becomes_one_node_and_their_edges_are_kept_once():
    merged = rulegraph.merge_generated_rules(DOT)
    assert merged.count("model_metrics_") == 1 and merged.count("sample_models_") == 1
    assert '2[label = "model_metrics_*", color = "0.15 0.6 0.85", style="rounded"];' in merged
    assert '4[label = "sample_models_*", color = "0.30 0.6 0.85", style="rounded"];' in merged
    edges = [line.strip() for line in merged.splitlines() if "->" in line]
    assert edges == ["1 -> 2", "2 -> 0", "1 -> 0", "1 -> 4", "4 -> 2"]
