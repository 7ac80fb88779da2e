#!/usr/bin/python3
"""Parse a Prometheus text exposition (stdin) with prometheus_client's
parser, the one Python scrapers use, and print what it understood, for
test_metrics.c to compare:

    # TYPE <family> <type>             per family
    <sample>\t<labels>\t<value>        per sample; labels sorted, as
                                       name="value" joined by commas, the
                                       value JSON-quoted (so escapes are
                                       compared after parsing)

Exits 1 if the parser refuses the text. The system python3: Debian's
python3-prometheus-client (scripts/setup.sh) installs for it."""
import json
import sys

from prometheus_client.parser import text_string_to_metric_families


def main():
    text = sys.stdin.read()
    out = []
    try:
        for family in text_string_to_metric_families(text):
            out.append(f"# TYPE {family.name} {family.type}")
            for s in family.samples:
                labels = ",".join(f"{k}={json.dumps(v)}" for k, v in sorted(s.labels.items()))
                out.append(f"{s.name}\t{labels}\t{s.value!r}")
    except ValueError as e:
        print(f"unparsable exposition: {e}", file=sys.stderr)
        return 1
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
