"""``auth check``'s table: what the service said is never hidden behind the remedy."""

from __future__ import annotations

from sssctl.clients.probe import Check, Report


def test_a_failed_check_shows_the_services_words_then_the_remedy_wrapped_to_the_width() -> None:
    report = Report([
        Check("sign in", "error", "sign-in failed: the client secret is wrong [AADSTS7000215]: "
              "Invalid client secret provided.", "check that the secret reference holds the secret VALUE"),
        Check("prvReadMailbox", "ok", "read mailboxes"),
    ])
    wide = report.render(columns=1000)
    assert "[AADSTS7000215]" in wide and "-> check that the secret reference holds the secret VALUE" in wide
    narrow = report.render(columns=70).splitlines()
    assert max(len(line) for line in narrow) <= 70
    first = next(i for i, line in enumerate(narrow) if line.startswith("sign in"))
    column = narrow[first].index("sign-in failed")
    assert narrow[first + 1].startswith(" " * column) and narrow[first + 1][column] != " "  # continued
    assert "AADSTS7000215" in " ".join(narrow)
