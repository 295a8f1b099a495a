"""The sandbox: a local CodeOcean API, S3 server and DocDB API loaded from a world file.

Install from a clone with ``pip install '.[sandbox]'``. Start one with
:class:`Sandbox`; the pytest fixtures ``aind_sandbox`` and ``aind_sandbox_session``
come with the package as a pytest plugin.
"""

from aind_session.testing.sandbox import FAULT_KINDS, Faults, Request, Sandbox
from aind_session.testing.world import World, WorldError, load_world

__all__ = ["FAULT_KINDS", "Faults", "Request", "Sandbox", "World", "WorldError", "load_world"]
