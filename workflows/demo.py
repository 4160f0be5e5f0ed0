"""`make demo`: not implemented yet (issue 8: run-local of the rendered DAG on devstack). See README."""

import sys

if __name__ == "__main__":
    print("make demo: not implemented yet: see README (the local DAG runner is still being built); "
          "`make test` runs every step against devstack", file=sys.stderr)
    sys.exit(2)
