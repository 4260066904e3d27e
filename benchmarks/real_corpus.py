"""Build the real-video training corpus from local copies of footage, licences recorded.

    python benchmarks/real_corpus.py --out runs/real_corpus
    amd-train --config real.yaml --set data.root=runs/real_corpus

Every video file under the given source folders (default: ``../shared/data/real-video``) is
linked into ``OUT/videos/<folder>__<name>`` (one flat folder, which ``data.kind: videos``
reads), and ``OUT/SOURCES.md`` lists each clip with its frame count and the licence line of
its source folder's README. DAVIS footage is refused: any path with a DAVIS folder in it (of
any release; DAVIS-2017's *train* split contains DAVIS-2016 sequences, ``tennis`` among them)
and any clip named after one of the 50 DAVIS-2016 sequences, since those are the evaluation
set. So is any folder named in ``--exclude``.

With ``--frames SHORT_SIDE`` every clip is decoded once (OpenCV, in parallel) into
``OUT/JPEGImages/<clip>/00000.jpg …`` with its short side resized to SHORT_SIDE, which
``data.kind: frames`` reads: random access into JPEG folders is cheaper than seeking in
H.264, and OpenCV decodes where PyAV is not installed (the GPU machines).
"""

from __future__ import annotations

import argparse
import re
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from amd_train.data.base import VIDEO_EXTENSIONS, DataError
from amd_train.data.video_file import VideoFileSource

REPO = Path(__file__).resolve().parent.parent
DEFAULT_SOURCE = REPO.parent / "shared" / "data" / "real-video"
EVALUATION_ONLY = re.compile(r"davis", re.IGNORECASE)
# The 50 DAVIS-2016 sequences (30 train, 20 val): a clip named after one is refused wherever it
# sits, because demo folders of other projects redistribute them under their own names.
# fmt: off
DAVIS_2016_SEQUENCES = frozenset((
    "bear", "bmx-bumps", "boat", "breakdance-flare", "bus", "car-turn", "dance-jump",
    "dog-agility", "drift-turn", "elephant", "flamingo", "hike", "hockey", "horsejump-low",
    "kite-walk", "lucia", "mallard-fly", "mallard-water", "motocross-bumps", "motorbike",
    "paragliding", "rhino", "rollerblade", "scooter-gray", "soccerball", "stroller", "surf",
    "swing", "tennis", "train", "blackswan", "bmx-trees", "breakdance", "camel",
    "car-roundabout", "car-shadow", "cows", "dance-twirl", "dog", "drift-chicane",
    "drift-straight", "goat", "horsejump-high", "kite-surf", "libby", "motocross-jump",
    "paragliding-launch", "parkour", "scooter-black", "soapbox",
))
# fmt: on


def evaluation_footage(relative: Path) -> bool:
    """True for a path under a DAVIS folder or a clip named after a DAVIS-2016 sequence."""
    return (
        bool(EVALUATION_ONLY.search(str(relative))) or relative.stem.lower() in DAVIS_2016_SEQUENCES
    )


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


def decode_to_frames(video: Path, folder: Path, short_side: int) -> int:
    """Write ``video``'s frames as JPEGs into ``folder`` (short side resized); frame count.

    Raises DataError naming the file when it cannot be opened or holds no frame.
    """
    import cv2

    capture = cv2.VideoCapture(str(video))
    if not capture.isOpened():
        raise DataError(f"{video}: cannot open video")
    folder.mkdir(parents=True, exist_ok=True)
    count = 0
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        h, w = frame.shape[:2]
        scale = short_side / min(h, w)
        if scale != 1:
            size = (max(1, round(w * scale)), max(1, round(h * scale)))
            frame = cv2.resize(frame, size, interpolation=cv2.INTER_AREA)
        cv2.imwrite(str(folder / f"{count:05d}.jpg"), frame, [cv2.IMWRITE_JPEG_QUALITY, 92])
        count += 1
    capture.release()
    if count == 0:
        raise DataError(f"{video}: video has no frames")
    return count


def _decode_job(job: tuple[Path, Path, int]) -> int | str:
    """Frame count, or the error text (a broken clip must not stop the others)."""
    try:
        return decode_to_frames(*job)
    except DataError as err:
        return str(err)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("sources", nargs="*", type=Path, default=[DEFAULT_SOURCE])
    p.add_argument("--out", type=Path, default=REPO / "runs" / "real_corpus")
    p.add_argument("--exclude", nargs="*", default=[], help="folder names to leave out")
    p.add_argument(
        "--frames",
        type=int,
        default=0,
        metavar="SHORT_SIDE",
        help="decode every clip into OUT/JPEGImages/<clip>/ at this short side instead of linking",
    )
    p.add_argument("--workers", type=int, default=8, help="decoding processes for --frames")
    args = p.parse_args(argv)
    videos = args.out / ("JPEGImages" if args.frames else "videos")
    videos.mkdir(parents=True, exist_ok=True)
    rows, total, jobs = [], 0, []
    for source in args.sources:
        source = source.resolve()
        licences = licence_lines(source / "README.md")
        for path in sorted(source.rglob("*")):
            if path.suffix.lower() not in VIDEO_EXTENSIONS or not path.is_file():
                continue
            relative = path.relative_to(source)
            if evaluation_footage(relative) or set(relative.parts) & set(args.exclude):
                print(f"skipped (evaluation only or excluded): {path}")
                continue
            folder = relative.parts[0]
            licence = licences.get(folder, "see the source README")
            if args.frames:
                clip = "__".join(relative.parts).rsplit(".", 1)[0]
                jobs.append(((path, videos / clip, args.frames), folder, licence))
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
            rows.append((link.name, frames, folder, licence))
            total += frames
    decode_jobs = [job for job, _, _ in jobs]
    if args.workers > 1 and len(decode_jobs) > 1:
        with ProcessPoolExecutor(args.workers) as pool:
            results = list(pool.map(_decode_job, decode_jobs))
    else:
        results = [_decode_job(job) for job in decode_jobs]
    for (job, folder, licence), frames in zip(jobs, results):
        if isinstance(frames, str):
            print(f"skipped: {frames}")
            continue
        rows.append((job[1].name, frames, folder, licence))
        total += frames
    how = f"decoded at short side {args.frames}" if args.frames else "linked"
    lines = [
        "# Real-video training corpus",
        "",
        f"{len(rows)} clips, {total} frames, {how} from {', '.join(map(str, args.sources))}.",
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
