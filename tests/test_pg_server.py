"""The PostgreSQL server the tests start themselves: it answers, on loopback, with a password."""

from __future__ import annotations

from pg_server import PostgresServer


def test_the_server_answers_on_loopback_with_a_password(pg_server: PostgresServer) -> None:
    assert pg_server.sql("SELECT 1 + 1").strip() == "2"
    assert pg_server.sql("SHOW listen_addresses").strip() == "127.0.0.1"
    assert pg_server.sql("SELECT current_setting('password_encryption')").strip()
    assert pg_server.password in pg_server.url()
