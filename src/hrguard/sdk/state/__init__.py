"""The one state store: what a detector carries from chunk to chunk, and how it saves itself.

A detector sees events chunk by chunk — thousands at a time in a batch scan, one at a time in a
stream — and carries what it learnt in *stores*. There are two shapes of per-key state and one
append-only column, all saveable the same way:

- :class:`Latest`: the latest values of each ``int64`` key, looked up *as of* a position in the one
  order of events (a chunk's own earlier updates first, then the carried state). The store for
  "the customer's registered location", "the request's customer", "the employee's role".
- :class:`Rows`: every row ever added under each key (a multimap), found for many keys at once.
  The store for "the follow-ups of this employee on this day".
- :class:`Column`: an append-only typed column (``GrowBuf`` in 0.1), e.g. a log that a
  :class:`Latest` field points into.

Every store is fast for both kinds of chunk in one code path: the carried state lives in sorted
numpy arrays (a batch chunk costs a few vectorised passes, never Python work per key), and small
commits and look-ups (a stream's one event) go through a dict of recent updates and a pure-Python
path *inside the store*, so a detector never needs a second, scalar copy of its rule.

Saving: :meth:`Store.state_dict` returns plain numpy arrays and JSON values (never pickle), and
:meth:`Store.load_state_dict` restores them. :class:`Stateful` finds the stores of an object the
way ``torch.nn.Module`` finds its parameters — by walking its attributes — plus the plain values it
declares in ``carried``; :class:`hrguard.Detector` is :class:`Stateful`, so every detector, built-in
or plugin, can be checkpointed with no code of its own. :func:`dumps_state` / :func:`loads_state`
turn a state dict into bytes (an ``.npz`` archive with ``allow_pickle=False`` and one JSON member);
:func:`loads_state` reads untrusted bytes: anything it cannot read, or over :data:`MAX_STATE_BYTES`, is a
:class:`StateError`.
"""


from __future__ import annotations

from ...errors import StateError
from ._arrays import last_per_key
from ._bytes import MAX_STATE_BYTES, dumps_state, loads_state
from ._column import Column, keep_spans
from ._latest import Latest
from ._rows import Rows
from ._stateful import Stateful, Store

__all__ = [
    "Column",
    "Latest",
    "MAX_STATE_BYTES",
    "Rows",
    "StateError",
    "Stateful",
    "Store",
    "dumps_state",
    "keep_spans",
    "last_per_key",
    "loads_state",
]
