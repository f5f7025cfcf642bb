from sssctl.config.lines import LineIndex, split_key
from sssctl.config.validate import render_path

TEXT = """version = 1
[server_profiles.custom."Contoso EXO (own app)"]
type = "exchange_online"

[app_registrations.sss]
credential = { type = "client_secret", rotate_days = 0 }
  'quoted key' = 1
site."dotted.key" = 2
"""


def test_keys_map_to_their_lines_and_inline_tables_to_the_owner() -> None:
    index = LineIndex(TEXT)
    assert index.line_of(["version"]) == 1
    assert index.line_of(["server_profiles", "custom", "Contoso EXO (own app)", "type"]) == 3
    assert index.line_of(["app_registrations", "sss", "credential", "rotate_days"]) == 6
    assert index.line_of(["app_registrations", "sss", "quoted key"]) == 7
    assert index.line_of(["app_registrations", "sss", "site", "dotted.key"]) == 8
    assert index.line_of(["app_registrations", "sss", "display_name"]) == 5  # nearest declared ancestor
    assert index.line_of(["nowhere"]) is None


def test_lines_inside_multiline_strings_are_not_keys() -> None:
    text = 'version = 1\nnote = """\nfake = 1\n"""\n[mailboxes]\nfake = 2\n'
    assert LineIndex(text).line_of(["fake"]) is None
    assert LineIndex(text).line_of(["mailboxes", "fake"]) == 6


def test_split_and_render_round_trip() -> None:
    path = split_key('server_profiles.custom."Contoso EXO (own app)"')
    assert path == ("server_profiles", "custom", "Contoso EXO (own app)")
    rendered = render_path([*path, "app_registration"])
    assert rendered == 'server_profiles.custom."Contoso EXO (own app)".app_registration'
    assert render_path(["mailboxes", "exclude", "[0]"]) == "mailboxes.exclude[0]"
    assert split_key("a..b") == ()
