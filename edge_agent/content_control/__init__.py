"""The store's control over the kiosk's content: staff switch items of the pack in use on and off, reorder them,
limit them to today or to a day, give them a manager's schedule, reset to the pack and undo; and preview it.

- :mod:`.config`: the agent's ``[content]`` section (the pack folder it shares with the kiosk);
- :mod:`.overlay`: the changes in SQLite, by pack id and item id, with the undo history and the items a
  newer version of the pack dropped;
- :mod:`.schedule`: the rules that make the effective schedule (the retained ``content-schedule``) and decide
  what shows at a moment (the preview);
- :mod:`.preview`: which packs can be previewed (the one in use; staged packs later);
- :mod:`.service`: the requests, the retained topic and the pack checked for new versions.

This package imports only :mod:`.config` from here, so the agent's configuration can name it.
"""
