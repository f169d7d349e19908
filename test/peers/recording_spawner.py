"""A spawner for the end-to-end tests: DockerSpawner's image choice, a local server.

This machine runs no containers, so the tests' hub cannot use DockerSpawner
itself. RecordingSpawner takes ``user_options['image']`` exactly the way
DockerSpawner does (``allowed_images``: a list, a dict of alias -> image, a
callable returning either, or ``"*"``; empty means no choice is allowed;
anything else is refused with HTTP 400 and the same message), records the
image it would run, and then starts a real single-user server as
SimpleLocalProcessSpawner does.

The record, one JSON file per user and server in ``record_dir``, holds the
user, the server name, the image asked for, the image resolved, the
user_options and the time; the server's environment gets ``JUPYTER_IMAGE``
(as KubeSpawner sets it) and ``JUPYTER_IMAGE_SPEC``.

Configure it as::

    c.JupyterHub.spawner_class = 'recording_spawner.RecordingSpawner'
    c.RecordingSpawner.allowed_images = {'python': 'quay.io/jupyter/minimal-notebook:2025-01-06'}
    c.RecordingSpawner.record_dir = '/path/to/records'

with this directory on the hub's PYTHONPATH.
"""

import json
import os
import re
import time

from jupyterhub.spawner import SimpleLocalProcessSpawner
from tornado import web
from traitlets import Any, Dict, List, Unicode, Union, default, validate

import jupyterhub

_jupyterhub_xy = "%i.%i" % (jupyterhub.version_info[:2])


class RecordingSpawner(SimpleLocalProcessSpawner):
    """SimpleLocalProcessSpawner with DockerSpawner's image selection, recorded."""

    image = Unicode(
        f"quay.io/jupyterhub/singleuser:{_jupyterhub_xy}",
        config=True,
        help="The image that would run when user_options does not choose one (DockerSpawner.image).",
    )

    allowed_images = Union(
        [Any(), Dict(), List()],
        default_value={},
        config=True,
        help="""Images that users may choose with user_options['image'] (DockerSpawner.allowed_images).

        A dict maps the names users give to the images that run; a list is
        a dict of each image to itself; a callable takes the spawner and
        returns either; "*" allows any image. Empty (the default) refuses any
        choice.
        """,
    )

    record_dir = Unicode(
        "",
        config=True,
        help="Directory where each start writes <user>--<server>.json. Empty: no file.",
    )

    @validate("allowed_images")
    def _validate_allowed_images(self, proposal):
        allowed_images = proposal["value"]
        if isinstance(allowed_images, str):
            if allowed_images != "*":
                raise ValueError(
                    f"'*' (all images) is the only accepted string value for allowed_images, got {allowed_images!r}."
                    f" Use a list: `[{allowed_images!r}]` if you want to allow just one image."
                )
        elif isinstance(allowed_images, list):
            allowed_images = {item: item for item in allowed_images}
        return allowed_images

    def _get_allowed_images(self):
        if callable(self.allowed_images):
            return self._validate_allowed_images({"value": self.allowed_images(self)})
        return self.allowed_images

    async def check_allowed(self, image):
        """The image to run for a requested one, or HTTP 400 (as DockerSpawner.check_allowed)."""
        allowed_images = self._get_allowed_images()
        if allowed_images == "*":
            return image
        elif not allowed_images:
            raise web.HTTPError(400, "Specifying image to launch is not allowed")
        if image not in allowed_images:
            raise web.HTTPError(
                400,
                "Image {} not in allowed list: {}".format(image, ", ".join(allowed_images)),
            )
        return allowed_images[image]

    @default("options_from_form")
    def _default_options_from_form(self):
        def options_from_form(formdata):
            options = {}
            if "image" in formdata:
                options["image"] = formdata["image"][0]
            return options

        return options_from_form

    def _record_path(self):
        safe = lambda s: re.sub(r"[^A-Za-z0-9_.@-]", "_", s)  # noqa: E731
        return os.path.join(self.record_dir, f"{safe(self.user.name)}--{safe(self.name or '')}.json")

    def get_env(self):
        env = super().get_env()
        env["JUPYTER_IMAGE"] = self.image
        env["JUPYTER_IMAGE_SPEC"] = self.image
        return env

    async def start(self):
        requested = self.user_options.get("image")
        if requested:
            # DockerSpawner: the choice, checked and resolved, becomes self.image
            self.image = await self.check_allowed(requested)
        record = {
            "user": self.user.name,
            "server": self.name or "",
            "requested_image": requested,
            "image": self.image,
            "user_options": self.user_options,
            "admin": bool(self.user.admin),
            "groups": sorted(g.name for g in self.user.groups),
            "started_at": time.time(),
        }
        self.log.info("RecordingSpawner: %s would run image %s", self._log_name, self.image)
        if self.record_dir:
            os.makedirs(self.record_dir, exist_ok=True)
            path = self._record_path()
            tmp = path + ".tmp"
            with open(tmp, "w") as f:
                json.dump(record, f, indent=2, default=str)
            os.replace(tmp, path)
        return await super().start()
