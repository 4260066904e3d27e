"""``amd-fiftyone``: make FiftyOne find the ``@amd/objectness`` plugin.

    amd-fiftyone install [--plugins-dir DIR] [--force]   # symlink this folder into DIR
    amd-fiftyone uninstall [--plugins-dir DIR]
    amd-fiftyone list [--plugins-dir DIR]                # what FiftyOne discovers there
    amd-fiftyone path                                    # this plugin folder

The plugins folder is ``--plugins-dir``, else ``$FIFTYONE_PLUGINS_DIR``, else FiftyOne's
``fo.config.plugins_dir``. A symlink (not a copy) keeps the plugin in step with the
installed package; the operators import ``amd_plugin`` and ``fiftyone_plugin``, so the
package must be installed in the Python environment that runs the App or the workers.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

PLUGIN_DIR = Path(__file__).resolve().parent
LINK_NAME = "amd-objectness"
ENV_VAR = "FIFTYONE_PLUGINS_DIR"


def plugins_dir(explicit: str | Path | None = None) -> Path:
    """The folder FiftyOne searches for plugins (see module docstring for the order)."""
    if explicit:
        return Path(explicit).expanduser().resolve()
    if os.environ.get(ENV_VAR):
        return Path(os.environ[ENV_VAR]).expanduser().resolve()
    import fiftyone as fo  # only when needed: importing FiftyOne takes seconds

    return Path(fo.config.plugins_dir).expanduser().resolve()


def install(target_dir: Path, force: bool = False) -> Path:
    """Symlink the plugin folder into ``target_dir``; return the link.

    Re-installing over our own link is a no-op; anything else in the way is an error unless
    ``force`` (then a symlink is replaced, but a real folder never is).
    """
    target_dir.mkdir(parents=True, exist_ok=True)
    link = target_dir / LINK_NAME
    if link.is_symlink():
        if link.resolve() == PLUGIN_DIR:
            return link
        if not force:
            raise FileExistsError(
                f"{link} points to {os.readlink(link)}; use --force to replace it"
            )
        link.unlink()
    elif link.exists():
        raise FileExistsError(f"{link} exists and is not a symlink; remove it first")
    link.symlink_to(PLUGIN_DIR, target_is_directory=True)
    return link


def uninstall(target_dir: Path) -> bool:
    """Remove our symlink from ``target_dir``; ``False`` when it was not there."""
    link = target_dir / LINK_NAME
    if link.is_symlink():
        link.unlink()
        return True
    return False


def list_plugin(target_dir: Path) -> int:
    """Print the plugins FiftyOne finds in ``target_dir`` and our operators; 0 if ours is found."""
    # FiftyOne reads the plugins folder from the environment when it is first imported
    os.environ[ENV_VAR] = str(target_dir)
    import fiftyone as fo
    import fiftyone.operators as foo
    import fiftyone.plugins as fop

    fo.config.plugins_dir = str(target_dir)  # in case FiftyOne was imported before

    from fiftyone_plugin import PLUGIN_NAME

    found = False
    for plugin in fop.list_plugins(enabled="all"):
        print(f"{plugin.name}  {plugin.version or ''}  {plugin.directory}")
        found = found or plugin.name == PLUGIN_NAME
    if not found:
        print(
            f"{PLUGIN_NAME} not found in {target_dir}; run `amd-fiftyone install`", file=sys.stderr
        )
        return 1
    for operator in foo.list_operators(enabled="all", builtin=False):
        if operator.plugin_name == PLUGIN_NAME:
            print(f"  {operator.uri}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="amd-fiftyone", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    for name, text in (
        ("install", "symlink the plugin into the FiftyOne plugins folder"),
        ("uninstall", "remove the symlink"),
        ("list", "show the plugins and AMD operators FiftyOne discovers"),
    ):
        command = commands.add_parser(name, help=text)
        command.add_argument("--plugins-dir", help=f"default: ${ENV_VAR} or fo.config.plugins_dir")
        if name == "install":
            command.add_argument("--force", action="store_true", help="replace another symlink")
    commands.add_parser("path", help="print the plugin folder")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``amd-fiftyone``; returns the exit status."""
    args = build_parser().parse_args(argv)
    if args.command == "path":
        print(PLUGIN_DIR)
        return 0
    target = plugins_dir(args.plugins_dir)
    if args.command == "install":
        try:
            link = install(target, force=args.force)
        except FileExistsError as err:
            print(f"amd-fiftyone: {err}", file=sys.stderr)
            return 1
        print(f"installed {link} -> {PLUGIN_DIR}")
        if os.environ.get(ENV_VAR) != str(target):
            print(
                f"FiftyOne finds it when this is set (add it to your shell profile):\n"
                f"  export {ENV_VAR}={target}"
            )
        return 0
    if args.command == "uninstall":
        removed = uninstall(target)
        print(f"removed {target / LINK_NAME}" if removed else f"nothing installed in {target}")
        return 0
    return list_plugin(target)


if __name__ == "__main__":
    sys.exit(main())
