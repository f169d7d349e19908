"""Post grades from a JupyterHub notebook to the LMS gradebook through ltilaunch.

Inside a notebook server started by ltilaunch::

    from ltilaunch_scores import post_score
    post_score(8, 10, assignment="hw1")

The scores API checks the server's own ``JUPYTERHUB_API_TOKEN``; the hub's
spawner sets ``LTILAUNCH_SCORES_URL`` to the API's address.
"""
from .client import (
    ACTIVITY_PROGRESS,
    GRADING_PROGRESS,
    ScoreFailed,
    ScoresClient,
    ScoresError,
    post_score,
    score_status,
)

__all__ = [
    "ACTIVITY_PROGRESS",
    "GRADING_PROGRESS",
    "ScoreFailed",
    "ScoresClient",
    "ScoresError",
    "post_score",
    "score_status",
]
__version__ = "0.1.0"
