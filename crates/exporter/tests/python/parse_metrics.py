"""Parse an exposition from stdin with prometheus_client's own parsers; print JSON.

argv[1]: "text" (Prometheus text 0.0.4) or "openmetrics". One JSON object per sample:
family, type, help, name, labels, value (as text, so NaN survives JSON), timestamp (seconds,
float or null). A parse error exits non-zero with the parser's message.
"""
import json
import sys

from prometheus_client.openmetrics import parser as om_parser
from prometheus_client import parser as text_parser


def ts_seconds(ts):
    if ts is None:
        return None
    if hasattr(ts, "sec"):  # openmetrics Timestamp(sec, nsec)
        return ts.sec + ts.nsec / 1e9
    return float(ts)


def main():
    body = sys.stdin.read()
    if sys.argv[1] == "openmetrics":
        families = om_parser.text_string_to_metric_families(body)
    else:
        families = text_parser.text_string_to_metric_families(body)
    out = []
    for fam in families:
        for s in fam.samples:
            out.append({
                "family": fam.name,
                "type": fam.type,
                "help": fam.documentation,
                "name": s.name,
                "labels": s.labels,
                "value": repr(s.value),
                "timestamp": ts_seconds(s.timestamp),
            })
    json.dump(out, sys.stdout)


main()
