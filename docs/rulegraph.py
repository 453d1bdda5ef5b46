"""Render Snakemake's rule graph for the README with each family of generated rules drawn as one.

The workflow defines one ``model_metrics_<fit>_<problem>_seeds<...>`` rule per group of models
that are scored together (``workflow/rules/evaluate.smk``) and one ``sample_models_<...>`` rule
per group sampled together (``workflow/rules/train.smk``); drawn one by one they make the
graph unreadable.  Usage::

    snakemake --rulegraph --quiet | python docs/rulegraph.py | dot -Tpng -o docs/rulegraph.png
"""

from __future__ import annotations

import re
import sys

from lwflow.stages.plan import generated_family

NODE = re.compile(r'^\s*(\d+)\[label = "([^"]+)"(.*)$')
EDGE = re.compile(r"^\s*(\d+) -> (\d+)\s*$")


def merge_generated_rules(dot: str) -> str:
    """``dot`` with the nodes of each family's rules (``model_metrics_...``, ``sample_models_...``)
    replaced by one node, ``model_metrics_*`` and ``sample_models_*``."""
    lines, alias, seen_edges = [], {}, set()
    for line in dot.splitlines():
        node, edge = NODE.match(line), EDGE.match(line)
        family = generated_family(node[2]) if node else None
        if node and family:
            merged = f"{family}_*"
            first = alias.setdefault(merged, node[1])
            alias[node[1]] = first
            if first == node[1]:
                lines.append(f'\t{first}[label = "{merged}"{node[3]}')
        elif edge:
            pair = (alias.get(edge[1], edge[1]), alias.get(edge[2], edge[2]))
            if pair not in seen_edges:
                seen_edges.add(pair)
                lines.append(f"\t{pair[0]} -> {pair[1]}")
        else:
            lines.append(line)
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.stdout.write(merge_generated_rules(sys.stdin.read()))
