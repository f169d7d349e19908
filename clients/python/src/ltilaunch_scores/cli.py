"""ltilaunch-score: post a grade from a notebook's terminal (or a grading script)."""
import argparse
import json
import sys

from .client import ACTIVITY_PROGRESS, GRADING_PROGRESS, ScoresClient, ScoresError


def _parser():
    parser = argparse.ArgumentParser(
        prog="ltilaunch-score",
        description="Post a score to the LMS gradebook through ltilaunch (reads LTILAUNCH_SCORES_URL and JUPYTERHUB_API_TOKEN).",
        epilog="examples: ltilaunch-score 8 10 --assignment hw1 | ltilaunch-score 7.5 10 --user ada --assignment hw1 --wait | ltilaunch-score --status ID",
    )
    parser.add_argument("score", nargs="?", type=float, help="the score given")
    parser.add_argument("maximum", nargs="?", type=float, help="the most that can be scored (greater than 0)")
    parser.add_argument("--assignment", help="the gradebook column (one per name); default: the launch's own column")
    parser.add_argument("--comment", help="a comment for the learner")
    parser.add_argument("--user", help="staff only: the hub user the score is for")
    parser.add_argument("--activity-progress", default="Completed", choices=ACTIVITY_PROGRESS)
    parser.add_argument("--grading-progress", default="FullyGraded", choices=GRADING_PROGRESS)
    parser.add_argument("--wait", action="store_true", help="wait until the platform took the score (or refused it)")
    parser.add_argument("--course", help="the course (context id); needed only from a hub's default server")
    parser.add_argument("--status", metavar="ID", help="print the state of a posted score instead")
    parser.add_argument("--sync-roster", action="store_true", help="staff only: sync the course roster into the hub now")
    return parser


def _plain(value):
    # 8.0 -> 8: a whole score is sent as an integer, as a person typed it.
    return int(value) if value is not None and float(value).is_integer() else value


def main(argv=None):
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        client = ScoresClient()
        if args.sync_roster:
            record = client.sync_roster(course=args.course)
        elif args.status is not None:
            record = client.score_status(args.status)
        else:
            if args.score is None or args.maximum is None:
                parser.error("give the score and the maximum (ltilaunch-score 8 10), or --status ID")
            record = client.post_score(
                _plain(args.score),
                _plain(args.maximum),
                assignment=args.assignment,
                comment=args.comment,
                user=args.user,
                activity_progress=args.activity_progress,
                grading_progress=args.grading_progress,
                wait=args.wait,
                course=args.course,
            )
    except ScoresError as err:
        print(f"ltilaunch-score: {err}", file=sys.stderr)
        return 1
    except ValueError as err:
        print(f"ltilaunch-score: {err}", file=sys.stderr)
        return 2
    print(json.dumps(record, indent=2, sort_keys=True))
    return 0 if record.get("state") != "failed" else 1
