"""Render Snakemake's rule graph for the README with the generated metrics rules drawn as one.

The workflow defines one ``model_metrics_<fit>_<problem>_seeds<...>`` rule per group of models
that are scored together (``workflow/rules/evaluate.smk``); drawn one by one they make the
graph unreadable.  Usage::

    snakemake --rulegraph --quiet | python docs/rulegraph.py | dot -Tpng -o docs/rulegraph.png
"""

from __future__ import annotations

import re
import sys

NODE = re.compile(r'^\s*(\d+)\[label = "([^"]+)"(.*)$')
EDGE = re.compile(r"^\s*(\d+) -> (\d+)\s*$")
MERGED = "model_metrics_*"


def merge_metrics_rules(dot: str) -> str:
    """``dot`` with every ``model_metrics_...`` node replaced by one ``model_metrics_*`` node."""
    lines, alias, seen_edges = [], {}, set()
    for line in dot.splitlines():
        node, edge = NODE.match(line), EDGE.match(line)
        if node and node[2].startswith("model_metrics_"):
            first = alias.setdefault(MERGED, node[1])
            alias[node[1]] = first
            if first == node[1]:
                lines.append(f'\t{first}[label = "{MERGED}"{node[3]}')
        elif edge:
            pair = (alias.get(edge[1], edge[1]), alias.get(edge[2], edge[2]))
            if pair not in seen_edges:
                seen_edges.add(pair)
                lines.append(f"\t{pair[0]} -> {pair[1]}")
        else:
            lines.append(line)
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.stdout.write(merge_metrics_rules(sys.stdin.read()))
