"""The application: the ``groupchat`` command, building chats from team specs, the demo teams.

This is the composition root, the one part that may import every other (the core, the agents,
the transcripts and the front-ends); nothing else imports it, except ``TeamSpec.build()``,
which hands its spec to :func:`groupchat.app.build.build_chat`. The modules import what they
use, so importing one of them loads no front-end it does not need.
"""
