"""Sharing a running chat with other terminals of the same user, or over a bus with anyone who
reaches it (``groupchat join``).

The process that runs a chat listens on a Unix domain socket in a private folder
(:mod:`.paths`); another terminal connects, reads the conversation as canonical event lines and
speaks as one of the team's people, whose seat it claims (:mod:`groupchat.tui.claims`). The
wire format is in :mod:`.protocol`, the listening side in :mod:`.server`, the joining side in
:mod:`.client` and its console in :mod:`.join`; what one joined terminal does in the chat is
:mod:`.seat_session`'s. A chat on a bus is joined over it: :mod:`.bus_client` reads the chat's
stream and sends the same protocol lines to the chat's process, where :mod:`.desk` answers them.
"""
