"""The `gatescope` command: `open` (app.openfile) and the training commands (app.train.cli)."""

from __future__ import annotations

import argparse
import logging

from app import openfile


def parser() -> argparse.ArgumentParser:
    from app.train import cli as train_cli  # NumPy and the trainer: only parsed, not run, for `open`

    p = argparse.ArgumentParser(prog="gatescope", description="Gatescope's command line.")
    sub = p.add_subparsers(dest="command", required=True)
    openfile.add_command(sub)
    train_cli.add_commands(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.command == "open":
        return openfile.run(args)
    from app.train import cli as train_cli

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    return train_cli.run(args)


if __name__ == "__main__":  # python -m app.cli, as the console script does
    raise SystemExit(main())
