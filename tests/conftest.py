"""One rule for the whole suite: a test that starts a process through the
harness (harness/servers.py) is marked `slow`, so `pytest -m "not
slow"` (make check) runs everything else in under a minute."""

import pytest

from harness import servers


@pytest.fixture(autouse=True)
def unmarked_tests_start_no_server(request, monkeypatch):
    if request.node.get_closest_marker("slow") is not None:
        return

    def refuse(command, *args, **kwargs):
        raise RuntimeError(
            f"{request.node.nodeid} starts {command[0]}: mark it @pytest.mark.slow"
        )

    monkeypatch.setattr(servers, "started", refuse)
