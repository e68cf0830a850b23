"""The embedded broker (`filesystem://`, byok_project/celery_filesystem.py) shows a worker a message only once it is
written whole: kombu's own transport created the file first, and a worker polling in between read it empty and
stopped."""

import os
from pathlib import Path

from kombu import Connection


def test_a_message_is_seen_only_once_it_is_written_whole(tmp_path, monkeypatch):
    folders = {name: str(tmp_path / name) for name in ("queue", "control", "processed")}
    for folder in folders.values():
        os.mkdir(folder)
    queue_folder = Path(folders["queue"])
    seen_as_it_lands = []  # at the rename that makes the message visible: what a worker could see, and what lands
    replace = os.replace

    def replace_and_look(source, destination):
        seen_as_it_lands.append(([name for name in os.listdir(queue_folder) if name.endswith(".msg")],
                                 Path(source).read_bytes() != b""))
        replace(source, destination)

    monkeypatch.setattr(os, "replace", replace_and_look)
    options = {"data_folder_in": folders["queue"], "data_folder_out": folders["queue"],
               "control_folder": folders["control"], "processed_folder": folders["processed"]}
    with Connection("filesystem://", transport_options=options) as connection:
        queue = connection.SimpleQueue("byok-test")
        queue.put({"n": 1})
        message = queue.get(timeout=2)
        message.ack()
        queue.close()
    assert message.payload == {"n": 1}
    assert seen_as_it_lands == [([], True)]
