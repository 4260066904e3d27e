"""Build the real-video training corpus from local copies of footage, licences recorded.

    python benchmarks/real_corpus.py --out runs/real_corpus
    amd-train --config real.yaml --set data.root=runs/real_corpus

Every video file under the given source folders (default: ``../shared/data/real-video``) is
linked into ``OUT/videos/<folder>__<name>`` (one flat folder, which ``data.kind: videos``
reads), and ``OUT/SOURCES.md`` lists each clip with its frame count and the licence line of
its source folder's README. DAVIS-2016 sequences are refused, since they are the evaluation
set, and so is any folder named in ``--exclude``.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from amd_train.data.base import VIDEO_EXTENSIONS, DataError
from amd_train.data.video_file import VideoFileSource

REPO = Path(__file__).resolve().parent.parent
DEFAULT_SOURCE = REPO.parent / "shared" / "data" / "real-video"
EVALUATION_ONLY = re.compile(r"davis[-_]?2016", re.IGNORECASE)


def licence_lines(readme: Path) -> dict[str, str]:
    """``{folder: licence cell}`` from a README table whose first cell is `` `folder/` ``."""
    if not readme.exists():
        return {}
    lines = {}
    for row in readme.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in row.strip().strip("|").split("|")]
        match = re.fullmatch(r"`([^`/]+)/?`", cells[0]) if cells else None
        if match and len(cells) >= 2:
            lines[match.group(1)] = cells[-1]
    return lines


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("sources", nargs="*", type=Path, default=[DEFAULT_SOURCE])
    p.add_argument("--out", type=Path, default=REPO / "runs" / "real_corpus")
    p.add_argument("--exclude", nargs="*", default=[], help="folder names to leave out")
    args = p.parse_args(argv)
    videos = args.out / "videos"
    videos.mkdir(parents=True, exist_ok=True)
    rows, total = [], 0
    for source in args.sources:
        source = source.resolve()
        licences = licence_lines(source / "README.md")
        for path in sorted(source.rglob("*")):
            if path.suffix.lower() not in VIDEO_EXTENSIONS or not path.is_file():
                continue
            relative = path.relative_to(source)
            if EVALUATION_ONLY.search(str(path)) or set(relative.parts) & set(args.exclude):
                print(f"skipped (evaluation only or excluded): {path}")
                continue
            try:
                frames = len(VideoFileSource(path))
            except DataError as err:
                print(f"skipped: {err}")
                continue
            link = videos / ("__".join(relative.parts))
            if link.is_symlink() or link.exists():
                link.unlink()
            link.symlink_to(path)
            folder = relative.parts[0]
            rows.append((link.name, frames, folder, licences.get(folder, "see the source README")))
            total += frames
    lines = [
        "# Real-video training corpus",
        "",
        f"{len(rows)} clips, {total} frames, linked from {', '.join(map(str, args.sources))}.",
        "",
        "| clip | frames | source folder | licence |",
        "|---|---:|---|---|",
        *[
            f"| {name} | {frames} | {folder} | {licence} |"
            for name, frames, folder, licence in rows
        ],
    ]
    (args.out / "SOURCES.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"{len(rows)} clips, {total} frames → {videos} (sources: {args.out / 'SOURCES.md'})")
    return 0 if rows else 1


if __name__ == "__main__":
    raise SystemExit(main())
