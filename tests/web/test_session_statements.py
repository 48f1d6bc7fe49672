"""What an authenticated request costs the database: its session and its user are read in one
statement, and an unchanged session is neither read again nor written on the way out. Nothing
about sessions is remembered between requests, so a session ended or a user deactivated by any
process (the command line included) is refused at the very next request."""

from contextlib import contextmanager

from sqlalchemy import event, update

from coordinator.models import User


@contextmanager
def statements_on(engine):  # noqa: ANN001, ANN201
    """The SQL statements sent through ``engine`` inside the block."""
    sent: list[str] = []

    def record(_conn, _cursor, statement, _parameters, _context, _many) -> None:  # noqa: ANN001
        sent.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", record)


async def test_a_request_reads_its_session_with_its_user_in_one_statement_and_writes_nothing(app, client_for, people):
    client = await client_for("pc")
    with statements_on(app.state.engine) as sent:
        assert (await client.get("/api/me")).json()["username"] == "pc"
    assert len(sent) == 1, sent
    assert "web_sessions" in sent[0] and "users" in sent[0]


async def test_a_user_deactivated_behind_the_servers_back_is_refused_at_the_next_request(client_for, people,
                                                                                         sessionmaker):
    client = await client_for("pc")
    assert (await client.get("/api/me")).status_code == 200
    async with sessionmaker() as db:  # as the command line, or another process, would: no announcement
        await db.execute(update(User).where(User.username == "pc").values(active=False))
        await db.commit()
    refused = await client.get("/api/me")
    assert refused.status_code == 401 and "no longer active" in refused.json()["detail"]
