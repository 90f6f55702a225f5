"""Run the expiry and mail benchmarks one after the other, with their default sizes.

    python -m bench.run [--quick]

`--quick` runs them small (a smoke test of the benchmarks, not figures to quote).
"""

from __future__ import annotations

import argparse

from bench import expiry, mail

QUICK = {"expiry": ["--lots", "20000", "--due", "2000", "--accounts", "200"],
         "mail": ["--messages", "100"]}  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke test")
    args = parser.parse_args(argv)
    for name, bench in (("expiry", expiry), ("mail", mail)):
        print(f"=== bench.{name} ===", flush=True)
        bench.main(QUICK[name] if args.quick else [])
        print()


if __name__ == "__main__":
    main()
