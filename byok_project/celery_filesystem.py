"""kombu's filesystem transport (the embedded broker), with each message written whole before a consumer can see it.

kombu 5.7 creates a message's file under its final name, then writes it; a worker polling at that moment moves the
still-empty file, reads nothing and stops ("Unrecoverable error: JSONDecodeError"), seen once under two test
processes. Here the message is written under a name no consumer matches (`….msg.part`) and renamed into place,
which is atomic on one file system. byok_project/celery.py makes it what `filesystem://` names."""

import os
import uuid
from time import monotonic

from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps


class Channel(filesystem.Channel):
    def _put(self, queue, payload, **kwargs):
        final = os.path.join(self.data_folder_out, f"{round(monotonic() * 1000)}_{uuid.uuid4()}.{queue}.msg")
        partial = f"{final}.part"
        try:
            with open(partial, "wb") as file:
                file.write(str_to_bytes(dumps(payload)))
            os.replace(partial, final)
        except OSError as exc:
            raise ChannelError(f"Cannot add file {final!r} to directory") from exc


class Transport(filesystem.Transport):
    Channel = Channel
